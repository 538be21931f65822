from __future__ import annotations

import numpy as np
import pytest

from loadtest.photos import encode, photo, photo_bytes
from serve_app.core.errors import CorruptImage, ImageTooLarge, InvalidFormat, PixelTooLarge
from serve_app.engine import images

LIMITS = dict(max_bytes=10_000_000, max_edge=2048)


FORMATS = [
    ("PNG", "png"),
    ("JPEG", "jpg"),
    ("WEBP", "webp"),
    ("BMP", "bmp"),
    ("TIFF", "tif"),
    ("SGI", "rgb"),
]


@pytest.mark.parametrize(("fmt", "kind"), FORMATS)
def test_inspect_reads_format_and_size_from_header(fmt, kind):
    info = images.inspect(encode(photo("chelsea"), fmt), **LIMITS)
    assert (info.format, info.width, info.height) == (kind, 451, 300)


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("BMP", {}),
        ("TIFF", {"compression": "tiff_lzw"}),
        ("TIFF", {"compression": "tiff_deflate"}),
        ("SGI", {}),
    ],
)
def test_lossless_formats_decode_to_the_same_pixels(fmt, options):
    image = photo("coffee", 120)
    assert np.array_equal(images.decode(encode(image, fmt, **options)).rgb, image)


def test_sixteen_bit_gray_is_scaled_not_clipped():
    import io

    from PIL import Image

    ramp = np.arange(256 * 8, dtype=np.uint16).reshape(8, 256) * 32  # 0 .. 65504
    buffer = io.BytesIO()
    Image.fromarray(ramp).save(buffer, "TIFF")  # mode I;16
    gray = images.decode(buffer.getvalue()).rgb[..., 0]
    # an even ramp over the whole range: mid-gray on average (clipped at 255, nearly white)
    assert gray.min() == 0 and gray.max() >= 250 and abs(gray.mean() - 127) < 3


def test_a_surface_can_narrow_the_formats():
    bmp = encode(photo("astronaut", 32), "BMP")
    with pytest.raises(InvalidFormat, match="jpg, png, webp"):
        images.inspect(bmp, **LIMITS, formats=("jpg", "png", "webp"))
    assert images.inspect(bmp, **LIMITS).format == "bmp"


def test_other_formats_are_invalid_format():
    with pytest.raises(InvalidFormat):
        images.inspect(encode(photo("astronaut", 32), "GIF"), **LIMITS)
    with pytest.raises(InvalidFormat):
        images.inspect(b"hello world, not an image", **LIMITS)


def test_known_magic_with_broken_header_is_corrupt():
    with pytest.raises(CorruptImage):
        images.inspect(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, **LIMITS)


def test_too_many_bytes():
    with pytest.raises(ImageTooLarge):
        images.inspect(photo_bytes(size=64), max_bytes=100, max_edge=2048)


@pytest.mark.parametrize("side", [5000, 30000])
def test_decompression_bomb_is_refused_from_the_header_alone(side):
    """A huge PNG header over a tiny IDAT: refused without decoding a single row."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
    )
    with pytest.raises(PixelTooLarge):
        images.inspect(bomb, **LIMITS)


def test_truncated_pixels_fail_at_decode():
    data = photo_bytes("coffee", size=128, fmt="JPEG")
    images.inspect(data[: len(data) // 2], **LIMITS)  # header is fine
    with pytest.raises(CorruptImage):
        images.decode(data[: len(data) // 2])


def test_decode_keeps_alpha_and_applies_exif_orientation():
    rgba = np.dstack([photo("astronaut", 32), np.full((32, 32), 128, np.uint8)])
    decoded = images.decode(encode(rgba, "PNG"))
    assert decoded.rgb.shape == (32, 32, 3)
    assert decoded.alpha is not None and (decoded.alpha == 128).all()

    from PIL import Image

    wide = Image.fromarray(photo("astronaut")[:40, :80])
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 on display
    import io

    for fmt in ("JPEG", "PNG", "WEBP"):  # turned in place: the same pixels as a copy
        buffer = io.BytesIO()
        wide.save(buffer, fmt, exif=exif)
        turned = images.decode(buffer.getvalue()).rgb
        assert turned.shape == (80, 40, 3)
        expected = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).transpose(Image.ROTATE_270))
        np.testing.assert_array_equal(turned, expected)


@pytest.mark.parametrize("fmt", images.OUTPUT_FORMATS)
def test_encode_round_trip(fmt):
    rgb = photo("astronaut", 48)
    data = images.encode(rgb, None, fmt)
    decoded = images.decode(data)
    assert decoded.rgb.shape == rgb.shape
    if fmt == "png":
        assert (decoded.rgb == rgb).all()


def test_jpg_output_drops_alpha_png_keeps_it():
    rgb, alpha = photo("astronaut", 16), np.zeros((16, 16), np.uint8)
    assert images.decode(images.encode(rgb, alpha, "png")).alpha is not None
    assert images.decode(images.encode(rgb, alpha, "jpg")).alpha is None


def test_png_without_fpng_falls_back_to_pillow(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "fpng", None)  # import fpng -> ImportError
    rgb = photo("astronaut", 24)
    decoded = images.decode(images.encode(rgb, None, "png"))
    assert np.array_equal(decoded.rgb, rgb)
