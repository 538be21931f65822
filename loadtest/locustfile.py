"""Locust users that follow the vendor flows against a running photoserve.

    make loadtest                     # against `make run` on 127.0.0.1:8000, then the report
    locust -f loadtest/locustfile.py --host http://127.0.0.1:8000 --headless -u 20 -r 5 -t 2m

At test start a few accounts are created through the admin API (token from
PHOTOSERVE_ADMIN_TOKEN or .photoserve/admin_token), with small balances and the free plan's low
limits next to enterprise ones, so that 402 out_of_credits and 429 rate_limit_exceeded really
happen. Each simulated user takes one of them (round robin) and repeats its vendor's flow:

  NativeUser      multipart POST /v1/upscale (x2/x4, fast), /v1/enhance, /v1/remove-background;
                  polls GET /v1/jobs/{id}, downloads result_url
  SyncUser        JSON POST /v1/upscale?wait=20; polls only when the wait runs out
  PndUser         PND AI: POST /api/upload/ (x-key, image_base64, size HD), /api/status/,
                  /api/result/
  PixelForgeUser  PixelForge: POST /api/v1/enhance (Bearer), GET /api/v1/jobs/{id}, result_url

Everything the report needs goes to one JSONL run file (PHOTOSERVE_LOADTEST_JOBS, default
loadtest-jobs.jsonl, truncated at test start): the accounts, every accepted job, the outcome of
each job a user saw finish, and at the end the count of every error code answered.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests
from locust import HttpUser, between, events, task
from locust.exception import StopUser

from loadtest.photos import encode, photo
from serve_app.process import local_state

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 60  # per request; sync submits hold up to 20 s on their own
POLL_DEADLINE_S = 240  # a user gives up on a job after this; the report still checks it
SYNC_WAIT_S = 20
# Refusals the service is designed to give under this load: counted by code under their own
# stats rows ("POST /v1/upscale [out_of_credits]"), not as failures of the test.
REFUSALS = {"out_of_credits", "rate_limit_exceeded", "model_unavailable"}
# plan:credits, one account each. Two small free accounts shared by several users hit the
# free plan's 10 uploads and 60 polls a minute; the 40-credit ones run dry within a minute.
DEFAULT_ACCOUNTS = "free:40,free:60,enterprise:40,enterprise:200,api-monthly:100,enterprise:200"


@dataclass(frozen=True)
class Photo:
    name: str
    data: bytes
    filename: str
    content_type: str

    @property
    def b64(self) -> str:
        return base64.b64encode(self.data).decode()


def _photo(name: str, size: int, fmt: str) -> Photo:
    ext, ctype = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg")}[fmt]
    options = {"quality": 90} if fmt == "JPEG" else {}
    data = encode(photo(name, size), fmt, **options)
    return Photo(f"{name}-{size}", data, f"{name}-{size}.{ext}", ctype)


# Encoded once at import: users only pick one, so the load generator spends no CPU on images.
PHOTOS = [
    _photo("astronaut", 128, "PNG"),
    _photo("coffee", 256, "JPEG"),
    _photo("chelsea", 192, "PNG"),
    _photo("camera", 64, "PNG"),
    _photo("rocket", 160, "JPEG"),
    _photo("astronaut", 256, "JPEG"),
]


class RunFile:
    """The JSONL run file shared by all users (one gevent thread: plain writes are safe)."""

    def __init__(self) -> None:
        self.handle = None

    def open(self, path: str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(path, "w", buffering=1)  # noqa: SIM115 - open for the whole run

    def write(self, record: dict) -> None:
        if self.handle is not None:
            self.handle.write(json.dumps(record) + "\n")

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


RUN = RunFile()
ACCOUNTS: list[dict] = []
CODES: Counter[str] = Counter()  # "429 rate_limit_exceeded" -> responses
_next_account = itertools.count()


def admin_token() -> str | None:
    data_dir = Path(os.environ.get("PHOTOSERVE_DATA_DIR") or ROOT / ".photoserve")
    return local_state.admin_token(data_dir.resolve())


def account_specs() -> list[tuple[str, int]]:
    text = os.environ.get("PHOTOSERVE_LOADTEST_ACCOUNTS") or DEFAULT_ACCOUNTS
    specs = [item.split(":") for item in text.split(",") if item.strip()]
    return [(plan.strip(), int(credits)) for plan, credits in specs]


def create_accounts(host: str, token: str) -> list[dict]:
    headers = {"Authorization": f"Bearer {token}"}
    made = []
    for plan, credits in account_specs():
        response = requests.post(
            f"{host}/admin/accounts", json={"credits": credits, "plan": plan}, headers=headers
        )
        response.raise_for_status()
        made.append(response.json())
    return made


@events.test_start.add_listener
def on_test_start(environment, **_kwargs) -> None:
    RUN.open(os.environ.get("PHOTOSERVE_LOADTEST_JOBS", "loadtest-jobs.jsonl"))
    RUN.write({"type": "run", "event": "start", "t": time.time(), "host": environment.host})
    token = admin_token()
    if not token:
        # the users find no account and stop the run (a listener cannot stop it cleanly)
        logging.error("no admin token: set PHOTOSERVE_ADMIN_TOKEN or run `make run` first")
        return
    try:
        made = create_accounts(environment.host.rstrip("/"), token)
    except requests.RequestException as exc:
        logging.error("could not create the load test's accounts: %s", exc)
        return
    for account in made:
        ACCOUNTS.append(account)
        RUN.write({"type": "account", **account})


@events.test_stop.add_listener
def on_test_stop(environment, **_kwargs) -> None:
    RUN.write({"type": "codes", "counts": dict(CODES)})
    RUN.write({"type": "run", "event": "stop", "t": time.time()})
    RUN.close()


def error_code(response) -> str:
    if response.status_code == 0:
        return "no_response"
    try:
        body = response.json()
    except ValueError:
        return "not_json"
    if not isinstance(body, dict):
        return "not_an_object"
    return body.get("error") or "-"


def retry_after(response, default: float = 5.0) -> float:
    try:
        return min(60.0, max(1.0, float(response.headers.get("retry-after", default))))
    except ValueError:
        return default


def epoch(iso: str | None) -> float:
    """The server's completed_at, or now when the surface does not report it (PND)."""
    return datetime.fromisoformat(iso).timestamp() if iso else time.time()


