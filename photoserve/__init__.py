"""The photoserve client (no server dependencies: httpx and pydantic; `rich` for the CLI):
`Client` / `AsyncClient` (photoserve.client), jobs (photoserve.jobs), typed errors
(photoserve.errors), webhook signatures (photoserve.webhooks) and the `photoserve` command's
client verbs (photoserve.cli). Its own distribution, `photoserve-client`: photoserve/pyproject.toml.
"""

from photoserve.backoff import Backoff
from photoserve.client import AsyncClient, Client
from photoserve.errors import (
    ApiError,
    ConnectionFailed,
    JobFailed,
    ModelUnavailable,
    OutOfCredits,
    PhotoserveError,
    RateLimited,
    WaitTimedOut,
)
from photoserve.jobs import AsyncJob, Job

__all__ = [
    "ApiError",
    "AsyncClient",
    "AsyncJob",
    "Backoff",
    "Client",
    "ConnectionFailed",
    "Job",
    "JobFailed",
    "ModelUnavailable",
    "OutOfCredits",
    "PhotoserveError",
    "RateLimited",
    "WaitTimedOut",
]
