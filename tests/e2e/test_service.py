"""End to end through real Ray Serve (the service of tests/e2e/conftest.py): a real photo
upscaled through HTTP equals a direct call of the Upscaler deployment through its handle."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time

import httpx
import numpy as np
import psutil
import pytest

from loadtest.photos import encode, photo
from serve_app.engine import images
from serve_app.process import instance
from tests.helpers.service import cli, poll, submit

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def direct_upscale(handles, image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The Upscaler deployment's own output, called through its DeploymentHandle."""
    handle = handles("Upscaler").options(stream=True)
    events = list(handle.upscale.remote(image, "realesr-animevideov3", width, height))
    return events[-1]["image"]


def test_fast_x4_of_a_real_photo_end_to_end(service, key, handles):
    url, headers = service["url"], {"Authorization": f"Bearer {key}"}
    image = photo("astronaut", 128)
    started = time.monotonic()
    files = {"image": ("a.png", encode(image))}
    data = {"scale": "4", "model": "fast"}
    response = httpx.post(f"{url}/v1/upscale", headers=headers, files=files, data=data)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    seen_progress = set()
    while True:
        body = httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers).json()
        seen_progress.add(body["progress"])
        if body["status"] in ("done", "failed"):
            break
        assert time.monotonic() - started < 120
        time.sleep(0.05)
    print(f"\n128x128 fast x4: {time.monotonic() - started:.2f} s submit to done (client side)")
    assert body["status"] == "done", body
    assert (body["width"], body["height"]) == (512, 512)
    download = httpx.get(body["result_url"], headers={"x-api-key": key})
    assert download.status_code == 200 and download.headers["content-type"] == "image/png"
    result = images.decode(download.content).rgb
    assert result.shape == (512, 512, 3)
    assert np.array_equal(result, direct_upscale(handles, image, 512, 512))


def test_a_result_over_4_mb_crosses_the_deployments(service, key):
    """1600x1600 RGB is 7.7 MB: more than gRPC's default message cap between deployments."""
    job_id = submit(service, key, photo("coffee", 400), scale="4")
    body = poll(service, key, job_id)
    assert body["status"] == "done", body
    assert (body["width"], body["height"]) == (1600, 1600)


def test_models_report_loaded_weights(service):
    models = httpx.get(f"{service['url']}/v1/models").json()["models"]
    assert {m["alias"]: m["loaded"] for m in models if m["operation"] == "upscale"} == {
        "fast": True,
        "quality": True,
        "anime": True,
    }


