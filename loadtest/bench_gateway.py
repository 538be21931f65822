"""Gateway benchmark: the same FastAPI app on plain uvicorn and behind Ray Serve, side by side.

    python -m loadtest.bench_gateway [--seconds 15] [--connections 50]

Both serve the same Redis holding the same data (1,000 finished jobs across 50 accounts),
with the rate limiter on (a plan whose limits are high enough never to answer 429, so every
request still pays for the check). Load comes from `wrk` (apt install wrk) in another
process: status polls (`GET /v1/jobs/{id}`, keys and jobs rotating) and submits
(`POST /v1/upscale`, a 32x32 PNG as JSON base64; the dispatcher is off, so this is the submit
path alone). Prints req/s, p50 and p99, and the ratio Serve / uvicorn.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from loadtest.photos import photo_bytes
from loadtest.service import ROOT, LocalService, scratch
from serve_app.process.embedded_redis import EmbeddedRedis, free_port

ACCOUNTS, JOBS_EACH = 50, 20
PLANS = """
costs:
  upscale:
    scale: {2: 1, 4: 2}
    size: {HD: 1, FHD: 1, 2K: 2, 4K: 4}
plans:
  bench:
    free_daily: 0
    operations: ["*"]
    rate_limits: {upload: 1000000, status: 1000000, result: 1000000, credits: 1000000,
                  rotate: 1000000, webhook: 1000000}
anonymous:
  rate_limits: {auth: 1000000}
