"""Structured logs: one JSON object per line, with the job and account on every line written
while a job is being handled.

The job context lives in a contextvar set by the dispatcher (and by the gateway once a job
id exists), and a log-record factory copies it onto every record created in the process —
ours, Ray's or a library's — so no call site has to pass `extra=`. Ray Serve's own JSON
formatter prints such attributes too.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator

_job: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("job", default=None)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_installed = False


@contextlib.contextmanager
def job_context(job_id: str, account: str | None = None) -> Iterator[None]:
    token = _job.set({"job_id": job_id, "account": account or ""})
    try:
        yield
    finally:
        _job.reset(token)


def set_account(account: str) -> None:
    """The account, once the job record has been read (same job context)."""
    context = _job.get()
    if context is not None:
        context["account"] = account


def _install_record_factory() -> None:
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        context = _job.get()
        if context:
            for key, value in context.items():
                if value and not hasattr(record, key):
                    setattr(record, key, value)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD and _plain(v)})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def _plain(value: object) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def configure(fmt: str = "json", level: str = "INFO") -> None:
    """photoserve's loggers write to stderr (in Serve: the replica's log file and the
    driver's console) in `fmt` json or text; idempotent."""
    _install_record_factory()
    logger = logging.getLogger("photoserve")
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    # the process's own stderr (fd 2): in a Ray worker that is its log file, forwarded to
    # the driver; sys.stderr itself may have been replaced by a buffering logger adapter
    handler = logging.StreamHandler(sys.__stderr__ or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    # httpx logs every request's full URL at INFO: webhook URLs and signed URLs are
    # credentials of their own, so only its warnings are kept
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
