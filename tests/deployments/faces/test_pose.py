"""Pose, width and the styling tasks' face checks on real photographs (skimage's astronaut,
matplotlib's Grace Hopper) with dlib's real detector and landmarks: roll follows a rotation,
yaw changes sign in a mirror, and each refusal carries Perfect Corp's code."""

from __future__ import annotations

import numpy as np
import pytest

from deployments.common.lazy import cv2
from deployments.faces import pose
from deployments.faces.facelib import DlibDetector
from loadtest.photos import grace_hopper, photo


@pytest.fixture(scope="module")
def detector():
    return DlibDetector()


@pytest.fixture(scope="module")
def hopper():
    found = grace_hopper()
    if found is None:
        pytest.skip("matplotlib's sample portrait is not installed")
    return found


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def pose_of(detector, image: np.ndarray) -> pose.Pose:
    (face,) = detector.detect(image)
    return pose.pose(face.shape, (image.shape[1], image.shape[0]))


@pytest.mark.parametrize("degrees", [8, 25])
def test_roll_follows_a_rotation_of_the_photo(detector, hopper, degrees):
    upright = pose_of(detector, hopper)
    turned = pose_of(detector, rotated(hopper, degrees))
    # cv2 turns counter-clockwise for positive angles: the eye line turns the other way
    assert abs((upright.roll - turned.roll) - degrees) < 3


@pytest.mark.parametrize("name", ["astronaut", "hopper"])
def test_a_mirror_turns_the_yaw_the_other_way_and_keeps_the_pitch(detector, hopper, name):
    image = hopper if name == "hopper" else photo("astronaut")
    straight = pose_of(detector, image)
    mirrored = pose_of(detector, np.ascontiguousarray(image[:, ::-1]))
    assert abs(straight.yaw + mirrored.yaw) < 4 and abs(straight.roll + mirrored.roll) < 2
    assert abs(straight.pitch - mirrored.pitch) < 3


def test_the_width_scales_with_the_photo(detector, hopper):
    (face,) = detector.detect(hopper)
    half = cv2.resize(hopper, (hopper.shape[1] // 2, hopper.shape[0] // 2))
    (small,) = detector.detect(half)
    assert abs(pose.width(small.shape) * 2 / pose.width(face.shape) - 1) < 0.08


def check(detector, image, single=True):
    return pose.check(detector.detect(image), (image.shape[1], image.shape[0]), single)


def test_an_upright_portrait_passes(detector, hopper):
    found = check(detector, hopper)
    assert abs(found.roll) < 15 and abs(found.yaw) < 45


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda h: photo("coffee"), "error_no_face"),
        (lambda h: np.concatenate([h, h[:, ::-1]], axis=1)[:, 150:-150], "error_multiple_people"),
        (lambda h: rotated(h, 25), "error_large_face_angle"),
        (lambda h: cv2.resize(h, (h.shape[1] // 3, h.shape[0] // 3)), "invalid_parameter"),
        (lambda h: cv2.resize(h, (h.shape[1] * 2, h.shape[0] * 2)), "invalid_parameter"),
    ],
)
def test_each_refusal_has_perfects_code(detector, hopper, make, code):
    with pytest.raises(pose.FaceCheckFailed) as failed:
        check(detector, np.ascontiguousarray(make(hopper)))
    assert failed.value.code == code and failed.value.detail


def test_several_faces_pass_where_the_task_takes_several(detector, hopper):
    pair = np.ascontiguousarray(np.concatenate([hopper, hopper[:, ::-1]], axis=1)[:, 150:-150])
    assert check(detector, pair, single=False) is not None
