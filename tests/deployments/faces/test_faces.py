"""Face detection on real photos, alignment and paste-back, and the GFPGAN fixture."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from PIL import Image

from deployments.common.device import plan
from deployments.faces import facelib
from deployments.faces import restoration as face_restore
from loadtest.photos import face_photos, photo, psnr


@pytest.fixture(scope="module")
def detector():
    return facelib.DlibDetector()


@pytest.mark.parametrize(
    "name",
    [
        "astronaut",
        "grace_hopper",
        "small (astronaut at 160 px, face ~35 px)",
        "turned 25 degrees in plane",
        "partly covered (mouth)",
        "group of 3",
    ],
)
def test_detects_the_faces_in_real_photos(detector, name):
    photos = face_photos()
    if name not in photos:
        pytest.skip("matplotlib's sample photo is not installed")
    image, expected = photos[name]
    assert len(detector.detect(image)) == expected


def test_landmarks_sit_where_the_template_expects(detector):
    (face,) = detector.detect(photo("astronaut"))
    left_eye, right_eye, nose, mouth_left, mouth_right = face.landmarks
    x0, y0, x1, y1 = face.box
    assert x0 < left_eye[0] < right_eye[0] < x1
    assert left_eye[1] < nose[1] < mouth_left[1] < y1 and y0 < left_eye[1]
    assert mouth_left[0] < nose[0] < mouth_right[0]
    aligned = facelib.align(photo("astronaut"), facelib.alignment(face.landmarks))
    assert aligned.shape == (512, 512, 3)


def test_max_faces_keeps_the_largest(detector):
    image, _ = face_photos()["group of 3"]
    found = detector.detect(image, max_faces=2)
    assert len(found) == 2 and found[0].area >= found[1].area


def smooth_pattern(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = [128 + 100 * np.sin(x / 23 + c) * np.cos(y / 31 - c) for c in range(3)]
    return np.clip(np.dstack(channels), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("scale", [1, 2])
def test_align_then_inverse_warp_returns_the_pattern(scale):
    image = smooth_pattern(300, 300)
    landmarks = facelib.TEMPLATE * 0.4 + np.array([60, 50], np.float32)  # a small face
    matrix = facelib.alignment(landmarks)
    aligned = facelib.align(image, matrix)
    background = np.asarray(Image.fromarray(image).resize((300 * scale,) * 2)).copy()
    original = background.copy()
    facelib.paste(background, aligned, facelib.inverse_for_output(matrix, scale), scale, 1.0)
    changed = np.any(background != original, axis=2)
    assert changed.sum() > 1000  # the face region was written...
    assert psnr(background[changed], original[changed]) > 30  # ...with the same pattern


def test_paste_leaves_everything_outside_the_mask_alone():
    background = smooth_pattern(400, 400)
    original = background.copy()
    landmarks = facelib.TEMPLATE * 0.3 + np.array([100, 120], np.float32)
    matrix = facelib.alignment(landmarks)
    face = np.full((512, 512, 3), 255, np.uint8)
    facelib.paste(background, face, facelib.inverse_for_output(matrix, 1), 1, 1.0)
    inverse = facelib.inverse_for_output(matrix, 1)
    corners = np.array([[0, 0, 1], [512, 512, 1]]) @ inverse.T
    (x0, y0), (x1, y1) = np.floor(corners.min(0)).astype(int), np.ceil(corners.max(0)).astype(int)
    outside = np.ones(background.shape[:2], bool)
    outside[max(0, y0) : y1 + 1, max(0, x0) : x1 + 1] = False
    assert np.array_equal(background[outside], original[outside])
    assert not np.array_equal(background, original)


def test_fidelity_zero_returns_the_background():
    background = smooth_pattern(200, 200)
    original = background.copy()
    matrix = facelib.alignment(facelib.TEMPLATE * 0.25 + 40)
    facelib.paste(
        background, np.zeros((512, 512, 3), np.uint8), facelib.inverse_for_output(matrix, 1), 1, 0.0
    )
    assert np.array_equal(background, original)


CPU = plan(2, 0, cuda_available=False)


@pytest.fixture(scope="module")
def gfpgan(gfpgan_fixture):
    from deployments.faces.gfpgan_network import GFPGANNetwork

    return GFPGANNetwork.load(gfpgan_fixture, CPU)


def test_gfpgan_loads_from_an_official_layout_state_dict(gfpgan):
    out = gfpgan.run([np.full((512, 512, 3), 100, np.uint8)])
    assert out[0].shape == (512, 512, 3) and out[0].dtype == np.uint8


def test_weights_stored_in_half_barely_move_a_face():
    """final_linear and the modulated convolutions kept in float16 (114 MB less resident):
    within one level of the float32 network on a real face, with weights that float16
    cannot represent exactly (random float32, as trained ones are)."""
    import copy

    import torch
    from spandrel.architectures.GFPGAN import GFPGAN

    from deployments.faces.gfpgan_network import GFPGANNetwork, store_in_half

    torch.manual_seed(3)
    plain = GFPGAN().eval()
    face = facelib.align(photo("astronaut", 512), facelib.alignment(facelib.TEMPLATE))
    expected = GFPGANNetwork(plain, CPU).run([face])[0]
    half = store_in_half(copy.deepcopy(plain))
    stored = {p.dtype for p in half.stylegan_decoder.style_convs.parameters() if p.ndim == 5}
    assert stored == {torch.float16} and half.final_linear.weight.dtype == torch.float16
    got = GFPGANNetwork(half, CPU).run([face])[0]
    difference = np.abs(got.astype(int) - expected.astype(int))
    assert difference.max() <= 1 and difference.mean() < 0.05
    assert np.abs(expected.astype(int) - face.astype(int)).mean() > 5  # the network did work


def test_loading_keeps_the_large_weights_in_half(gfpgan):
    import torch

    halves = sum(p.numel() for p in gfpgan.module.parameters() if p.dtype == torch.float16)
    buffers = gfpgan.module.final_linear.weight
    assert buffers.dtype == torch.float16 and halves > 20_000_000


def test_restore_pipeline_on_a_real_photo(detector, gfpgan):
    image = photo("astronaut", 256)
    found = detector.detect(image)
    background = np.asarray(Image.fromarray(image).resize((512, 512)))

    async def restore(crop):
        return gfpgan.run([crop])[0]

    zero = asyncio.run(face_restore.restore(image, found, background, 0.0, restore))
    full = asyncio.run(face_restore.restore(image, found, background, 1.0, restore))
    assert len(full.crops) == 1 and full.crops[0].shape == (512, 512, 3)
    assert np.array_equal(zero.image, background)  # fidelity 0: the background path's face
    changed = np.any(full.image != background, axis=2)
    (face,) = found
    x0, y0, x1, y1 = (np.array(face.box) * 2).tolist()
    assert changed[y0:y1, x0:x1].mean() > 0.5  # the face area was replaced...
    assert changed[:, :40].sum() == 0  # ...and the far left edge, nowhere near it, was not
