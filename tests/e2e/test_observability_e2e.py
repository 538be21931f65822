"""Through the real service: /metrics counts the jobs that ran, and every dispatcher log line
about a job is a JSON object carrying its job id and account."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from loadtest.photos import photo
from tests.helpers.service import poll, submit

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def metric(text: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def job_log_lines(logs_dir: Path, job_id: str) -> list[dict]:
    found = []
    for path in logs_dir.glob("worker-*.err"):
        for line in path.read_text(errors="replace").splitlines():
            if job_id in line and line.lstrip().startswith("{"):
                found.append(json.loads(line))
    return found


def test_metrics_and_json_logs_follow_a_job(service, key, customer, handles):
    job_id = submit(service, key, photo("astronaut", 64), scale="2")
    assert poll(service, key, job_id)["status"] == "done"
    text = httpx.get(f"{service['url']}/metrics").text
    assert metric(text, "photoserve_jobs_total", operation="upscale", status="done") >= 1
    assert metric(text, "photoserve_credits_total", movement="captured") >= 1
    assert metric(text, "photoserve_job_processing_seconds_count", operation="upscale") >= 1
    assert metric(text, "photoserve_queue_depth", operation="upscale") == 0

    import ray

    handles("Dispatcher")
    logs_dir = Path(ray._private.worker._global_node.get_logs_dir_path())
    lines = job_log_lines(logs_dir, job_id)
    assert lines, f"no JSON log line about {job_id} under {logs_dir}"
    for line in lines:
        assert line["job_id"] == job_id and line["account"] == customer["account_id"]
