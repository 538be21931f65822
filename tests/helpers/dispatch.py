"""Running jobs in the test process: lanes for the dispatcher, an upscale job submitted as the
gateway would, waiting for its end, and a backend the test holds at half way."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import numpy as np

from serve_app import operations
from serve_app.core.keyspace import Blobs
from serve_app.engine import images, jobs
from serve_app.engine.backends import Lane
from serve_app.engine.dispatcher import Dispatcher
from serve_app.engine.jobs import Job, NewJob
from tests.helpers.runtime import wait_for


def lanes(backends: dict) -> dict[str, Lane]:
    """operation -> its lane, with the operation's own result kind."""
    return {
        name: Lane(backend, result=operations.get(name).result)
        for name, backend in backends.items()
    }


@asynccontextmanager
async def dispatching(rt, backends: dict, name: str):
    """A dispatcher running the given backends for the length of the block."""
    dispatcher = Dispatcher(rt, lanes(backends), name)
    await dispatcher.start()
    try:
        yield dispatcher
    finally:
        await dispatcher.stop()


async def submit_upscale(rt, account_id, data: bytes, scale=4, fmt="png") -> NewJob:
    info = images.inspect(data, 10_000_000, 2048)
    params = {
        "model": "realesr-animevideov3",
        "scale": scale,
        "size": None,
        "out_width": info.width * scale,
        "out_height": info.height * scale,
        "output_format": fmt,
        "cost": 1,
    }
    job = NewJob(account_id, "upscale", 1, params, "", info.width, info.height)
    job.input_key = Blobs.input(job.job_id, info.format)
    await rt.blobs.put(job.input_key, data)
    await jobs.submit(rt, job, 0, "x2")
    return job


async def finished(rt, job_id) -> Job:
    async def check():
        job = await jobs.load(rt, job_id)
        return job if job.finished else None

    return await wait_for(check)


class GatedBackend:
    """Reports half the work, then waits until the test lets it finish."""

    def __init__(self):
        self.gate = asyncio.Event()
        self.started = 0

    async def stream(self, image, params):
        self.started += 1
        yield {"progress": 0.5}
        await self.gate.wait()
        yield {"image": np.zeros((params["out_height"], params["out_width"], 3), np.uint8)}
