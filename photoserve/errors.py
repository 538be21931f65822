"""The API's errors as exceptions, one class per error code (README: Errors), so a caller
catches `OutOfCredits` rather than parsing bodies. Unknown codes still raise `ApiError`."""

from __future__ import annotations

from typing import Any


class PhotoserveError(Exception):
    """Anything this client raises."""


class ConnectionFailed(PhotoserveError):
    """The server could not be reached (after the retries)."""


class ApiError(PhotoserveError):
    """An error answer: `status` (HTTP), `code` (the body's `error`), `detail`, `body`."""

    def __init__(self, status: int, code: str, detail: str, body: dict[str, Any] | None = None):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body or {}


class InvalidRequest(ApiError):
    """A 4xx about the request itself (a parameter, the photo, the mask, ...)."""


class AuthenticationFailed(ApiError):
    pass


class NotFound(ApiError):
    pass


class NotAllowed(ApiError):
    pass


class OutOfCredits(ApiError):
    @property
    def remaining(self) -> int | None:
        return self.body.get("remaining")

    @property
    def cost(self) -> int | None:
        return self.body.get("cost")


class RateLimited(ApiError):
    retry_after: float | None = None

    @property
    def limit(self) -> int | None:
        return self.body.get("limit")

    @property
    def reset_at(self) -> str | None:
        return self.body.get("reset_at")


class ModelUnavailable(ApiError):
    pass


class ServiceUnavailable(ApiError):
    retry_after: float | None = None


class TooLarge(ApiError):
    pass


class Conflict(ApiError):
    pass


class JobFailed(PhotoserveError):
    """A job that ended `failed`: `code` and `detail` are its `error`'s."""

    def __init__(self, job_id: str, code: str, detail: str):
        super().__init__(f"job {job_id} failed: {code}: {detail}")
        self.job_id = job_id
        self.code = code
        self.detail = detail


class WaitTimedOut(PhotoserveError):
    """`Job.wait(timeout=...)` ran out before the job finished (the job goes on)."""


CODES: dict[str, type[ApiError]] = {
    "missing_key": AuthenticationFailed,
    "invalid_key": AuthenticationFailed,
    "invalid_admin_token": AuthenticationFailed,
    "out_of_credits": OutOfCredits,
    "rate_limit_exceeded": RateLimited,
    "model_unavailable": ModelUnavailable,
    "service_unavailable": ServiceUnavailable,
    "job_not_found": NotFound,
    "not_found": NotFound,
    "custom_model_not_found": NotFound,
    "not_your_job": NotAllowed,
    "operation_not_allowed": NotAllowed,
    "image_too_large": TooLarge,
    "pixel_too_large": TooLarge,
    "job_too_large": TooLarge,
    "idempotency_in_progress": Conflict,
    "idempotency_key_reused": Conflict,
    "custom_model_exists": Conflict,
    "job_failed": Conflict,
    "job_not_finished": Conflict,
    "not_ready": Conflict,
}


def error_for(status: int, body: Any, retry_after: float | None = None) -> ApiError:
    """The exception for an error answer (a body that is not the API's envelope still gives
    one, coded `http_<status>`)."""
    body = body if isinstance(body, dict) else {}
    code = str(body.get("error") or f"http_{status}")
    kind = CODES.get(code, InvalidRequest if 400 <= status < 500 else ApiError)
    error = kind(status, code, str(body.get("detail") or ""), body)
    if isinstance(error, RateLimited | ServiceUnavailable):
        error.retry_after = retry_after
    return error
