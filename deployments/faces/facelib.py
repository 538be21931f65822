"""Face detection, 5-point landmarks, alignment to the FFHQ template, and paste-back.

Detector: dlib's HOG frontal face detector with the 68-point shape predictor from the
`face-recognition-models` wheel (works offline; chosen by measurement, see README "Face
restoration"). The 68 points give the 5 GFPGAN was trained with: both eye centres, the nose
tip and the mouth corners. Alignment and paste-back follow GFPGAN's reference helper:
similarity transform to the 512x512 template, inverse warp, eroded and blurred mask.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deployments.common.lazy import cv2

FACE_SIZE = 512
# FFHQ 512x512: left eye, right eye, nose tip, left mouth corner, right mouth corner
TEMPLATE = np.array(
    [
        [192.98138, 239.94708],
        [318.90277, 240.1936],
        [256.63416, 314.01935],
        [201.26117, 371.41043],
        [313.08905, 371.15118],
    ],
    np.float32,
)
BORDER = (135, 133, 132)  # what the reference pads aligned crops with
PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in input pixels
    landmarks: np.ndarray  # 5 x 2, float32, template order
    shape: np.ndarray | None = None  # the 68 points (iBUG 300-W), for pose and width

    @property
    def area(self) -> int:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


def models_dir() -> Path | None:
    spec = importlib.util.find_spec("face_recognition_models")  # not imported: no pkg_resources
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def five_points(shape: np.ndarray) -> np.ndarray:
    """The template's 5 points from dlib's 68 (iBUG 300-W numbering)."""
    return np.array(
        [shape[36:42].mean(0), shape[42:48].mean(0), shape[30], shape[48], shape[54]],
        np.float32,
    )


class DlibDetector:
    def __init__(self, predictor_path: Path | None = None, max_upsample: int = 2):
        import dlib

        path = predictor_path or (models_dir() or Path(".")) / PREDICTOR_FILE
        if not Path(path).is_file():
            raise FileNotFoundError(f"dlib shape predictor not found: {path}")
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(path))
        self.max_upsample = max_upsample

    def rectangles(self, image: np.ndarray) -> list:
        """Upsample only when nothing was found: small faces are found without the false
        positives that upsampling every photo brought (loadtest/bench_faces.py)."""
        for upsample in range(self.max_upsample + 1):
            found = list(self.detector(image, upsample))
            if found:
                return found
        return []

    def detect(self, rgb: np.ndarray, max_faces: int = 10) -> list[Face]:
        """Faces, largest first, at most `max_faces`."""
        image = np.ascontiguousarray(rgb)
        faces = []
        for rect in self.rectangles(image):
            shape = self.predictor(image, rect)
            points = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
            box = (max(0, rect.left()), max(0, rect.top()), rect.right(), rect.bottom())
            faces.append(Face(box, five_points(points), points))
        return sorted(faces, key=lambda f: f.area, reverse=True)[:max_faces]


def alignment(landmarks: np.ndarray) -> np.ndarray:
    """2x3 similarity transform taking the face's 5 points onto the template."""
    matrix, _ = cv2.estimateAffinePartial2D(landmarks, TEMPLATE, method=cv2.LMEDS)
    if matrix is None:
        raise ValueError("landmarks too degenerate to align")
    return matrix


def align(rgb: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return cv2.warpAffine(
        rgb, matrix, (FACE_SIZE, FACE_SIZE), borderMode=cv2.BORDER_CONSTANT, borderValue=BORDER
    )


def inverse_for_output(matrix: np.ndarray, scale: float) -> np.ndarray:
    """Map the 512x512 face back into an output `scale` times the input's size."""
    inverse = cv2.invertAffineTransform(matrix) * scale
    if scale > 1:  # pixel centres: keep the face where the background put it
        inverse[:, 2] += 0.5 * (scale - 1)
    return inverse


def _roi(inverse: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    corners = np.array([[0, 0, 1], [FACE_SIZE, 0, 1], [0, FACE_SIZE, 1], [FACE_SIZE, FACE_SIZE, 1]])
    mapped = corners @ inverse.T
    x0, y0 = np.floor(mapped.min(0)).astype(int)
    x1, y1 = np.ceil(mapped.max(0)).astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1 + 1), min(height, y1 + 1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def soft_mask(inverse: np.ndarray, roi, scale: float) -> np.ndarray:
    """The face's footprint in the output ROI: 1 inside, eroded and feathered at the edges."""
    x0, y0, x1, y1 = roi
    shift = inverse.copy()
    shift[:, 2] -= (x0, y0)
    ones = np.ones((FACE_SIZE, FACE_SIZE), np.float32)
    mask = cv2.warpAffine(ones, shift, (x1 - x0, y1 - y0))
    erode = max(1, int(2 * scale))
    mask = cv2.erode(mask, np.ones((erode, erode), np.uint8))
    edge = int(float(mask.sum()) ** 0.5) // 20
    if edge > 0:
        mask = cv2.erode(mask, np.ones((edge * 2, edge * 2), np.uint8))
        mask = cv2.GaussianBlur(mask, (edge * 2 + 1, edge * 2 + 1), 0)
    return mask


def paste(
    background: np.ndarray, face: np.ndarray, inverse: np.ndarray, scale: float, weight: float
) -> None:
    """Blend a restored 512x512 face into `background` (in place) with `weight` 0..1.
    Pixels outside the face's feathered mask are left exactly as they were."""
    if weight <= 0:
        return
    height, width = background.shape[:2]
    roi = _roi(inverse, width, height)
    if roi is None:
        return
    x0, y0, x1, y1 = roi
    shift = inverse.copy()
    shift[:, 2] -= (x0, y0)
    warped = cv2.warpAffine(face, shift, (x1 - x0, y1 - y0)).astype(np.float32)
    alpha = (soft_mask(inverse, roi, scale) * weight)[:, :, None]
    region = background[y0:y1, x0:x1].astype(np.float32)
    blended = alpha * warped + (1 - alpha) * region
    inside = alpha[:, :, 0] > 0
    out = background[y0:y1, x0:x1]
    out[inside] = np.clip(np.rint(blended[inside]), 0, 255).astype(np.uint8)
