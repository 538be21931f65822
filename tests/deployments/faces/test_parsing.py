"""The face parser: the checkpoint layout loads strictly, aligned real faces come back as one
label per pixel, the regions the styling tasks edit are the right label sets, and masks grow
by the distance asked for."""

from __future__ import annotations

import numpy as np
import pytest

from deployments.common import device
from deployments.faces import facelib, parsing_network
from loadtest.photos import photo
from tests.helpers.model_fixtures import bisenet


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    return parsing_network.load(
        bisenet.build(tmp_path_factory.mktemp("parsing")), device.configure(0, 0)
    )


def test_the_checkpoint_loads_strictly_and_a_wrong_one_does_not(tmp_path, network):
    import torch

    assert sum(p.numel() for p in network.parameters()) == 13_300_416
    state = network.state_dict()
    state.pop("ffm.conv1.weight")
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(RuntimeError, match=r"ffm\.conv1\.weight"):
        parsing_network.load(tmp_path / "broken.pth", device.configure(0, 0))


def test_aligned_faces_get_one_label_per_pixel(network):
    image = photo("astronaut")
    (face,) = facelib.DlibDetector().detect(image)
    aligned = facelib.align(image, facelib.alignment(face.landmarks))
    labels = parsing_network.parse(network, np.stack([aligned, aligned[:, ::-1]]))
    assert labels.shape == (2, 512, 512) and labels.dtype == np.uint8
    assert labels.max() < len(parsing_network.CLASSES)
    again = parsing_network.parse(network, aligned[None])
    assert np.array_equal(again[0], labels[0])


def test_regions_are_the_label_sets_the_tasks_edit():
    labels = np.arange(19, dtype=np.uint8).repeat(2).reshape(2, 19)
    found = parsing_network.regions(labels)
    names = parsing_network.CLASSES
    assert set(found) == {"hair", "skin", "lips", "brows", "eyes", "neck"}
    assert [names[i] for i in np.unique(labels[found["lips"]])] == ["mouth", "u_lip", "l_lip"]
    assert [names[i] for i in np.unique(labels[found["hair"]])] == ["hair"]
    assert not (found["hair"] & found["skin"]).any()


def test_a_mask_grows_by_the_distance_asked_for():
    mask = np.zeros((64, 64), bool)
    mask[30:34, 30:34] = True
    grown = parsing_network.grow(mask, 5)
    rows = np.nonzero(grown.any(axis=1))[0]
    assert (rows.min(), rows.max()) == (25, 38) and grown[mask].all()
    assert np.array_equal(parsing_network.grow(mask, 0), mask)
