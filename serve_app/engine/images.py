"""Image checks and codecs.

`inspect` reads only the header (format and dimensions), so a decompression bomb is refused
before a single pixel is decoded. `decode`/`encode` run in the dispatcher, never in the
request path.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from serve_app.core.errors import CorruptImage, ImageTooLarge, InvalidFormat, PixelTooLarge

# Pillow's decoder -> our extension. BMP, TIFF (any compression Pillow reads, LZW included)
# and SGI ("rgb") arrive through PicWish, whose clients may send them; JFIF is JPEG.
FORMATS = {
    "JPEG": "jpg",
    "PNG": "png",
    "WEBP": "webp",
    "BMP": "bmp",
    "TIFF": "tif",
    "SGI": "rgb",
}
ACCEPTED = "jpg (jfif), png, webp, bmp, tiff and sgi (rgb)"
_MAGIC = (
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"BM", "bmp"),
    (b"II*\x00", "tif"),
    (b"MM\x00*", "tif"),
    (b"\x01\xda", "rgb"),
)
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
OUTPUT_FORMATS = tuple(CONTENT_TYPES)
DEFAULT_QUALITY = 92


@dataclass(frozen=True)
class ImageInfo:
    format: str  # jpg | png | webp
    width: int
    height: int

    @property
    def longest(self) -> int:
        return max(self.width, self.height)

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


def sniff(data: bytes) -> str | None:
    """The format by its magic bytes (never by a file name or a declared type)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((kind for magic, kind in _MAGIC if data.startswith(magic)), None)


def inspect(
    data: bytes, max_bytes: int, max_edge: int, formats: tuple[str, ...] | None = None
) -> ImageInfo:
    """Format and size from the header alone; `formats` narrows what a surface accepts
    (PND documents jpg/png/webp only)."""
    if len(data) > max_bytes:
        raise ImageTooLarge(f"The image is {len(data)} bytes; the limit is {max_bytes} bytes.")
    kind = sniff(data)
    if kind is None or (formats is not None and kind not in formats):
        accepted = ACCEPTED if formats is None else ", ".join(formats)
        raise InvalidFormat(f"Accepted image formats: {accepted}.")
    try:
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:
            width, height = _viewed(img)
    except Image.DecompressionBombError as exc:
        raise PixelTooLarge(f"The image is far larger than {max_edge} px on a side.") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CorruptImage(f"The {kind} header cannot be read.") from exc
    if width <= 0 or height <= 0:
        raise CorruptImage("The image has no pixels.")
    info = ImageInfo(kind, width, height)
    if info.longest > max_edge:
        raise PixelTooLarge(
            f"The image is {width}x{height}; the longest edge may be at most {max_edge} px."
        )
    return info


TURNED = {5, 6, 7, 8}  # EXIF orientations that swap width and height
HEADER_EXIF = {"JPEG", "WEBP", "TIFF"}  # formats whose EXIF comes before the pixels


def _viewed(img: Image.Image) -> tuple[int, int]:
    """The size as the photo is seen (decode() applies the EXIF orientation): plans and
    prices follow it, or a turned phone photo would be stretched to the wrong shape."""
    width, height = img.size
    if img.format not in HEADER_EXIF:  # a PNG's eXIf may follow its pixels: not read here
        return width, height
    turned = img.getexif().get(0x0112) in TURNED
    return (height, width) if turned else (width, height)


@dataclass
class Decoded:
    rgb: np.ndarray | None  # HxWx3 uint8 (None: an operation without an input photo)
    alpha: np.ndarray | None  # HxW uint8, when the image has transparency
    # the file's digest keyed with the account, when the dispatcher took one: what replicas
    # key their caches of this photo by (hashing the pixels again cost 60 ms at 12 MP)
    digest: bytes | None = None


def decode(data: bytes) -> Decoded:
    try:
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:
            # in place: a copy only when the photo is turned (5 of a 1 MP PNG's 27 ms went
            # to copies of an image needing none)
            ImageOps.exif_transpose(img, in_place=True)
            img.load()
            alpha = _alpha(img)
            rgb = np.asarray(_rgb(img))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CorruptImage("The image data is truncated or damaged.") from exc
    return Decoded(rgb, alpha)


def _rgb(img: Image.Image) -> Image.Image:
    img = _eight_bit(img)
    return img if img.mode == "RGB" else img.convert("RGB")


def _eight_bit(img: Image.Image) -> Image.Image:
    """16- and 32-bit gray (16-bit PNG and TIFF) scaled to 8 bits; Pillow's convert would clip
    every value above 255 to white."""
    if img.mode not in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        return img
    values = np.asarray(img).astype(np.uint32)
    top = 65535 if img.mode.startswith("I;16") or values.max() > 255 else 255
    return Image.fromarray((values * 255 // top).astype(np.uint8), "L")


def _alpha(img: Image.Image) -> np.ndarray | None:
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return np.asarray(img.convert("RGBA").getchannel("A"))
    return None


def resize_alpha(alpha: np.ndarray, width: int, height: int) -> np.ndarray:
    resized = Image.fromarray(alpha, "L").resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(resized)


def encode_png(rgb: np.ndarray, alpha: np.ndarray | None) -> bytes:
    """fpng: a standard, lossless PNG 15-25x faster than zlib-based encoders (4.9 ms instead of
    84-119 ms for a 1024x1024 photo here) for files ~10% larger - the encode was the biggest
    cost of a job after the network itself. Pillow (fast level) where fpng is missing."""
    pixels = rgb if alpha is None else np.dstack([rgb, alpha])
    try:
        import fpng
    except ImportError:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "PNG", compress_level=1)
        return buffer.getvalue()
    return fpng.from_ndarray(np.ascontiguousarray(pixels))


def encode(
    rgb: np.ndarray, alpha: np.ndarray | None, fmt: str, quality: int = DEFAULT_QUALITY
) -> bytes:
    """`rgb` HxWx3, or HxW for a grayscale result (a mask)."""
    if fmt == "png" and rgb.ndim == 3:
        return encode_png(rgb, alpha)
    img = Image.fromarray(rgb, "RGB" if rgb.ndim == 3 else "L")
    if fmt == "png":
        buffer = io.BytesIO()
        img.save(buffer, "PNG", compress_level=1)
        return buffer.getvalue()
    if alpha is not None and fmt != "jpg":
        img.putalpha(Image.fromarray(alpha, "L"))
    buffer = io.BytesIO()
    if fmt == "jpg":
        img.save(buffer, "JPEG", quality=quality, subsampling=0 if quality >= 90 else 2)
    elif fmt == "webp":
        img.save(buffer, "WEBP", quality=quality, method=4)
    else:
        raise ValueError(f"unknown output format {fmt}")
    return buffer.getvalue()
