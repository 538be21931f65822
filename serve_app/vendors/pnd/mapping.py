"""PND AI's words for the native ones: its fields, looks, statuses, endpoints and job ids.

v1 (/api/upload/) is an upscale to a size tier; v2 (/api/uploadv2/) adds face restoration.
PND's five "looks" are real processing: each is a GFPGAN fidelity (v2) plus classical colour
steps (deployments/common/adjust.py), applied on top of the result.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

from pydantic import BeforeValidator

from serve_app.api.submission import Mapped
from serve_app.core.errors import InvalidParameter
from serve_app.engine.jobs import JobStatus
from serve_app.operations import Params, integer, restore_face, upscale

MAX_BYTES = 1024 * 1024
FORMATS = ("jpg", "png", "webp")
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
STATUS = {
    JobStatus.QUEUED: "queued",
    JobStatus.PROCESSING: "processing",
    JobStatus.DONE: "done",
    JobStatus.FAILED: "error",
}
ENDPOINT = {upscale.NAME: "v1", restore_face.NAME: "v2"}
OPERATION = {endpoint: name for name, endpoint in ENDPOINT.items()}


def job_id(lang: str) -> str:
    """PND's id form: {lang}_api.{unix time}.{16 hex}."""
    return f"{lang}_api.{int(time.time())}.{secrets.token_hex(8)}"


def parse_lang(value: Any) -> str:
    text = str(value).strip().lower()
    if len(text) != 2 or not text.isalpha():
        raise InvalidParameter("lang must be a 2-letter code.")
    return text


class PndUpload(Params):
    """The body of /api/upload/ and /api/uploadv2/."""

    size: upscale.Size = DEFAULT_SIZE
    model: integer(1, 5, "look: 1 Realistic .. 5 Old Photo") = 1
    wb: integer(0, 1, "auto white balance") = 0
    color: integer(-10, 10, "-10 cool .. +10 warm") = 0
    lang: Annotated[str, BeforeValidator(parse_lang)] = "en"

    def steps(self) -> dict[str, Any]:
        """The look's colour steps, with the body's white balance and warmth."""
        steps = dict(LOOKS[self.model][1])
        if self.wb:
            steps["white_balance"] = 1.0
        if self.color:
            steps["warmth"] = steps.get("warmth", 0.0) + self.color
        return steps


def native(fields: dict[str, Any]) -> Mapped:
    """A PND upload as the native operation's parameters, plus its look and job id."""
    sent = PndUpload.read(fields)
    params = {
        "size": sent.size,
        "fidelity": LOOKS[sent.model][0],
        "output_format": OUTPUT_FORMAT,
        "model": upscale.DEFAULT_MODEL,
    }
    return Mapped(params, {"adjust": sent.steps()}, job_id(sent.lang))
