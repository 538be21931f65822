"""Memory of the model replicas: each one's peak during a large job and its RSS 30 s after,
against its warmed-up baseline, on a service started the way `make run` starts it.

    python -m loadtest.bench_memory [--models FILE] [--idle 30]

`--models` is a PHOTOSERVE_MODELS file for the models whose weights are not bundled (their
memory depends on the architecture, not on the weights' values). Prints one row per job:
deployment, job, baseline MB, peak RSS MB, MB `--idle` seconds after, the object store's
pages the replica maps then, and whether its own memory came back within 10 % of the baseline.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from loadtest.photos import encode, photo
from loadtest.service import LocalService, scratch


@dataclass(frozen=True)
class Case:
    deployment: str
    operation: str
    label: str
    size: tuple[int, int]
    data: dict


CASES = [
    Case("Upscaler", "upscale", "fast 1024x1024 -> 4K", (1024, 1024), {"size": "4K"}),
    Case(
        "Upscaler",
        "upscale",
        "quality 512x384 -> 2K",
        (512, 384),
        {"model": "quality", "size": "2K"},
    ),
    Case(
        "Upscaler",
        "upscale",
        "quality 1024x768 -> 4K",
        (1024, 768),
        {"model": "quality", "size": "4K"},
    ),
    Case("Upscaler", "enhance", "enhance + denoise 2048x1536", (2048, 1536), {"denoise": "true"}),
    Case("FaceRestorer", "restore-face", "restore-face 512 x2", (512, 512), {"scale": "2"}),
    Case("BackgroundRemover", "remove-background", "cut-out 2048x1536", (2048, 1536), {}),
    Case("Segmenter", "segment", "click on 1024x768", (1024, 768), {"points": "[[500, 300, 1]]"}),
    Case(
        "Eraser",
        "erase-object",
        "erase a click 1024x768",
        (1024, 768),
        {"points": "[[500, 300, 1]]"},
    ),
]


def picture(width: int, height: int) -> bytes:
    image = photo("astronaut", max(width, height))[:height, :width]
    return encode(np.ascontiguousarray(image))


def status(service: LocalService, deployment: str) -> dict:
    return service.handle(deployment).status.remote().result()


def reset_peak(service: LocalService, deployment: str) -> None:
    service.handle(deployment).reset_peak_memory.remote().result()


def run_case(http: httpx.Client, case: Case) -> dict:
    files = {"image": ("p.png", picture(*case.size))}
    response = http.post(f"/v1/{case.operation}?wait=60", files=files, data=case.data)
    body = response.json()
    if "job_id" not in body:
        raise RuntimeError(f"{case.label}: {response.status_code} {response.text[:200]}")
    job_id = body["job_id"]
    while body["status"] not in ("done", "failed"):
        time.sleep(0.5)
        body = http.get(f"/v1/jobs/{job_id}").json()
    return body


def measure(service: LocalService, http: httpx.Client, case: Case, idle_s: float) -> dict:
    baseline = status(service, case.deployment)["own_mb"]
    reset_peak(service, case.deployment)
    started = time.monotonic()
    body = run_case(http, case)
    seconds = time.monotonic() - started
    peak = status(service, case.deployment)["peak_rss_mb"]
    time.sleep(idle_s)
    later = status(service, case.deployment)
    after, store = later["own_mb"], later["shared_mb"] or 0.0
    return {
        "case": case,
        "status": body["status"],
        "seconds": seconds,
        "baseline": baseline,
        "peak": peak,
        "after": after,
        "store": store,
    }


def report(rows: list[dict], idle_s: float) -> None:
    after = f"+{idle_s:.0f}s MB"
    print("base and after: the replica's own memory (RSS less Ray's object store it maps)")
    header = f"{'deployment':18} {'job':30} {'s':>6} {'base MB':>8} {'peak MB':>8} {after:>8}"
    print(header + f" {'store MB':>8}  back")
    for row in rows:
        back = "yes" if row["after"] <= row["baseline"] * 1.1 else "NO"
        case = row["case"]
        print(
            f"{case.deployment:18} {case.label:30} {row['seconds']:6.1f} {row['baseline']:8.0f} "
            f"{row['peak']:8.0f} {row['after']:8.0f} {row['store']:8.0f}  {back}"
            + ("" if row["status"] == "done" else f"  ({row['status']})")
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", help="PHOTOSERVE_MODELS file (weights not bundled)")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds to wait after a job")
    parser.add_argument("--only", help="run only the cases of this deployment")
    args = parser.parse_args(argv)
    env = {"PHOTOSERVE_MODELS": str(Path(args.models).resolve())} if args.models else {}
    weights = Path(".photoserve/weights").resolve()
    if weights.is_dir():
        env["PHOTOSERVE_WEIGHTS_DIR"] = str(weights)
    with scratch("bench-memory-") as folder:
        run(LocalService(folder, env=env), args)


def run(service: LocalService, args) -> None:
    service.start()
    print(f"photoserve up in {service.startup_s:.1f} s")
    try:
        admin = {"Authorization": f"Bearer {service.admin_token}"}
        account = {"credits": 100000, "plan": "enterprise"}
        key = httpx.post(f"{service.url}/admin/accounts", headers=admin, json=account).json()[
            "api_key"
        ]
        service.connect()
        http = httpx.Client(base_url=service.url, headers={"x-key": key}, timeout=600)
        cases = [c for c in CASES if not args.only or c.deployment == args.only]
        for case in {c.deployment: c for c in cases}.values():  # warm each replica up
            warm = {**case.data, **({"points": "[[32, 32, 1]]"} if "points" in case.data else {})}
            run_case(http, Case(case.deployment, case.operation, "warm-up", (64, 64), warm))
        time.sleep(args.idle)
        report([measure(service, http, case, args.idle) for case in cases], args.idle)
    finally:
        service.disconnect()
        service.stop()


if __name__ == "__main__":
    main()
