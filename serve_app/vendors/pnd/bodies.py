"""What PND AI's routes answer and read, as /openapi.json declares them: its job, credit,
rotation and statistics bodies (errors: the native envelope, which follows its table), and
the upload form read by hand."""

from __future__ import annotations

from serve_app.api.schemas import (
    ARRAY,
    BINARY,
    BOOL,
    BUCKETS,
    IMAGE,
    INT,
    OBJECT,
    ROTATED,
    STR,
    WEBHOOK_SET,
    array,
    fields,
    json,
    nullable,
    obj,
    one_of,
    request,
)
from serve_app.vendors.pnd.mapping import PndUpload

JOB = obj(
    {
        "ok": BOOL,
        "job_id": STR,
        "status": one_of("queued", "processing", "done", "error"),
        "cost": INT,
    },
    endpoint=nullable(STR),
    size=nullable(STR),
    credit_source=STR,
    remaining=INT,
    deducted_this_call=BOOL,
    result_url=STR,
    face_urls=array(STR),
    countfaces=INT,
    error=nullable(STR),
    detail=nullable(STR),
)
CREDITS = obj(
    {
        "ok": BOOL,
        "user_type": one_of("vip", "free"),
        "vip_active": BOOL,
        "vip_expires": nullable(STR),
        "credits": BUCKETS,
        "today": obj({"used": INT, "limit": INT}),
    }
)
RECENT = obj({"job_id": STR, "endpoint": STR, "status": STR, "created_at": nullable(STR)})
STATS = obj(
    {
        "ok": BOOL,
        "period_days": INT,
        "totals": OBJECT,
        "by_endpoint": OBJECT,
        "by_size": OBJECT,
        "daily": ARRAY,
        "recent": array(RECENT),
    }
)
BODIES = {
    ("post", "/api/upload/"): {**json(JOB), **IMAGE},  # the image: ?wait, Accept: image/*
    ("post", "/api/uploadv2/"): {**json(JOB), **IMAGE},
    ("get", "/api/status/"): json(JOB),
    ("get", "/api/result/"): IMAGE,
    ("get", "/api/credits/"): json(CREDITS),
    ("post", "/api/rotate/"): json(ROTATED),
    ("post", "/api/webhook/"): json(WEBHOOK_SET),
    ("get", "/api/stats/"): json(STATS),
}
UPLOAD = request(multipart=obj({"image": BINARY}, **fields(PndUpload)))
REQUESTS = {("post", "/api/upload/"): UPLOAD, ("post", "/api/uploadv2/"): UPLOAD}
