"""What ProductAI's routes answer and read, as /openapi.json declares them: its
`{"status": "OK", "data"}` bodies, its `{"status": "ERROR", "message", "code"}` errors, and the
JSON bodies read by hand."""

from __future__ import annotations

from serve_app.api.schemas import BOOL, INT, STR, array, json, obj, one_of, request
from serve_app.vendors.productai.mapping import MAX_IMAGES, STATUS

PREFIX = "/v1/api"


def answer(data: dict) -> dict:
    return json(obj({"status": one_of("OK"), "data": data}))


ERROR = obj({"status": one_of("ERROR"), "message": STR, "code": STR})
JOB = obj(
    {"id": INT, "status": one_of(*STATUS.values())},
    prompt=STR,
    image_url={"type": "string", "description": "valid 24 hours"},
)
KEY_CHECK = obj({"valid": BOOL, "tokens_remaining": INT, "plan": STR})
BODIES = {
    ("post", f"{PREFIX}/generate"): answer(JOB),
    ("post", f"{PREFIX}/generate-custom-model"): answer(JOB),
    ("post", f"{PREFIX}/upscale"): answer(JOB),
    ("get", f"{PREFIX}/job/{{job_id}}"): answer(JOB),
    ("get", f"{PREFIX}/key-check"): answer(KEY_CHECK),
}
URL = {"type": "string", "format": "uri"}
URLS = {"anyOf": [URL, {**array(URL), "minItems": 1, "maxItems": MAX_IMAGES}]}
OUTPUT = {"output_format": {"type": "string", "description": "png (default), jpg or jpeg"}}
REQUESTS = {
    ("post", f"{PREFIX}/generate"): request(
        json=obj(
            {"model": {"type": "string", "description": "one of its model names"}, "prompt": STR},
            image_url=URLS,
            aspect_ratio=STR,
            resolution=STR,
            **OUTPUT,
        )
    ),
    ("post", f"{PREFIX}/generate-custom-model"): request(
        json=obj({"model": STR, "image_url": URL}, prompt=STR)
    ),
    ("post", f"{PREFIX}/upscale"): request(json=obj({"image_url": URL}, **OUTPUT)),
}
