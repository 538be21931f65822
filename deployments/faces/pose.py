"""A face's pose and width from its 68 landmarks, and the checks styling tasks make before
they run (Perfect Corp's limits: one face, |pitch| < 10°, |yaw| < 45°, |roll| < 15°, a face
at least 128 px wide, a long side of at most 1024 px), each failing with Perfect's code.

Pose: the 6 classic points (nose tip, chin, outer eye corners, mouth corners) fitted to a
generic 3D face (cv2.solvePnP, a pinhole camera whose focal length is the image width);
roll is the eye line's angle, which needs no model. Signs: yaw > 0 turns the face to the
image's right, pitch > 0 tilts the chin up, roll > 0 turns the eye line clockwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deployments.common.lazy import cv2

# generic face, millimetres, nose tip at the origin (x right, y up, z toward the camera)
MODEL_3D = np.array(
    [
        (0.0, 0.0, 0.0),  # 30 nose tip
        (0.0, -63.6, -12.5),  # 8 chin
        (-43.3, 32.7, -26.0),  # 36 left eye, outer corner (image left)
        (43.3, 32.7, -26.0),  # 45 right eye, outer corner
        (-28.9, -28.9, -24.1),  # 48 mouth, left corner
        (28.9, -28.9, -24.1),  # 54 mouth, right corner
    ],
    np.float64,
)
POINTS = [30, 8, 36, 45, 48, 54]
LIMITS = {"pitch": 10.0, "yaw": 45.0, "roll": 15.0}  # degrees, exclusive
MIN_FACE_WIDTH = 128
MAX_LONG_SIDE = 1024


@dataclass(frozen=True)
class Pose:
    yaw: float
    pitch: float
    roll: float


class FaceCheckFailed(ValueError):
    """A photo a styling task cannot take; `code` is Perfect's."""

    def __init__(self, code: str, detail: str):
        super().__init__(code, detail)  # both in args: it crosses Ray's pickling whole
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


def roll(shape: np.ndarray) -> float:
    left, right = shape[36:42].mean(0), shape[42:48].mean(0)
    return math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))


def width(shape: np.ndarray) -> float:
    """Jaw to jaw (points 0 and 16): the face's width in pixels."""
    return float(np.linalg.norm(shape[16] - shape[0]))


def pose(shape: np.ndarray, size: tuple[int, int]) -> Pose:
    """Yaw and pitch from the 3D fit, roll from the eyes; `size` is (width, height)."""
    focal = float(size[0])
    camera = np.array([[focal, 0, size[0] / 2], [0, focal, size[1] / 2], [0, 0, 1]], np.float64)
    image = shape[POINTS].astype(np.float64)
    # image y grows downward: the model's y is flipped so "up" agrees
    model = MODEL_3D * np.array([1.0, -1.0, 1.0])
    found, rotation, _ = cv2.solvePnP(model, image, camera, None, flags=cv2.SOLVEPNP_ITERATIVE)
    if not found:
        raise FaceCheckFailed("error_pose", "The face's pose could not be found.")
    matrix, _ = cv2.Rodrigues(rotation)
    yaw = math.degrees(math.asin(float(np.clip(-matrix[2, 0], -1, 1))))
    pitch = math.degrees(math.atan2(matrix[2, 1], matrix[2, 2]))
    return Pose(yaw, _fold(pitch), roll(shape))


def _fold(angle: float) -> float:
    """A pitch near ±180 (the model seen from behind) is a small tilt the other way."""
    return angle - 180.0 if angle > 90 else angle + 180.0 if angle < -90 else angle


def check(faces: list, size: tuple[int, int], single: bool = True) -> Pose:
    """The one face a styling task works on, or FaceCheckFailed with Perfect's code."""
    if max(size) > MAX_LONG_SIDE:
        raise FaceCheckFailed(
            "invalid_parameter", f"The long side is {max(size)} px; at most {MAX_LONG_SIDE}."
        )
    if not faces:
        raise FaceCheckFailed("error_no_face", "No face was found in the photo.")
    if single and len(faces) > 1:
        raise FaceCheckFailed("error_multiple_people", f"{len(faces)} faces were found; one only.")
    face = faces[0]
    if width(face.shape) < MIN_FACE_WIDTH:
        raise FaceCheckFailed(
            "invalid_parameter",
            f"The face is {width(face.shape):.0f} px wide; at least {MIN_FACE_WIDTH}.",
        )
    found = pose(face.shape, size)
    for axis, limit in LIMITS.items():
        if abs(getattr(found, axis)) >= limit:
            angle = getattr(found, axis)
            raise FaceCheckFailed(
                "error_large_face_angle",
                f"The face's {axis} is {angle:.0f}°; it must be within ±{limit:.0f}°.",
            )
    return found
