"""One face-restoration job: detect, align, restore (a callable, batched by the deployment),
then paste the faces back over the background at the output size."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from deployments.faces import facelib

RestoreFn = Callable[[np.ndarray], Awaitable[np.ndarray]]


@dataclass
class Restored:
    image: np.ndarray
    crops: list[np.ndarray]  # the restored 512x512 faces, largest first


def prepare(image: np.ndarray, found: list[facelib.Face]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(alignment matrix, aligned 512x512 crop) for each face."""
    prepared = []
    for face in found:
        matrix = facelib.alignment(face.landmarks)
        prepared.append((matrix, facelib.align(image, matrix)))
    return prepared


async def restore(
    image: np.ndarray,
    found: list[facelib.Face],
    background: np.ndarray,
    fidelity: float,
    restore_face: RestoreFn,
) -> Restored:
    """`background` is the input upscaled to the output size; faces are restored from the
    input itself and blended in with weight `fidelity` (0 leaves the background as it is)."""
    prepared = await asyncio.to_thread(prepare, image, found)
    crops = list(await asyncio.gather(*(restore_face(crop) for _, crop in prepared)))
    scale = background.shape[1] / image.shape[1]
    output = background.copy()

    def paste_all() -> None:
        for (matrix, _), crop in zip(prepared, crops, strict=True):
            inverse = facelib.inverse_for_output(matrix, scale)
            facelib.paste(output, crop, inverse, scale, fidelity)

    await asyncio.to_thread(paste_all)
    return Restored(output, crops)
