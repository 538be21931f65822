"""Hostile and awkward files, made here rather than kept as opaque blobs: decompression
bombs in every accepted format (small files whose headers declare 60,000 px a side),
truncated and empty files, polyglots, a name that lies about the content, and the image
modes a photo API meets (CMYK, 16-bit, palette, LA, alpha, EXIF-rotated, animated)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

from loadtest.photos import encode, photo

BOMB_SIDE = 60_000
SMALL = photo("astronaut", 40)


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_bomb() -> bytes:
    """A valid PNG header of 60,000² RGB and one deflate stream of zeros (a few KB)."""
    header = struct.pack(">IIBBBBB", BOMB_SIDE, BOMB_SIDE, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (BOMB_SIDE * 3 + 1) * 8, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows)


def jpeg_bomb() -> bytes:
    """A real JPEG whose frame header (SOF0) is rewritten to 60,000²."""
    data = bytearray(encode(SMALL, "JPEG"))
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", BOMB_SIDE, BOMB_SIDE)
    return bytes(data)


def webp_bomb() -> bytes:
    """An extended WebP whose canvas (VP8X) says 16,384² with a tiny lossless image."""
    canvas = (16_384 - 1).to_bytes(3, "little") * 2
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + canvas
    inner = encode(SMALL[:8, :8], "WEBP", lossless=True)[12:]
    body = b"WEBP" + vp8x + inner
    return b"RIFF" + struct.pack("<I", len(body)) + body


def bmp_bomb() -> bytes:
    data = bytearray(encode(SMALL, "BMP"))
    data[18:26] = struct.pack("<ii", BOMB_SIDE, BOMB_SIDE)
    return bytes(data)


def tiff_bomb() -> bytes:
    """A TIFF whose width and length tags say 60,000."""
    buffer = io.BytesIO()
    Image.new("L", (4, 4)).save(buffer, "TIFF")
    data = bytearray(buffer.getvalue())
    count = struct.unpack("<H", data[8:10])[0]
    for i in range(count):
        entry = 10 + 12 * i
        tag, kind = struct.unpack("<HH", data[entry : entry + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength
            pack = "<I" if kind == 4 else "<H"
            value = struct.pack(pack, BOMB_SIDE)
            data[entry + 8 : entry + 8 + len(value)] = value
    return bytes(data)


BOMBS = {
    "png": png_bomb,
    "jpeg": jpeg_bomb,
    "webp": webp_bomb,
    "bmp": bmp_bomb,
    "tiff": tiff_bomb,
}


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def exif_rotated() -> bytes:
    """40 wide, 24 high on disk, orientation 6 (turn 90° clockwise to view): 24 x 40."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(Image.fromarray(photo("astronaut", 40)[:24]), "JPEG", exif=exif)


def animated_gif_as_webp() -> bytes:
    frames = [Image.fromarray(SMALL), Image.fromarray(255 - SMALL)]
    return _save(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)


def modes() -> dict[str, bytes]:
    """Awkward but valid photos: each should give a correct result."""
    rgb = Image.fromarray(SMALL)
    grey16 = Image.fromarray(np.asarray(rgb.convert("L"), np.uint16) * 257)
    return {
        "cmyk.jpg": _save(rgb.convert("CMYK"), "JPEG"),
        "gray16.png": _save(grey16, "PNG"),
        "palette.png": _save(rgb.convert("P"), "PNG"),
        "la.png": _save(rgb.convert("LA"), "PNG"),
        "rgba.png": _save(rgb.convert("RGBA"), "PNG"),
        "exif-rotated.jpg": exif_rotated(),
        "animated.webp": animated_gif_as_webp(),
        "png-with-zip.png": encode(SMALL) + b"PK\x03\x04" + b"\x00" * 26 + b"zip payload",
        "jpeg-with-html.jpg": encode(SMALL, "JPEG") + b"<html><script>alert(1)</script></html>",
        "png-named.jpg": encode(SMALL),
        "名前 ünïcödé.png": encode(SMALL),
    }


def broken() -> dict[str, bytes]:
    """Files that must be refused with a 4xx (or fail their job with corrupt_image)."""
    whole = encode(photo("astronaut", 64))
    return {
        "empty.png": b"",
        "truncated-header.png": whole[:20],
        "truncated-pixels.png": whole[: len(whole) // 2],
        "text.png": b"just some text, not an image",
        "gif.gif": _save(Image.fromarray(SMALL), "GIF"),
    }
