"""A submitted job as the client sees it: its status body parsed once into typed fields
(`Job.restore`), and the verbs on it: `refresh`, `wait` (polls at the server's
`polling_interval` / Retry-After, calls `progress(job)` when something changed) and
`download`. `AsyncJob` is the same for `AsyncClient`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photoserve.errors import JobFailed, WaitTimedOut

FINISHED = ("done", "failed")
DEFAULT_POLL_S = 1.0
MAX_POLL_S = 10.0


@dataclass
class Job:
    id: str
    status: str
    operation: str = ""
    progress: int = 0
    cost: int = 0
    result_url: str | None = None
    error: dict[str, str] | None = None
    width: int | None = None
    height: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    polling_interval: float | None = None  # seconds
    body: dict[str, Any] = field(default_factory=dict, repr=False)
    client: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def restore(cls, body: dict[str, Any], client: Any = None) -> Job:
        """From a status (or 202) body; unknown fields stay in `body`."""
        interval = body.get("polling_interval")
        return cls(
            id=str(body["job_id"]),
            status=str(body.get("status", "queued")),
            operation=str(body.get("operation", "")),
            progress=int(body.get("progress") or 0),
            cost=int(body.get("cost") or 0),
            result_url=body.get("result_url"),
            error=body.get("error"),
            width=body.get("width"),
            height=body.get("height"),
            params=body.get("params") or {},
            polling_interval=float(interval) if interval is not None else None,
            body=body,
            client=client,
        )

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def done(self) -> bool:
        return self.status == "done"

    def _update(self, other: Job) -> bool:
        """Take `other`'s fields; True when status or progress changed."""
        changed = (other.status, other.progress) != (self.status, self.progress)
        for name in self.__dataclass_fields__:
            if name != "client":
                setattr(self, name, getattr(other, name))
        return changed

    def raise_for_failure(self) -> Job:
        if self.status == "failed":
            error = self.error or {}
            raise JobFailed(self.id, error.get("code", "failed"), error.get("detail", ""))
        return self

    def refresh(self) -> Job:
        self._update(self.client.job(self.id))
        return self

    def wait(self, timeout: float | None = None, progress: Callable | None = None) -> Job:
        """Until done (returns self) or failed (JobFailed); WaitTimedOut after `timeout` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if progress:
            progress(self)
        while not self.finished:
            time.sleep(_pause(self, deadline))
            if self._update(self.client.job(self.id)) and progress:
                progress(self)
        return self.raise_for_failure()

    def download(self, path: str | Path | None = None, format: str | None = None) -> bytes:
        """The result's bytes (waits first if needed); also written to `path` if given."""
        if not self.finished:
            self.wait()
        data = self.client.download(self.raise_for_failure().id, format=format)
        return _saved(data, path)


class AsyncJob(Job):
    async def refresh(self) -> AsyncJob:
        self._update(await self.client.job(self.id))
        return self

    async def wait(self, timeout: float | None = None, progress: Callable | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        if progress:
            await _called(progress, self)
        while not self.finished:
            await asyncio.sleep(_pause(self, deadline))
            if self._update(await self.client.job(self.id)) and progress:
                await _called(progress, self)
        return self.raise_for_failure()

    async def download(self, path: str | Path | None = None, format: str | None = None) -> bytes:
        if not self.finished:
            await self.wait()
        data = await self.client.download(self.raise_for_failure().id, format=format)
        return _saved(data, path)


def _pause(job: Job, deadline: float | None) -> float:
    """The server's polling interval (1 s without one), within what is left of `deadline`."""
    pause = min(job.polling_interval or DEFAULT_POLL_S, MAX_POLL_S)
    if deadline is None:
        return pause
    left = deadline - time.monotonic()
    if left <= 0:
        raise WaitTimedOut(f"job {job.id} is still {job.status} ({job.progress}%)")
    return min(pause, left)


async def _called(callback: Callable, job: Job) -> None:
    result = callback(job)
    if asyncio.iscoroutine(result):
        await result


def _saved(data: bytes, path: str | Path | None) -> bytes:
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    return data
