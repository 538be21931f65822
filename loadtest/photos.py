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


def distinct(image: np.ndarray, count: int, start: int = 0) -> list[bytes]:
    """`count` PNG files of `image`, one pixel different in each: a customer's next photo is
    a new file (the dispatcher keeps photos it decoded lately by their bytes, and the
    Segmenter its embeddings by their pixels). Another `start` gives other files."""
    files = []
    for index in range(start, start + count):
        changed = image.copy()
        column = (index // 255) % image.shape[1]
        changed[0, column] = (int(changed[0, column, 0]) + 1 + index % 255) % 256
        files.append(encode(changed))
    return files


def photo_bytes(name: str = "astronaut", size: int | None = 64, fmt: str = "PNG") -> bytes:
    return encode(photo(name, size), fmt)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def grace_hopper() -> np.ndarray | None:
    """The portrait matplotlib ships as sample data (a real photograph with a face)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    return np.asarray(Image.open(path).convert("RGB")) if path.exists() else None


def face_photos() -> dict[str, tuple[np.ndarray, int]]:
    """Real photos with faces, and harder versions of them: name -> (image, faces in it)."""
    astronaut = photo("astronaut")
    camera = photo("camera")
    photos = {"astronaut": (astronaut, 1), "cameraman": (camera, 1)}
    hopper = grace_hopper()
    if hopper is not None:
        photos["grace_hopper"] = (hopper, 1)
    small = np.asarray(Image.fromarray(astronaut).resize((160, 160), Image.Resampling.LANCZOS))
    photos["small (astronaut at 160 px, face ~35 px)"] = (small, 1)
    turned = np.asarray(Image.fromarray(astronaut).rotate(25, resample=Image.Resampling.BICUBIC))
    photos["turned 25 degrees in plane"] = (turned, 1)
    covered = astronaut.copy()
    covered[165:215, 150:230] = 20  # a dark band over the mouth and chin
    photos["partly covered (mouth)"] = (covered, 1)
    group = [astronaut, camera] + ([hopper] if hopper is not None else [])
    tiles = [
        np.asarray(Image.fromarray(p).resize((400, 400 * p.shape[0] // p.shape[1]))) for p in group
    ]
    height = max(t.shape[0] for t in tiles)
    row = np.full((height, sum(t.shape[1] for t in tiles), 3), 255, np.uint8)
    x = 0
    for t in tiles:
        row[: t.shape[0], x : x + t.shape[1]] = t
        x += t.shape[1]
    photos[f"group of {len(tiles)}"] = (row, len(tiles))
    return photos