def outcome_of(body: dict) -> tuple[str, str | None]:
    """(done|failed|other, error code); PND says "error" for failed and gives the code bare."""
    status = {"error": "failed"}.get(body.get("status"), body.get("status"))
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else error
    return status, code


class JobFailed(Exception):
    pass


class FlowUser(HttpUser):
    """One vendor's client: submit a photo, poll with back-off, download the result."""

    abstract = True
    wait_time = between(1, 3)
    status_name = "GET /v1/jobs/[id]"
    download_name = "GET /v1/jobs/[id]/download"

    def on_start(self) -> None:
        if not ACCOUNTS:  # test start could not create them (logged): nothing to test
            self.environment.process_exit_code = 1
            self.environment.runner.quit()
            raise StopUser()
        self.account = ACCOUNTS[next(_next_account) % len(ACCOUNTS)]
        self.key = self.account["api_key"]

    def status_path(self, job_id: str) -> str:
        return f"/v1/jobs/{job_id}"

    def auth(self) -> dict[str, str]:
        return {"x-api-key": self.key}

    def call(self, method: str, url: str, name: str, expect=(200,), **kwargs):
        """One request, classified: expected statuses succeed; designed refusals succeed under
        a row of their own; anything else is a failure. Every error code is counted."""
        kwargs.setdefault("headers", self.auth())
        with self.client.request(
            method, url, name=name, catch_response=True, timeout=TIMEOUT_S, **kwargs
        ) as response:
            if response.status_code in expect:
                response.success()
                return response
            code = error_code(response)
            CODES[f"{response.status_code} {code}"] += 1
            if code in REFUSALS:
                response.request_meta["name"] = f"{name} [{code}]"
                response.success()
            else:
                response.failure(f"HTTP {response.status_code} {code}")
        return response

    def flow(self, label: str, path: str, name: str, **request) -> None:
        started = time.monotonic()
        response = self.call("POST", path, name, expect=(200, 202), **request)
        body = response.json() if response.status_code in (200, 202) else {}
        if not body.get("job_id"):
            self.after_refusal(response)
            return
        job_id = body["job_id"]
        account_id = self.account["account_id"]
        RUN.write({"type": "job", "job_id": job_id, "account_id": account_id, "flow": label})
        if outcome_of(body)[0] not in ("done", "failed"):
            body = self.poll(job_id)
        if body is not None:
            self.finished(label, job_id, body, started)

    def after_refusal(self, response) -> None:
        if response.status_code == 429:
            time.sleep(retry_after(response))  # as a client should: wait as told
        elif response.status_code == 402:
            time.sleep(random.uniform(3, 6))  # a real client would stop; we keep the pressure

    def poll(self, job_id: str) -> dict | None:
        """Every 2-3 s, growing by half each time up to 10 s; the server's polling_interval
        and a 429's Retry-After take precedence. None when the job is gone or too slow."""
        delay, deadline = random.uniform(2, 3), time.monotonic() + POLL_DEADLINE_S
        while time.monotonic() < deadline:
            time.sleep(delay)
            response = self.call("GET", self.status_path(job_id), self.status_name)
            if response.status_code == 429:
                delay = retry_after(response)
                continue
            if 400 <= response.status_code < 500:
                return None  # 404 and the like: already a failure in the stats
            delay = min(delay * 1.5, 10.0)
            if response.status_code == 200:
                body = response.json()
                if outcome_of(body)[0] in ("done", "failed"):
                    return body
                delay = body.get("polling_interval") or delay
        return None

    def finished(self, label: str, job_id: str, body: dict, started: float) -> None:
        status, code = outcome_of(body)
        completed = epoch(body.get("completed_at"))
        RUN.write(
            {
                "type": "outcome",
                "job_id": job_id,
                "status": status,
                "error": code,
                "completed_at": completed,
            }
        )
        self.environment.events.request.fire(
            request_type="JOB",
            name=label,
            response_time=(time.monotonic() - started) * 1000,
            response_length=0,
            exception=JobFailed(code) if status == "failed" else None,
            context={},
        )
        if status == "done":
            self.download(body["result_url"])

    def download(self, url: str) -> None:
        for _attempt in range(2):
            response = self.call("GET", url, self.download_name)
            if response.status_code != 429:
                break
            time.sleep(retry_after(response))
        if response.status_code == 200 and not response.content:
            CODES["200 empty_result"] += 1


