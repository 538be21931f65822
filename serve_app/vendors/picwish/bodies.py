"""What PicWish's scale task answers and reads, as /openapi.json declares them: its
`{"status", "message", "data"}` bodies (or the image itself: `return_type` 3) and errors, and
the task form read by hand."""

from __future__ import annotations

from serve_app.api.schemas import BINARY, IMAGE, INT, STR, fields, json, nullable, obj, request
from serve_app.vendors.picwish.mapping import ScaleTask

ROUTE = "/api/tasks/visual/scale"
ERROR = obj({"status": INT, "message": STR, "code": STR})
STAMP = nullable(INT)  # seconds since the epoch
TASK = obj(
    {"task_id": STR},
    created_at=STAMP,
    processed_at=STAMP,
    completed_at=STAMP,
    progress=INT,
    state={"type": "integer", "description": "1 done, > 1 processing, < 0 failed"},
    image={"type": "string", "description": "a URL valid an hour, or base64 (return_type 2)"},
)
TASK_BODY = json(obj({"status": INT, "message": STR, "data": TASK}))
BODIES = {("post", ROUTE): {**TASK_BODY, **IMAGE}, ("get", ROUTE + "/{task_id}"): TASK_BODY}
URL = {"image_url": {"type": "string", "format": "uri"}}
REQUESTS = {
    ("post", ROUTE): request(
        json=obj({}, **URL, **fields(ScaleTask)),
        multipart=obj({}, image_file=BINARY, **URL, **fields(ScaleTask)),
    )
}
