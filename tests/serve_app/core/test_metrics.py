"""/metrics: counters kept by the job scripts themselves, histograms, queue gauges, batch
sizes and rate-limit rejections, in valid Prometheus text."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from serve_app.billing import accounts
from serve_app.core import metrics
from serve_app.engine import jobs
from serve_app.engine.jobs import NewJob
from tests.helpers.runtime import ref

OPERATIONS = ("upscale", "enhance")


def samples(text: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


async def submitted(rt, account_id: str, operation: str = "upscale", cost: int = 2) -> NewJob:
    job = NewJob(account_id, operation, cost, {}, "inputs/x.png", 8, 8)
    await jobs.submit(rt, job, 0, "x2")
    return job


async def test_job_and_credit_counters_follow_the_scripts(rt):
    account_id, _ = await accounts.create(rt, 20, "enterprise")
    done, failed, _ = [await submitted(rt, account_id) for _ in range(3)]
    for job in (done, failed):
        await jobs.start(rt, job.job_id, "upscale")
    await jobs.complete(rt, ref(done), 1.0)
    await jobs.fail(rt, ref(failed), "error_inference", "x")
    text = await metrics.render(rt, OPERATIONS)
    assert value(text, "photoserve_jobs_total", operation="upscale", status="accepted") == 3
    assert value(text, "photoserve_jobs_total", operation="upscale", status="done") == 1
    assert value(text, "photoserve_jobs_total", operation="upscale", status="failed") == 1
    assert value(text, "photoserve_credits_total", movement="reserved") == 6
    assert value(text, "photoserve_credits_total", movement="captured") == 2
    assert value(text, "photoserve_credits_total", movement="released") == 2
    assert value(text, "photoserve_queue_depth", operation="upscale") == 1
    assert value(text, "photoserve_queue_oldest_age_seconds", operation="upscale") >= 0
    assert value(text, "photoserve_queue_depth", operation="enhance") == 0


async def test_running_and_oldest_age_from_the_stream(rt):
    from serve_app.engine.dispatcher import ensure_group

    account_id, _ = await accounts.create(rt, 20, "enterprise")
    stream = rt.keys.stream("enhance")
    await ensure_group(rt, stream)
    for _ in range(2):
        await submitted(rt, account_id, "enhance", 1)
    await asyncio.sleep(0.05)
    await rt.redis.xreadgroup(rt.keys.group, "c1", {stream: ">"}, count=1)
    text = await metrics.render(rt, OPERATIONS)
    assert value(text, "photoserve_jobs_running", operation="enhance") == 1
    assert value(text, "photoserve_queue_oldest_age_seconds", operation="enhance") >= 0.05


async def test_latency_histograms_are_cumulative(rt):
    for seconds in (0.2, 0.7, 45.0):
        await metrics.observe_job(rt, "upscale", 3.0, seconds)
    text = await metrics.render(rt, OPERATIONS)
    name = "photoserve_job_processing_seconds"
    assert value(text, name + "_bucket", operation="upscale", le="0.25") == 1
    assert value(text, name + "_bucket", operation="upscale", le="1.0") == 2
    assert value(text, name + "_bucket", operation="upscale", le="+Inf") == 3
    assert value(text, name + "_count", operation="upscale") == 3
    assert value(text, name + "_sum", operation="upscale") == pytest.approx(45.9)
    wait = "photoserve_job_queue_wait_seconds"
    assert value(text, wait + "_bucket", operation="upscale", le="2.5") == 0
    assert value(text, wait + "_bucket", operation="upscale", le="5.0") == 3


async def test_batch_sizes_are_flushed_from_a_replica(rt):
    recorder = metrics.BatchRecorder("Upscaler", interval_s=3600)
    recorder._rt = rt
    for size in (1, 1, 3, 9):
        recorder.sizes[size] += 1
    await recorder.flush()
    text = await metrics.render(rt, OPERATIONS)
    name = "photoserve_batch_size_bucket"
    assert value(text, name, deployment="Upscaler", le="1.0") == 2
    assert value(text, name, deployment="Upscaler", le="4.0") == 3
    assert value(text, name, deployment="Upscaler", le="16.0") == 4


async def test_metrics_route_and_rate_limit_rejections(client, rt):
    _, key = await accounts.create(rt, 10, "free")
    for _ in range(40):
        response = await client.get("/v1/credits", headers={"x-key": key})
        if response.status_code == 429:
            break
    assert response.status_code == 429
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    tiers = [k for k in samples(text) if k[0] == "photoserve_rate_limited_total"]
    assert tiers and sum(samples(text)[k] for k in tiers) >= 1
    assert value(text, "photoserve_queue_depth", operation="inpaint") == 0