"""


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


async def seed(redis_url: str, env: dict[str, str]) -> list[tuple[str, str]]:
    """(job path, key) pairs: ACCOUNTS accounts with JOBS_EACH finished jobs each."""
    from serve_app.billing import accounts
    from serve_app.core.keyspace import Blobs
    from serve_app.core.runtime import Runtime
    from serve_app.core.settings import Settings
    from serve_app.engine import jobs
    from serve_app.engine.jobs import JobStatus, NewJob

    settings = Settings(
        redis_url=redis_url,
        key_secret=env["PHOTOSERVE_KEY_SECRET"],
        url_secret=env["PHOTOSERVE_URL_SECRET"],
        admin_token=env["PHOTOSERVE_ADMIN_TOKEN"],
        plans_file=Path(env["PHOTOSERVE_PLANS_FILE"]),
    )
    rt = Runtime.create(settings)
    pairs = []
    for _ in range(ACCOUNTS):
        account_id, key = await accounts.create(rt, 100_000_000, "bench")
        for _ in range(JOBS_EACH):
            job = NewJob(
                account_id,
                "upscale",
                1,
                {
                    "model": "realesr-animevideov3",
                    "scale": 2,
                    "out_width": 64,
                    "out_height": 64,
                    "output_format": "png",
                },
                "inputs/none.png",
                32,
                32,
            )
            await jobs.submit(rt, job, 0, "x2")
            await jobs.transition(rt, job.job_id, {JobStatus.QUEUED}, JobStatus.PROCESSING)
            await jobs.complete(
                rt,
                jobs.Job(job.job_id, account_id, "upscale"),
                0.5,
                result_key=Blobs.result(job.job_id, "png"),
                width=64,
                height=64,
            )
            pairs.append((f"/v1/jobs/{job.job_id}", key))
    await rt.close()
    return pairs


def wrk_scripts(folder: Path, pairs: list[tuple[str, str]]) -> tuple[Path, Path]:
    status = folder / "status.lua"
    entries = ",\n".join(f'  {{"{path}", "{key}"}}' for path, key in pairs)
    status.write_text(
        f"local pairs = {{\n{entries}\n}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n  local p = pairs[(i % #pairs) + 1]\n"
        '  return wrk.format("GET", p[1], {["x-key"] = p[2]})\nend\n'
    )
    image = base64.b64encode(photo_bytes("astronaut", size=32)).decode()
    keys = ",\n".join(f'  "{key}"' for key in sorted({key for _, key in pairs}))
    submit = folder / "submit.lua"
    submit.write_text(
        f"local keys = {{\n{keys}\n}}\nlocal i = 0\n"
        f'local body = \'{{"image_base64": "{image}", "scale": 2}}\'\n'
        "request = function()\n  i = i + 1\n"
        '  return wrk.format("POST", "/v1/upscale", {["x-key"] = keys[(i % #keys) + 1],'
        ' ["Content-Type"] = "application/json"}, body)\nend\n'
    )
    return status, submit


def wrk(url: str, script: Path, seconds: int, connections: int) -> Result:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return Result(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p50_ms=_ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        p99_ms=_ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
        errors=int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0,
    )


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def start_uvicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "serve_app.ingress:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("uvicorn did not start")


def measure(url: str, scripts, seconds: int, connections: int) -> dict[str, Result]:
    status, submit = scripts
    wrk(url, status, 3, connections)  # warm up
    return {
        "status": wrk(url, status, seconds, connections),
        "submit": wrk(url, submit, seconds, connections),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--serve-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the Serve run (to compare ingress settings)",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    with scratch("bench-gateway-") as folder:
        (folder / "plans.yaml").write_text(PLANS)
        redis = EmbeddedRedis(folder / "redis").start()
        weights = Path(".photoserve/weights").resolve()
        env = {
            "PHOTOSERVE_REDIS_URL": redis.url,
            # fresh for each run: the service refuses short or well-known secrets
            "PHOTOSERVE_KEY_SECRET": secrets.token_urlsafe(32),
            "PHOTOSERVE_URL_SECRET": secrets.token_urlsafe(32),
            "PHOTOSERVE_ADMIN_TOKEN": secrets.token_urlsafe(32),
            "PHOTOSERVE_PLANS_FILE": str(folder / "plans.yaml"),
            "PHOTOSERVE_DATA_DIR": str(folder / "data"),
            "PHOTOSERVE_DISPATCH_ENABLED": "0",
            **({"PHOTOSERVE_WEIGHTS_DIR": str(weights)} if weights.is_dir() else {}),
        }
        try:
            pairs = asyncio.run(seed(redis.url, env))
            scripts = wrk_scripts(folder, pairs)
            port = free_port()
            uvicorn = start_uvicorn(env, port)
            try:
                plain = measure(f"http://127.0.0.1:{port}", scripts, args.seconds, args.connections)
            finally:
                uvicorn.terminate()
                uvicorn.wait(30)
            service_env = {**env, "REDIS_URL": redis.url}
            service_env.update(item.split("=", 1) for item in args.serve_env)
            service_env.pop("PHOTOSERVE_DATA_DIR")
            service = LocalService(folder / "service", env=service_env).start()
            try:
                served = measure(service.url, scripts, args.seconds, args.connections)
            finally:
                service.stop()
        finally:
            redis.stop()
    report(plain, served, args)


def report(plain: dict[str, Result], served: dict[str, Result], args) -> None:
    print(
        f"\n{ACCOUNTS * JOBS_EACH} jobs across {ACCOUNTS} accounts, rate limiter on, wrk -t2 "
        f"-c{args.connections}, {args.seconds} s each"
    )
    print(
        f"{'':22}{'uvicorn req/s':>14}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'Serve req/s':>13}{'p50 ms':>8}{'p99 ms':>8}{'ratio':>7}"
    )
    for name, label in (("status", "GET /v1/jobs/{id}"), ("submit", "POST /v1/upscale")):
        a, b = plain[name], served[name]
        print(
            f"{label:22}{a.rps:14.0f}{a.p50_ms:8.1f}{a.p99_ms:8.1f}"
            f"{b.rps:13.0f}{b.p50_ms:8.1f}{b.p99_ms:8.1f}{b.rps / a.rps:7.2f}"
        )
        if a.errors or b.errors:
            print(f"  non-2xx: uvicorn {a.errors}, Serve {b.errors}")


if __name__ == "__main__":
    main()
