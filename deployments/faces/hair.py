"""Where a face-styling task may paint, in the photo's pixels: the face is aligned to the 512²
FFHQ crop, parsed (parsing_network.py), and the task's region taken back through the inverse
warp, then grown by the task's margin (relative to the face: the same on a small or a large
face).

Task regions: hair for the hairstyle, wig, extension and volume tasks (extension and volume
grown further, where new hair goes); hair plus the forehead (skin above the brows) for bangs;
face and hair for aging; skin, lips, brows and eyes for makeup transfer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deployments.common.lazy import cv2
from deployments.faces import facelib, parsing_network


@dataclass(frozen=True)
class Region:
    parts: tuple[str, ...] = ("hair",)  # parsing_network.REGIONS names
    forehead: bool = False  # bangs: the skin above the brows too
    grow: float = 0.08  # margin, as a fraction of the aligned face's 512 px


FACE = ("skin", "lips", "brows", "eyes")
REGIONS = {
    "hair-style": Region(grow=0.10),
    "wig": Region(grow=0.12),
    "hair-extension": Region(grow=0.25),
    "hair-bang": Region(forehead=True, grow=0.05),
    "hair-volume": Region(grow=0.15),
    "aging": Region(parts=("hair", *FACE), grow=0.02),
    "makeup-transfer": Region(parts=FACE, grow=0.0),
}


def forehead(labels: np.ndarray) -> np.ndarray:
    """Skin rows above the brows (the aligned face's), where bangs fall."""
    regions = parsing_network.regions(labels)
    rows = np.nonzero(regions["brows"].any(axis=1))[0]
    top = int(rows.min()) if rows.size else facelib.FACE_SIZE // 2
    above = np.zeros(labels.shape, bool)
    above[:top] = True
    return regions["skin"] & above


def aligned_region(labels: np.ndarray, region: Region) -> np.ndarray:
    found = parsing_network.regions(labels)
    mask = np.logical_or.reduce([found[part] for part in region.parts])
    if region.forehead:
        mask = mask | forehead(labels)
    return parsing_network.grow(mask, round(region.grow * facelib.FACE_SIZE))


def to_photo(mask: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An aligned-space mask in the photo's pixels (`size` = width, height)."""
    inverse = cv2.invertAffineTransform(matrix)
    warped = cv2.warpAffine(mask.astype(np.uint8) * 255, inverse, size, flags=cv2.INTER_LINEAR)
    return warped >= 128


def region(detector, network, image: np.ndarray, task: str) -> np.ndarray:
    """The photo's pixels `task` may paint, after the face checks (pose.check raises
    FaceCheckFailed with Perfect's code)."""
    from deployments.faces import pose

    size = (image.shape[1], image.shape[0])
    faces = detector.detect(image, max_faces=2)
    pose.check(faces, size, single=True)
    matrix = facelib.alignment(faces[0].landmarks)
    labels = parsing_network.parse(network, facelib.align(image, matrix)[None])[0]
    return to_photo(aligned_region(labels, REGIONS[task]), matrix, size)