def test_bad_input_through_serve_is_an_envelope_not_a_500(service, key):
    response = httpx.post(
        f"{service['url']}/v1/upscale",
        headers={"x-key": key},
        content=b"{oops",
        timeout=10,
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_json"


def test_cli_creates_an_account_through_the_admin_api(service):
    out = cli(service, "accounts", "create", "--credits", "7", "--plan", "enterprise")
    assert out.returncode == 0, out.stderr
    key = json.loads(out.stdout)["api_key"]
    response = httpx.get(f"{service['url']}/v1/credits", headers={"x-api-key": key})
    assert response.json()["credits"]["total"] == 7
    assert response.headers["x-ratelimit-limit"] == "600"  # enterprise credits class


def test_cli_audit_is_clean_after_a_job(service, customer, handles):
    test_fast_x4_of_a_real_photo_end_to_end(service, customer["api_key"], handles)
    out = cli(service, "credits", "audit", customer["account_id"])
    assert out.returncode == 0 and "ledger audit: clean" in out.stdout, out.stdout + out.stderr
    ledger = json.loads(cli(service, "credits", "ledger", customer["account_id"]).stdout)
    assert [e["type"] for e in ledger["entries"]][:2] == ["capture", "reserve"]


def test_its_http_listeners_are_on_loopback_and_on_ports_of_its_own(service):
    """Serve's defaults (8404, 9101, 8500, 30000 up, /tmp/haproxy-serve) would collide with
    another photoserve on the machine, and HAProxy's side listeners would face the network."""
    configs = list((service["data_dir"] / "haproxy").rglob("haproxy.cfg"))
    assert configs
    binds = [line.split()[1] for line in configs[0].read_text().splitlines() if "bind " in line]
    assert binds and all(b.startswith("127.0.0.1:") for b in binds), binds
    ports = {int(b.rsplit(":", 1)[1]) for b in binds}
    assert not ports & {8000, 8404, 9101, 8500}


def test_nothing_it_started_listens_beyond_loopback(service):
    """Ray's servers bind every interface unless the node's address is loopback, and three
    of its Prometheus exporters answer there without Ray's token."""
    listening = [
        (pid, address)
        for pid in instance.leftovers(service["data_dir"])
        for address in listening_addresses(pid)
    ]
    assert len({pid for pid, _ in listening}) >= 5, listening  # Ray, Serve, HAProxy, Redis
    assert [(pid, ip) for pid, (ip, _) in listening if not is_loopback(ip)] == []


def test_a_tool_attaches_to_its_ray_on_loopback_even_after_importing_ray(service):
    """Ray reads its node address mode and token mode when imported: a tool (a benchmark's
    --url) that imported it first still finds this service's Ray, and sees it on loopback."""
    script = (
        "import sys, ray; from pathlib import Path; from serve_app.process import local_ray; "
        "local_ray.connect(Path(sys.argv[1])); print(ray.nodes()[0]['NodeManagerAddress'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(service["data_dir"])],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "127.0.0.1"


def listening_addresses(pid: int) -> list[tuple[str, int]]:
    try:
        connections = psutil.Process(pid).net_connections("inet")
    except psutil.Error:  # gone meanwhile
        return []
    return [tuple(c.laddr) for c in connections if c.status == psutil.CONN_LISTEN]


def is_loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


@pytest.mark.stops_service
def test_ctrl_c_stops_in_order_and_hands_running_work_back(service, customer):
    """Runs last (stops_service): Ctrl-C in the service's terminal (SIGINT to its process
    group) with a job running. Intake stops, the job gets the grace (3 s here) and is handed
    back, Serve and Ray stop, Redis last: within 20 s, without an error in the log, and
    nothing the service started is left."""
    import ray
    import redis

    from serve_app.process.embedded_redis import EmbeddedRedis

    ray.shutdown()  # the test's own driver connection, if any
    key, running = customer["api_key"], service["running"]
    # ~20 s of work on this CPU: still running when the grace ends
    job_id = submit(service, key, photo("astronaut", 256), model="quality", scale="2")
    poll(service, key, job_id, until=("processing",), timeout_s=60)
    logged = running.log_path.stat().st_size
    started = time.monotonic()
    running.interrupt()
    assert running.process.wait(60) == 0
    took = time.monotonic() - started
    print(f"\nCtrl-C with a job running: stopped in {took:.1f} s")
    assert took <= 20
    after = running.log_path.read_text()[logged:]
    assert not [line for line in after.splitlines() if "ERROR" in line or "Traceback" in line]
    assert "handed back to the queue" in after
    assert instance.leftovers(service["data_dir"]) == []

    stored = EmbeddedRedis(service["data_dir"] / "redis").start()  # the service's own data
    try:
        r = redis.Redis.from_url(stored.url, decode_responses=True)
        job = r.hgetall(f"ps:job:{job_id}")
        # handed back: queued again, its credits still reserved, a fresh entry in the stream
        assert job["status"] == "queued", job
        assert r.hget(f"ps:hold:{job_id}", "state") == "held"
        assert r.xpending("ps:stream:upscale", "dispatch")["pending"] == 0
        assert r.xrange("ps:stream:upscale")[-1][1]["job_id"] == job_id
    finally:
        stored.stop()
