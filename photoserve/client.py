"""`Client` and `AsyncClient`: one method per operation (photoserve/operations.py, generated
from the server's operation registry), `submit` under them, and the account's verbs:
`job`, `jobs`, `credits`, `download`.

    from photoserve import Client

    with Client("http://127.0.0.1:8000", "ps_...") as client:
        job = client.upscale("photo.jpg", scale=4)
        job.wait(progress=lambda j: print(j.progress))
        job.download("photo_x4.png")

Every submit carries an Idempotency-Key (one per logical submit, the same on each retry), so
the retries of photoserve.backoff never create a second job. What is the same for both
clients (the request, parsing the answer) lives in `_Requests`; each client adds only its I/O.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import httpx

from photoserve import config
from photoserve.backoff import Backoff, retry_after, retryable
from photoserve.errors import ConnectionFailed, error_for
from photoserve.inputs import Upload, request_parts, upload
from photoserve.jobs import AsyncJob, Job
from photoserve.operations import AsyncOperations, Operations

USER_AGENT = "photoserve-client/0.1"


class _Requests:
    """The requests both clients make and how their answers are read."""

    def __init__(self, url: str | None, api_key: str | None, backoff: Backoff | None) -> None:
        self.url, self.api_key = config.resolve(url, api_key)
        self.backoff = backoff or Backoff()

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    @staticmethod
    def _submit_args(
        operation: str,
        image: Any,
        photos: dict[str, Any],
        params: dict[str, Any],
        wait: float | None,
        key: str | None,
    ) -> dict[str, Any]:
        """The request of one submit: path, query, idempotency header, multipart parts."""
        uploads, fields = _photos({"image": image, **photos})
        fields = {**{k: v for k, v in params.items() if v is not None}, **fields}
        return {
            "method": "POST",
            "url": f"/v1/{operation}",
            "params": {"wait": _seconds(wait)} if wait is not None else None,
            "headers": {"Idempotency-Key": key or f"ps-{uuid.uuid4().hex}"},
            **request_parts(uploads, fields),
        }

    @staticmethod
    def _body(response: httpx.Response) -> dict[str, Any]:
        """The JSON body of a success, or the typed error of a failure."""
        body = _json(response)
        if response.is_success:
            return body if isinstance(body, dict) else {"value": body}
        raise error_for(response.status_code, body, retry_after(response))

    @staticmethod
    def _bytes(response: httpx.Response) -> bytes:
        if response.is_success:
            return response.content
        raise error_for(response.status_code, _json(response), retry_after(response))


def _photos(given: dict[str, Any]) -> tuple[list[Upload], dict[str, Any]]:
    """The photo arguments as uploads; a Job (or job id given as from_job) as `from_job`."""
    uploads, fields = [], {}
    for name, value in given.items():
        if isinstance(value, Job):
            if name != "image":
                raise TypeError(f"{name}: a finished job's result can only be the main photo")
            fields["from_job"] = value.id
        elif value is not None:
            uploads.append(upload(name, value))
    return uploads, fields


def unreachable(url: str, exc: Exception) -> str:
    return f"cannot reach {url} ({type(exc).__name__}): is it running? (--url, PHOTOSERVE_URL)"


def _seconds(wait: float) -> str:
    """`?wait=` as the server takes it: whole seconds, 0 (answer at once) to 60."""
    return str(int(min(max(wait, 0), 60)))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _jobs(body: dict[str, Any], kind: type[Job], client: Any) -> list[Job]:
    return [kind.restore(row, client) for row in body.get("jobs", [])]


class Client(Operations, _Requests):
    """Synchronous client; `transport` is for tests (an httpx transport)."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        backoff: Backoff | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        _Requests.__init__(self, url, api_key, backoff)
        self.http = httpx.Client(
            base_url=self.url, headers=self._headers(), timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request, tried again as photoserve.backoff says."""
        for attempt in itertools.count():
            try:
                response = self.http.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if not self.backoff.allows(attempt):
                    raise ConnectionFailed(unreachable(self.url, exc)) from exc
                time.sleep(self.backoff.delay(attempt))
                continue
            if not (retryable(response) and self.backoff.allows(attempt)):
                return response
            time.sleep(self.backoff.delay(attempt, retry_after(response)))
        raise AssertionError("unreachable")

    def submit(
        self,
        operation: str,
        image: Any = None,
        *,
        wait: float | None = None,
        idempotency_key: str | None = None,
        mask: Any = None,
        reference_image: Any = None,
        **params: Any,
    ) -> Job:
        """POST /v1/{operation}: the job (finished already if `wait` seconds sufficed)."""
        photos = {"mask": mask, "reference_image": reference_image}
        args = self._submit_args(operation, image, photos, params, wait, idempotency_key)
        return Job.restore(self._body(self.send(**args)), self)

    def job(self, job_id: str) -> Job:
        return Job.restore(self._body(self.send("GET", f"/v1/jobs/{job_id}")), self)

    def jobs(self, limit: int = 20, before: float | None = None) -> list[Job]:
        """This account's newest jobs (id, operation, status, cost, created_at)."""
        query = {"limit": limit, **({"before": before} if before is not None else {})}
        return _jobs(self._body(self.send("GET", "/v1/jobs", params=query)), Job, self)

    def credits(self) -> dict[str, Any]:
        return self._body(self.send("GET", "/v1/credits"))

    def download(self, job_id: str, format: str | None = None) -> bytes:
        query = {"format": format} if format else None
        return self._bytes(self.send("GET", f"/v1/jobs/{job_id}/download", params=query))


class AsyncClient(AsyncOperations, _Requests):
    """The same verbs, awaitable; jobs are `AsyncJob`s."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        backoff: Backoff | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        _Requests.__init__(self, url, api_key, backoff)
        self.http = httpx.AsyncClient(
            base_url=self.url, headers=self._headers(), timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        for attempt in itertools.count():
            try:
                response = await self.http.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if not self.backoff.allows(attempt):
                    raise ConnectionFailed(unreachable(self.url, exc)) from exc
                await asyncio.sleep(self.backoff.delay(attempt))
                continue
            if not (retryable(response) and self.backoff.allows(attempt)):
                return response
            await asyncio.sleep(self.backoff.delay(attempt, retry_after(response)))
        raise AssertionError("unreachable")

    async def submit(
        self,
        operation: str,
        image: Any = None,
        *,
        wait: float | None = None,
        idempotency_key: str | None = None,
        mask: Any = None,
        reference_image: Any = None,
        **params: Any,
    ) -> AsyncJob:
        photos = {"mask": mask, "reference_image": reference_image}
        args = self._submit_args(operation, image, photos, params, wait, idempotency_key)
        return AsyncJob.restore(self._body(await self.send(**args)), self)

    async def job(self, job_id: str) -> AsyncJob:
        return AsyncJob.restore(self._body(await self.send("GET", f"/v1/jobs/{job_id}")), self)

    async def jobs(self, limit: int = 20, before: float | None = None) -> list[AsyncJob]:
        query = {"limit": limit, **({"before": before} if before is not None else {})}
        return _jobs(self._body(await self.send("GET", "/v1/jobs", params=query)), AsyncJob, self)

    async def credits(self) -> dict[str, Any]:
        return self._body(await self.send("GET", "/v1/credits"))

    async def download(self, job_id: str, format: str | None = None) -> bytes:
        query = {"format": format} if format else None
        return self._bytes(await self.send("GET", f"/v1/jobs/{job_id}/download", params=query))
