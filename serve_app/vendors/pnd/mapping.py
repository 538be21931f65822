"""PND AI's public API, mapped onto the native engine (../shared/reference/pndai-public-api.txt).

v1 (/api/upload/) is an upscale to a size tier; v2 (/api/uploadv2/) adds face restoration.
PND's five "looks" are real processing: each is a GFPGAN fidelity (v2) plus classical colour
steps from deployments/adjust.py, applied on top of the result.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from serve_app.core import parsing
from serve_app.core.errors import InvalidParameter
from serve_app.operations import upscale

MAX_BYTES = 1024 * 1024
MAX_EDGE = 1024
DEFAULT_SIZE = "FHD"
OUTPUT_FORMAT = "jpg"  # PND serves image/jpeg; its samples save result.jpg

# model id -> (GFPGAN fidelity for v2, colour steps)
LOOKS: dict[int, tuple[float, dict[str, Any]]] = {
    1: (0.5, {}),  # Realistic: half restored, colours untouched
    2: (1.0, {"soften": 0.15}),  # Smooth Beauty: fully restored skin, a soft glow
    3: (0.7, {"saturation": 1.25, "contrast": 1.1}),  # Vivid Colors
    4: (0.7, {"warmth": 3.0, "soften": 0.25, "exposure": 0.1}),  # Wedding/Soft
    5: (0.9, {"white_balance": 1.0, "autocontrast": True, "saturation": 1.05}),  # Old Photo
}
STATUS = {"queued": "queued", "processing": "processing", "done": "done", "failed": "error"}
ENDPOINT = {"upscale": "v1", "restore-face": "v2"}


def job_id(lang: str) -> str:
    """PND's id form: {lang}_api.{unix time}.{16 hex}."""
    return f"{lang}_api.{int(time.time())}.{secrets.token_hex(8)}"


def parse_lang(value: Any) -> str:
    text = str(value or "en").strip().lower()
    if len(text) != 2 or not text.isalpha():
        raise InvalidParameter("lang must be a 2-letter code.")
    return text


def native_params(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    """(params for the native planner, colour steps, size name, lang) from a PND body."""
    size = upscale.parse_size(fields.get("size") or DEFAULT_SIZE)
    look = parsing.integer(fields.get("model"), "model", 1, 5, 1)
    wb = parsing.integer(fields.get("wb"), "wb", 0, 1, 0)
    color = parsing.integer(fields.get("color"), "color", -10, 10, 0)
    fidelity, steps = LOOKS[look]
    steps = dict(steps)
    if wb:
        steps["white_balance"] = 1.0
    if color:
        steps["warmth"] = steps.get("warmth", 0.0) + color
    params = {"size": size, "fidelity": fidelity, "output_format": OUTPUT_FORMAT, "model": "fast"}
    return params, steps, size, parse_lang(fields.get("lang"))