def multipart(picture: Photo) -> dict:
    return {"image": (picture.filename, picture.data, picture.content_type)}


class NativeUser(FlowUser):
    """photoserve's own API, multipart uploads."""

    weight = 4

    @task(4)
    def upscale(self) -> None:
        scale = random.choice(("2", "4"))
        self.flow(
            f"upscale x{scale}",
            "/v1/upscale",
            "POST /v1/upscale",
            files=multipart(random.choice(PHOTOS)),
            data={"scale": scale, "model": "fast"},
        )

    @task(2)
    def enhance(self) -> None:
        data = {"color": str(random.randint(-3, 3))}
        files = multipart(random.choice(PHOTOS))
        self.flow("enhance", "/v1/enhance", "POST /v1/enhance", files=files, data=data)

    @task(1)
    def remove_background(self) -> None:
        # U²-Net weights do not ship in a wheel: without them this is 503 model_unavailable
        files = multipart(random.choice(PHOTOS))
        self.flow(
            "remove-background",
            "/v1/remove-background",
            "POST /v1/remove-background",
            files=files,
            data={"format": "png"},
        )


class SyncUser(FlowUser):
    """Sync mode: the submit holds until the job is finished (JSON, base64)."""

    weight = 1

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    @task
    def upscale_and_wait(self) -> None:
        body = {"image_base64": random.choice(PHOTOS).b64, "scale": 2, "model": "fast"}
        self.flow(
            "upscale x2 (wait)",
            f"/v1/upscale?wait={SYNC_WAIT_S}",
            f"POST /v1/upscale?wait={SYNC_WAIT_S}",
            json=body,
        )


class PndUser(FlowUser):
    """PND AI's client: x-key, JSON base64 upload to a size tier, /api/status/, /api/result/."""

    weight = 2
    status_name = "GET /api/status/?job_id=[id]"
    download_name = "GET /api/result/?job_id=[id]"

    def auth(self) -> dict[str, str]:
        return {"x-key": self.key}

    def status_path(self, job_id: str) -> str:
        return f"/api/status/?job_id={job_id}"

    @task
    def upload(self) -> None:
        picture = random.choice(PHOTOS)
        body = {"image_base64": picture.b64, "size": "HD"}
        self.flow("pnd upload HD", "/api/upload/", "POST /api/upload/", json=body)


class PixelForgeUser(FlowUser):
    """PixelForge's client: base URL /api/v1, Bearer key."""

    weight = 2
    status_name = "GET /api/v1/jobs/[id]"

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def status_path(self, job_id: str) -> str:
        return f"/api/v1/jobs/{job_id}"

    @task
    def enhance(self) -> None:
        files = multipart(random.choice(PHOTOS))
        self.flow(
            "pixelforge enhance",
            "/api/v1/enhance",
            "POST /api/v1/enhance",
            files=files,
            data={"strength": "0.8"},
        )
