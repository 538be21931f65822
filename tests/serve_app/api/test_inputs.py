from __future__ import annotations

import base64

import pytest

from serve_app.api.inputs import decode_base64
from serve_app.core.errors import ImageTooLarge, InvalidBase64, NoImage

DATA = bytes(range(256)) * 4


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(DATA).decode(),
        "data:image/png;base64," + base64.b64encode(DATA).decode(),
        base64.b64encode(DATA).decode().rstrip("="),
        base64.urlsafe_b64encode(DATA).decode(),
        "\n".join(base64.encodebytes(DATA).decode().split("\n")),
    ],
)
def test_base64_forms(text):
    assert decode_base64(text, 10_000) == DATA


def test_invalid_base64():
    with pytest.raises(InvalidBase64):
        decode_base64("not*base64!", 10_000)
    with pytest.raises(InvalidBase64):
        decode_base64(12345, 10_000)


def test_empty_base64_is_no_image():
    with pytest.raises(NoImage):
        decode_base64("data:image/png;base64,", 10_000)


def test_oversized_base64_is_refused_before_decoding():
    with pytest.raises(ImageTooLarge):
        decode_base64("A" * 40_000, 10_000)
