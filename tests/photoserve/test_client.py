"""The SDK against the real app (in process, real Redis, jobs run by a dispatcher on the real
Real-ESRGAN weights): submit, progress, wait, download, from_job, the inputs it takes, the
account's verbs, every error code it maps, and retries through injected faults that never
make a second job."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from loadtest.photos import encode, photo
from photoserve import AsyncClient, Backoff, Client, JobFailed, WaitTimedOut, errors
from serve_app.billing import accounts
from serve_app.engine import jobs
from serve_app.engine.backends import JobFailure
from serve_app.ingress import create_app
from tests.helpers.backends import LocalUpscaleBackend
from tests.helpers.dispatch import dispatching
from tests.helpers.faults import (
    DROP_AFTER,
    DROP_BEFORE,
    FORWARD,
    AsyncFaultTransport,
    Faults,
    FaultTransport,
)
from tests.helpers.photo_server import serving
from tests.helpers.runtime import make_settings

PHOTO = photo("astronaut", 48)
QUICK = Backoff(attempts=6, base_s=0.01, cap_s=0.05)


@pytest.fixture
def settings(redis_server, tmp_path, weights_dir):
    return make_settings(redis_server, tmp_path, weights_dir, allow_private_urls=True)


@pytest.fixture(autouse=True)
def no_login(monkeypatch, tmp_path):
    """No PHOTOSERVE_* variables or stored login from the machine running the tests."""
    monkeypatch.delenv("PHOTOSERVE_URL", raising=False)
    monkeypatch.delenv("PHOTOSERVE_API_KEY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def sdk(rt, key: str | None, faults: Faults | None = None, backoff: Backoff = QUICK):
    transport = httpx.ASGITransport(app=create_app(rt), raise_app_exceptions=False)
    if faults is not None:
        transport = AsyncFaultTransport(transport, faults)
    return AsyncClient("http://testserver", key, transport=transport, backoff=backoff)


async def stored_input(rt, job_id: str) -> np.ndarray:
    job = await jobs.load(rt, job_id)
    return np.asarray(Image.open(io.BytesIO(await rt.blobs.get(job.input_key))).convert("RGB"))


async def test_upscale_waits_with_progress_downloads_and_chains(rt, account, weights_dir):
    seen = []
    async with (
        sdk(rt, account[1]) as client,
        dispatching(rt, {"upscale": LocalUpscaleBackend(weights_dir, tile=16)}, "sdk"),
    ):
        job = await client.upscale(encode(PHOTO), scale=2)
        assert (job.status, job.operation or "upscale") == ("queued", "upscale")
        await job.wait(timeout=60, progress=lambda j: seen.append((j.status, j.progress)))
        data = await job.download()
        direct = await client.http.get(f"/v1/jobs/{job.id}/download")
        chained = await client.upscale(job, scale=2, wait=30)
        listed = await client.jobs(limit=2)
    assert data == direct.content
    assert Image.open(io.BytesIO(data)).size == (96, 96)
    assert seen[-1] == ("done", 100) and len(seen) >= 2
    assert chained.done and (chained.width, chained.height) == (192, 192)
    assert [j.id for j in listed] == [chained.id, job.id]
    assert {j.status for j in listed} == {"done"}


@pytest.mark.parametrize("kind", ["path", "bytes", "pil", "numpy", "url"])
async def test_every_kind_of_photo_reaches_the_server_intact(rt, account, tmp_path, kind):
    data = encode(PHOTO)
    with serving({"/p.png": data}) as base:
        given = {
            "path": tmp_path / "p.png",
            "bytes": data,
            "pil": Image.fromarray(PHOTO),
            "numpy": PHOTO,
            "url": f"{base}/p.png",
        }[kind]
        (tmp_path / "p.png").write_bytes(data)
        async with sdk(rt, account[1]) as client:
            job = await client.upscale(given, scale=2)
    assert np.array_equal(await stored_input(rt, job.id), PHOTO)


async def test_a_failed_job_raises_with_its_code(rt, account):
    class Broken:
        async def stream(self, image, params):
            raise JobFailure("error_inference", "the model gave up")
            yield {}

    async with sdk(rt, account[1]) as client, dispatching(rt, {"upscale": Broken()}, "sdk-fail"):
        job = await client.upscale(encode(PHOTO), scale=2)
        with pytest.raises(JobFailed) as failed:
            await job.wait(timeout=30)
    assert (failed.value.code, failed.value.job_id) == ("error_inference", job.id)


async def test_wait_gives_up_after_its_timeout_and_the_job_goes_on(rt, account):
    async with sdk(rt, account[1]) as client:
        job = await client.upscale(encode(PHOTO), scale=2)  # no dispatcher: stays queued
        with pytest.raises(WaitTimedOut):
            await job.wait(timeout=0.3)
        assert (await client.job(job.id)).status == "queued"


async def test_credits_and_key_come_from_the_environment(rt, account, monkeypatch):
    monkeypatch.setenv("PHOTOSERVE_API_KEY", account[1])
    async with sdk(rt, None) as client:
        balance = await client.credits()
    assert balance["credits"]["total"] == 100


async def expect(error: type, call) -> errors.ApiError:
    with pytest.raises(error) as raised:
        await call
    return raised.value


async def test_each_error_code_is_its_own_exception(rt, account):
    other = await accounts.create(rt, 100, "enterprise")
    broke = await accounts.create(rt, 0, "enterprise")
    async with (
        sdk(rt, account[1]) as client,
        sdk(rt, None) as anonymous,
        sdk(rt, "ps_wrong") as wrong,
        sdk(rt, broke[1]) as poor,
        sdk(rt, other[1]) as stranger,
    ):
        missing = await expect(errors.AuthenticationFailed, anonymous.credits())
        invalid = await expect(errors.AuthenticationFailed, wrong.credits())
        credits = await expect(errors.OutOfCredits, poor.upscale(encode(PHOTO), scale=4))
        bad = await expect(errors.InvalidRequest, client.upscale(encode(PHOTO), scale=3))
        unavailable = await expect(errors.ModelUnavailable, client.colorize(encode(PHOTO)))
        job = await client.upscale(encode(PHOTO), scale=2)
        not_yours = await expect(errors.NotAllowed, stranger.job(job.id))
        gone = await expect(errors.NotFound, client.job("job_" + "0" * 24))
        early = await expect(errors.Conflict, client.download(job.id))
    assert (missing.code, invalid.code) == ("missing_key", "invalid_key")
    assert (credits.status, credits.remaining) == (402, 0) and credits.cost > 0
    assert (bad.status, bad.code) == (400, "invalid_parameter")
    assert (unavailable.status, unavailable.code) == (503, "model_unavailable")
    assert (not_yours.code, gone.code, early.code) == ("not_your_job", "job_not_found", "not_ready")


async def test_rate_limited_carries_retry_after(rt):
    _, key = await accounts.create(rt, 0, "free")  # 10 submits a minute
    async with sdk(rt, key, backoff=Backoff(attempts=1)) as client:
        for _ in range(10):
            await expect(errors.InvalidRequest, client.upscale(encode(PHOTO), scale=3))
        limited = await expect(errors.RateLimited, client.upscale(encode(PHOTO), scale=2))
    assert limited.status == 429 and limited.limit == 10
    assert 1 <= limited.retry_after <= 60


async def submitted(rt, account_id: str) -> int:
    return await rt.redis.zcard(rt.keys.jobs(account_id))


async def test_retries_through_faults_make_exactly_one_job(rt, account):
    faults = Faults([DROP_AFTER, 429, 503, DROP_BEFORE, DROP_AFTER])
    async with sdk(rt, account[1], faults) as client:
        job = await client.upscale(encode(PHOTO), scale=2)
        balance = await client.credits()
    assert faults.requests == 7  # six tries of the submit, one balance
    assert faults.forwarded.count("POST /v1/upscale") == 3  # two answers lost on the way back
    assert await submitted(rt, account[0]) == 1
    assert (await jobs.load(rt, job.id)).status == "queued"
    assert balance["held"] == job.cost


async def test_concurrent_submits_under_random_faults_each_make_one_job(rt, account):
    plan = [DROP_AFTER, 429, DROP_BEFORE, 503, DROP_AFTER, FORWARD, FORWARD, FORWARD] * 2
    patient = Backoff(attempts=20, base_s=0.01, cap_s=0.05)  # faults may come in a row
    async with sdk(rt, account[1], Faults(plan), patient) as client:
        found = await asyncio.gather(*(client.upscale(encode(PHOTO), scale=2) for _ in range(8)))
    assert len({job.id for job in found}) == 8
    assert await submitted(rt, account[0]) == 8


async def test_connection_errors_give_up_after_the_bound(rt, account):
    faults = Faults([DROP_BEFORE] * 10)
    async with sdk(rt, account[1], faults, Backoff(attempts=3, base_s=0.01)) as client:
        with pytest.raises(errors.ConnectionFailed):
            await client.credits()
    assert faults.requests == 3


def test_the_sync_client_on_a_real_socket_retries_without_a_second_job(http_server, account):
    faults = Faults([DROP_AFTER, 503, DROP_BEFORE])
    transport = FaultTransport(httpx.HTTPTransport(), faults)
    with Client(http_server, account[1], transport=transport, backoff=QUICK) as client:
        job = client.upscale(encode(PHOTO), scale=2)
        listed = client.jobs()
        again = client.job(job.id)
        balance = client.credits()
    assert [j.id for j in listed] == [job.id]  # the server's own list: one job
    assert faults.forwarded.count("POST /v1/upscale") == 2  # the first answer was lost
    assert again.status == "queued" and balance["held"] == job.cost


def readme_quick_start() -> str:
    """The first Python block of the README: the SDK in five lines."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    return text.split("```python\n", 1)[1].split("```", 1)[0]


async def test_the_readme_quick_start_runs(rt, account, http_server, weights_dir, tmp_path):
    snippet = readme_quick_start()
    snippet = snippet.replace("http://127.0.0.1:8000", http_server).replace("ps_…", account[1])
    (tmp_path / "photo.jpg").write_bytes(encode(PHOTO, "JPEG"))
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        async with dispatching(rt, {"upscale": LocalUpscaleBackend(weights_dir, 16)}, "readme"):
            await asyncio.to_thread(exec, compile(snippet, "README.md", "exec"), {})
    finally:
        os.chdir(here)
    assert Image.open(tmp_path / "photo_x4.png").size == (192, 192)
