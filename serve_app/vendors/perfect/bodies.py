"""What Perfect Corp's routes answer and read, as /openapi.json declares them: its
`{"status": 200, "result"}` bodies, its `{"status", "error", "error_code"}` errors, and the
task body read by hand."""

from __future__ import annotations

from serve_app.api.schemas import BINARY, INT, OBJECT, STR, array, json, nullable, obj, one_of
from serve_app.vendors.perfect.files import CONTENT_TYPES

PREFIX = "/s2s/v1.0"


def answer(result: dict, key: str = "result") -> dict:
    return json(obj({"status": one_of(200), key: result}))


ERROR = obj({"status": INT, "error": STR, "error_code": STR})
TITLED = obj({"id": INT, "title": STR, "info": obj({"title": STR})}, thumb=nullable(STR))
PAGE = {"next_token": nullable(STR)}
UPLOAD = obj({"url": STR, "method": one_of("PUT"), "headers": obj({"Content-Type": STR})})
FILE = obj({"content_type": STR, "file_name": STR, "file_id": STR, "requests": array(UPLOAD)})
RESULT = obj({"id": INT, "data": array(obj({"dst_id": STR, "url": STR}))})
TASK = obj(
    {
        "status": one_of("running", "success", "error"),
        "polling_interval": {"type": "number", "description": "milliseconds"},
    },
    results=array(RESULT),
    error=STR,
)
BODIES = {
    ("post", f"{PREFIX}/client/auth"): answer(obj({"access_token": STR})),
    ("get", f"{PREFIX}/client/credit"): answer(array(obj({"type": STR, "amount": INT})), "results"),
    ("post", f"{PREFIX}/file/{{task}}"): answer(obj({"files": array(FILE)})),
    ("put", f"{PREFIX}/upload/{{file_id}}"): {},
    ("get", f"{PREFIX}/task/style-group/{{task}}"): answer(obj({**PAGE, "groups": array(TITLED)})),
    ("get", f"{PREFIX}/task/style/{{task}}"): answer(obj({**PAGE, "styles": array(TITLED)})),
    ("post", f"{PREFIX}/task/{{task}}"): answer(obj({"task_id": STR})),
    ("get", f"{PREFIX}/task/{{task}}"): answer(TASK),
}

SAME = "the same file with the same request_id is the same task, never run twice"
_IDS = {"type": "array", "items": STR, "maxItems": 1}
TASK_REQUEST = obj(
    {
        "request_id": {"type": "integer", "minimum": 0, "description": SAME},
        "payload": obj(
            {
                "actions": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": obj({"id": {"type": "integer", "minimum": 0}}, params=OBJECT),
                }
            },
            file_sets=obj({"src_ids": {**_IDS, "minItems": 1}}, mask_ids=_IDS, ref_ids=_IDS),
        ),
    }
)
REQUESTS = {
    ("post", f"{PREFIX}/task/{{task}}"): {"required": True, "content": json(TASK_REQUEST)},
    ("put", f"{PREFIX}/upload/{{file_id}}"): {
        "required": True,
        "content": {kind: {"schema": BINARY} for kind in CONTENT_TYPES},
    },
}
