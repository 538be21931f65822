"""Real photographs that ship inside scikit-image, encoded the way a client would send them
(shared by the tests and the benchmarks)."""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image
from skimage import data


@cache
def photo(name: str = "astronaut", size: int | None = None) -> np.ndarray:
    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    image = np.ascontiguousarray(image[..., :3])
    if size is not None:
        image = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.LANCZOS))
    return image


def encode(image: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, fmt, **options)
    return buffer.getvalue()


def photo_bytes(name: str = "astronaut", size: int | None = 64, fmt: str = "PNG") -> bytes:
    return encode(photo(name, size), fmt)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
