"""The dispatcher with the real network run in-process: lifecycle, failures, backpressure."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from loadtest.photos import encode, photo, photo_bytes
from serve_app.billing import accounts
from serve_app.engine import images, jobs
from serve_app.engine.backends import JobFailure
from serve_app.engine.dispatcher import Dispatcher
from serve_app.engine.jobs import NewJob
from tests.helpers.backends import FailingBackend, LocalUpscaleBackend
from tests.helpers.dispatch import GatedBackend, finished, lanes
from tests.helpers.dispatch import submit_upscale as submit
from tests.helpers.runtime import money, wait_for


@pytest.fixture(scope="module")
def local_backend(weights_dir):
    return LocalUpscaleBackend(weights_dir)


@pytest.fixture
async def running(rt):
    started = []

    async def start(backend, **settings):
        for key, value in settings.items():
            setattr(rt.settings, key, value)
        dispatcher = Dispatcher(rt, lanes({"upscale": backend}), "test-consumer")
        await dispatcher.start()
        started.append(dispatcher)
        return dispatcher

    yield start
    for dispatcher in started:
        await dispatcher.stop()


async def test_job_runs_to_done_and_result_is_the_networks_output(rt, running, local_backend):
    account_id, _ = await accounts.create(rt, 10, "enterprise")
    image = photo("astronaut", 80)
    job = await submit(rt, account_id, encode(image))
    await running(local_backend)
    done = await finished(rt, job.job_id)
    assert done.status == "done" and done.progress == 100
    result = images.decode(await rt.blobs.get(done.result_key)).rgb
    direct = [e async for e in local_backend.stream(image, {"out_width": 320, "out_height": 320})][
        -1
    ]
    assert np.array_equal(result, direct["image"])
    assert await money(rt, account_id) == (9, 0)
    assert await rt.redis.xpending(rt.keys.stream("upscale"), rt.keys.group) == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }


async def test_transparency_survives(rt, running, local_backend):
    account_id, _ = await accounts.create(rt, 10, "enterprise")
    rgba = np.dstack([photo("astronaut", 32), np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1))])
    job = await submit(rt, account_id, encode(rgba), scale=2)
    await running(local_backend)
    done = await finished(rt, job.job_id)
    alpha = images.decode(await rt.blobs.get(done.result_key)).alpha
    assert alpha is not None and alpha.shape == (64, 64)
    assert alpha[:, 0].mean() < 20 and alpha[:, -1].mean() > 230


async def test_corrupt_pixels_fail_the_job_and_give_credits_back(rt, running, local_backend):
    account_id, _ = await accounts.create(rt, 10, "enterprise")
    data = photo_bytes("coffee", size=128, fmt="JPEG")
    job = await submit(rt, account_id, data[: len(data) // 2])
    await running(local_backend)
    failed = await finished(rt, job.job_id)
    assert (failed.status, failed.error_code) == ("failed", "corrupt_image")
    assert await money(rt, account_id) == (10, 0)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (RuntimeError("CUDA out of memory"), "error_inference"),
        (JobFailure("model_unavailable", "not loaded"), "model_unavailable"),
    ],
)
async def test_model_errors_fail_the_job_and_give_credits_back(rt, running, exc, code):
    account_id, _ = await accounts.create(rt, 10, "enterprise")
    job = await submit(rt, account_id, photo_bytes(size=32))
    await running(FailingBackend(exc))
    failed = await finished(rt, job.job_id)
    assert (failed.status, failed.error_code) == ("failed", code)
    assert "CUDA" not in failed.error_detail  # internals stay internal
    assert await money(rt, account_id) == (10, 0)


async def test_progress_is_reported_while_processing(rt, running):
    account_id, _ = await accounts.create(rt, 10, "enterprise")
    job = await submit(rt, account_id, photo_bytes(size=16))
    backend = GatedBackend()
    await running(backend)

    async def half_done():
        stored = await jobs.load(rt, job.job_id)
        return stored.status == "processing" and stored.progress == 50

    await wait_for(half_done)
    backend.gate.set()
    assert (await finished(rt, job.job_id)).progress == 100


async def test_pulls_no_more_than_its_slots(rt, running):
    account_id, _ = await accounts.create(rt, 10, "enterprise")
    submitted = [await submit(rt, account_id, photo_bytes(size=16)) for _ in range(4)]
    backend = GatedBackend()
    await running(backend, dispatch_concurrency=1)
    await wait_for(lambda: asyncio.sleep(0, backend.started == 1))
    await asyncio.sleep(0.3)
    pending = await rt.redis.xpending(rt.keys.stream("upscale"), rt.keys.group)
    assert backend.started == 1 and pending["pending"] == 1
    backend.gate.set()
    for job in submitted:
        assert (await finished(rt, job.job_id)).status == "done"


async def test_duplicate_delivery_of_a_finished_job_is_skipped(rt, running, local_backend):
    account_id, _ = await accounts.create(rt, 10, "enterprise")
    job = await submit(rt, account_id, photo_bytes(size=16))
    dispatcher = await running(local_backend)
    await finished(rt, job.job_id)
    calls = local_backend.calls
    await rt.redis.xadd(rt.keys.stream("upscale"), {"job_id": job.job_id})
    await wait_for(lambda: _no_pending(rt))
    assert local_backend.calls == calls
    assert await money(rt, account_id) == (9, 0)
    assert dispatcher.healthy()


async def _no_pending(rt):
    pending = await rt.redis.xpending(rt.keys.stream("upscale"), rt.keys.group)
    length = await rt.redis.xlen(rt.keys.stream("upscale"))
    info = await rt.redis.xinfo_groups(rt.keys.stream("upscale"))
    return pending["pending"] == 0 and info[0]["last-delivered-id"] != "0-0" and length > 0


async def test_a_busy_operation_does_not_hold_back_another(rt, local_backend):
    """Slots are per operation: enhance jobs stuck in their model leave upscale free."""
    account_id, _ = await accounts.create(rt, 10, "enterprise")
    stuck = GatedBackend()
    rt.settings.dispatch_concurrency = 1
    dispatcher = Dispatcher(rt, lanes({"upscale": local_backend, "enhance": stuck}), "per-op")
    await dispatcher.start()
    try:
        for _ in range(2):
            job = NewJob(account_id, "enhance", 1, {"out_width": 8, "out_height": 8}, "", 8, 8)
            job.input_key = f"inputs/{job.job_id}.png"
            await rt.blobs.put(job.input_key, photo_bytes(size=8))
            await jobs.submit(rt, job, 0, "original")
        await wait_for(lambda: asyncio.sleep(0, stuck.started == 1))
        upscale = await submit(rt, account_id, photo_bytes(size=16))
        assert (await finished(rt, upscale.job_id)).status == "done"
        assert stuck.started == 1  # the second enhance still waits for its slot
        dispatcher.resize({"enhance": 2})  # reconfigure while a slot is taken
        await wait_for(lambda: asyncio.sleep(0, stuck.started == 2))
        stuck.gate.set()
    finally:
        await dispatcher.stop()


async def test_slots_resize_while_taken():
    from serve_app.engine.dispatcher import Slots

    slots = Slots(1)
    await slots.acquire()
    waiter = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0.01)
    assert not waiter.done() and slots.free == 0
    slots.resize(2)
    await asyncio.wait_for(waiter, 1)
    assert slots.used == 2
    slots.resize(1)
    slots.release()
    assert slots.free == 0  # still one over the new size until another release
    slots.release()
    assert slots.free == 1


@pytest.mark.parametrize(("recent_mb", "decodes"), [(64, 2), (0, 3)])
async def test_the_same_file_again_is_decoded_once(
    rt, running, local_backend, monkeypatch, recent_mb, decodes
):
    """Clicks on one photo send the same file each time: the dispatcher decodes it once
    (unless its recent photos are turned off), and every job gets the same result."""
    decoded, decode = [], images.decode

    def counting(data):
        decoded.append(len(data))
        return decode(data)

    monkeypatch.setattr(images, "decode", counting)
    account_id, _ = await accounts.create(rt, 10, "enterprise")
    same, other = encode(photo("astronaut", 48)), encode(photo("coffee", 48))
    await running(local_backend, recent_images_mb=recent_mb)
    done = []
    for data in (same, same, other):  # one after another: concurrent ones may both decode
        done.append(await finished(rt, (await submit(rt, account_id, data)).job_id))
    assert [job.status for job in done] == ["done"] * 3
    assert len(decoded) == decodes
    first, second = [await rt.blobs.get(job.result_key) for job in done[:2]]
    assert first == second


class KeyRecordingBackend:
    """Records the cache key each job's model call is given, then runs the real upscaler."""

    def __init__(self, backend):
        self.backend, self.keys = backend, []

    async def stream(self, image, params):
        self.keys.append(params.get("cache_key"))
        async for event in self.backend.stream(image, params):
            yield event


@pytest.mark.parametrize("recent_mb", [64, 0])
async def test_replicas_key_their_caches_by_the_file_per_account(
    rt, running, local_backend, recent_mb
):
    """The Segmenter keys its embeddings by the dispatcher's digest of the file (hashing the
    pixels again took 60 ms a click at 12 MP): the same for the same file and account, never
    shared between accounts; without one (recent photos off) it hashes the pixels itself."""
    backend = KeyRecordingBackend(local_backend)
    first, _ = await accounts.create(rt, 10, "enterprise")
    second, _ = await accounts.create(rt, 10, "enterprise")
    same, other = encode(photo("astronaut", 32)), encode(photo("coffee", 32))
    await running(backend, recent_images_mb=recent_mb)
    for account, data in ((first, same), (first, same), (second, same), (first, other)):
        assert (await finished(rt, (await submit(rt, account, data)).job_id)).status == "done"
    if not recent_mb:
        assert backend.keys == [None] * 4
        return
    again, alone, other_account, other_file = backend.keys
    assert again == alone and len(again) == 32
    assert len({again, other_account, other_file}) == 3
