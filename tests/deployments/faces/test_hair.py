"""Where a hair task may paint: the parsed region grown by the task's margin, bangs taking
the forehead above the brows, and the region mapped back onto the photo through the inverse
of the face's alignment; refused photos carry Perfect Corp's codes."""

from __future__ import annotations

import numpy as np
import pytest

from deployments.common import device
from deployments.common.lazy import cv2
from deployments.faces import facelib, hair, parsing_network, pose
from loadtest.photos import grace_hopper, photo
from tests.helpers.model_fixtures import bisenet

HAIR, SKIN, BROW = (parsing_network.CLASSES.index(n) for n in ("hair", "skin", "l_brow"))


def labels() -> np.ndarray:
    """A drawn parse: hair on top, a brow line at row 200, skin below the hair."""
    drawn = np.zeros((512, 512), np.uint8)
    drawn[100:400, 100:412] = SKIN
    drawn[40:100, 100:412] = HAIR
    drawn[200:210, 150:230] = BROW
    return drawn


def test_bangs_take_the_forehead_and_the_others_do_not():
    style = hair.aligned_region(labels(), hair.Region(grow=0.0))
    bangs = hair.aligned_region(labels(), hair.Region(forehead=True, grow=0.0))
    assert style[50, 200] and not style[150, 200]
    assert bangs[150, 200] and not bangs[250, 200]  # skin above the brows only
    assert (style <= bangs).all()


def test_the_margin_grows_with_the_task():
    sizes = {task: hair.aligned_region(labels(), r).sum() for task, r in hair.REGIONS.items()}
    assert sizes["hair-extension"] > sizes["hair-volume"] > sizes["hair-style"]


def test_the_region_goes_back_through_the_inverse_of_the_alignment():
    matrix = np.array([[0.5, 0.0, 10.0], [0.0, 0.5, 20.0]])  # photo -> aligned: x/2 + 10
    aligned = np.zeros((512, 512), bool)
    aligned[110:160, 60:110] = True  # the photo's [180:280, 100:200]
    back = hair.to_photo(aligned, matrix, (400, 400))
    ys, xs = np.nonzero(back)
    assert abs(ys.min() - 180) <= 2 and abs(ys.max() - 279) <= 2
    assert abs(xs.min() - 100) <= 2 and abs(xs.max() - 199) <= 2


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory):
    path = bisenet.build(tmp_path_factory.mktemp("parser"))
    return facelib.DlibDetector(), parsing_network.load(path, device.configure(0, 0))


def test_a_portrait_gets_a_region_of_its_size(analyzer):
    portrait = grace_hopper()
    if portrait is None:
        pytest.skip("matplotlib's sample portrait is not installed")
    region = hair.region(*analyzer, portrait, "hair-style")
    assert region.shape == portrait.shape[:2] and region.dtype == bool
    assert 0 < region.mean() < 1


def turned() -> np.ndarray:
    portrait = grace_hopper()
    if portrait is None:
        pytest.skip("matplotlib's sample portrait is not installed")
    turn = cv2.getRotationMatrix2D((portrait.shape[1] / 2, portrait.shape[0] / 2), 30, 1)
    return cv2.warpAffine(portrait, turn, (portrait.shape[1], portrait.shape[0]))


@pytest.mark.parametrize(
    ("image", "code"),
    [
        (lambda: photo("coffee"), "error_no_face"),
        (turned, "error_large_face_angle"),
        (lambda: photo("astronaut"), "invalid_parameter"),  # a face 93 px wide
    ],
)
def test_refused_photos_carry_perfects_codes(analyzer, image, code):
    with pytest.raises(pose.FaceCheckFailed) as failed:
        hair.region(*analyzer, np.ascontiguousarray(image()), "hair-style")
    assert failed.value.code == code
