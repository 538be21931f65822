"""JSON log lines carry the job and account while a job is handled, and only then."""

from __future__ import annotations

import io
import json
import logging

from serve_app.core import logs


def capture() -> io.StringIO:
    logs.configure("json")
    stream = io.StringIO()
    logging.getLogger("photoserve").handlers[0].setStream(stream)  # instead of fd 2
    return stream


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_lines_inside_a_job_carry_job_and_account():
    stream = capture()
    log = logging.getLogger("photoserve.execution")
    log.info("before")
    with logs.job_context("job_abc"):
        log.info("started")
        logs.set_account("acct_1")
        log.warning("model slow: %s s", 3)
    log.info("after")
    before, started, slow, after = lines(stream)
    assert "job_id" not in before and "job_id" not in after
    assert started["job_id"] == "job_abc" and "account" not in started
    assert slow == {**slow, "job_id": "job_abc", "account": "acct_1", "level": "WARNING"}
    assert slow["message"] == "model slow: 3 s" and slow["logger"] == "photoserve.execution"


def test_exceptions_are_one_json_line():
    stream = capture()
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("photoserve.x").exception("failed")
    (line,) = lines(stream)
    assert "ValueError: boom" in line["exc"]


def test_text_format():
    logs.configure("text")
    handler = logging.getLogger("photoserve").handlers[0]
    assert not isinstance(handler.formatter, logs.JsonFormatter)
    logs.configure("json")
