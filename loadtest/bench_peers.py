"""Every model operation against the tool a user would otherwise run, on identical weights and
photos, side by side in one run:

    make bench-peers        # = python -m loadtest.bench_peers, after creating .venv-peers

For each operation, p50 of `--repeat` runs:
  - bare: our network alone, called in this process on the work the peer does;
  - ours: one job end to end through HTTP on a service started as `make run` starts it
    (`?wait`, client wall time: upload, queue, model, encoding, download);
  - peer: the other tool in a process of its own, from the peers' venv (loadtest/peers.py):
    remove-background vs rembg's u2net_custom session on our U²-Net exported to ONNX,
    erase-object vs IOPaint's LaMa (its defaults: crop strategy) on the same TorchScript file,
    segment vs segment-anything's SamPredictor (a first click and a later click), restore-face
    vs the bare GFPGAN network through spandrel on the same aligned faces, upscale vs bare ncnn;
  - peak RSS of the replica that ran ours (its peak during these jobs) vs the peer process's.

Without `--weights` (u2net.pth, big-lama.pt, sam_vit_b_01ec64.pth, GFPGANv1.4.pth inside) the
networks are random-initialised copies of the real architectures: the same compute and memory,
meaningless pixels.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import httpx
import numpy as np
from PIL import Image

from deployments.common.device import plan
from loadtest.photos import distinct, encode, photo
from loadtest.service import ROOT, LocalService, scratch
from serve_app.core.catalog import Catalog
from serve_app.core.settings import CONFIGS

WEIGHTS = {  # catalog name -> (official file name, random fixture builder)
    "u2net": ("u2net.pth", "u2net"),
    "big-lama": ("big-lama.pt", "lama"),
    "sam-vit-b": ("sam_vit_b_01ec64.pth", "sam"),
    "gfpgan-v1.4": ("GFPGANv1.4.pth", "gfpgan"),
}
PEER_FILES = {"gfpgan-v1.4": "gfpgan"}  # the peers read fixed names (suffix kept)
CLICK = [260, 180, 1]


@dataclass
class Row:
    operation: str
    case: str
    bare: float
    ours: float
    peer: float | None
    peer_name: str
    ours_mb: float | None = None
    peer_mb: float | None = None


# --- the shared inputs ----------------------------------------------------------------------


def weights(folder: Path, given: Path | None) -> dict[str, Path]:
    import importlib

    found = {}
    for name, (file, builder) in WEIGHTS.items():
        if given is not None and (given / file).is_file():
            found[name] = given / file
        else:
            module = importlib.import_module(f"tests.helpers.model_fixtures.{builder}")
            found[name] = module.build(folder)
    return found


def link(folder: Path, paths: dict[str, Path]) -> None:
    """The weights under the names loadtest/peers.py reads."""
    for name, path in paths.items():
        target = folder / (PEER_FILES.get(name, path.stem) + path.suffix)
        if target != path and not target.exists():
            target.symlink_to(path)


def inputs(folder: Path) -> dict[str, np.ndarray]:
    erase = cv2.resize(photo("coffee"), (1024, 768), interpolation=cv2.INTER_AREA)
    mask = np.zeros(erase.shape[:2], np.uint8)
    mask[300:360, 500:560] = 255
    images = {
        "matting": cv2.resize(photo("chelsea"), (1152, 864), interpolation=cv2.INTER_AREA),
        "erase": erase,
        "erase-mask": mask,
        "segment": photo("astronaut"),
        "face": photo("astronaut"),
    }
    for name, image in images.items():
        Image.fromarray(image).save(folder / f"{name}.png")
    (folder / "segment-click.json").write_text(json.dumps(CLICK))
    for i, face in enumerate(aligned_faces(images["face"])):
        Image.fromarray(face).save(folder / f"face-{i}.png")
    return images


def aligned_faces(image: np.ndarray) -> list[np.ndarray]:
    """The 512x512 crops our restore-face job feeds GFPGAN (same detector, same alignment)."""
    from deployments.faces import facelib

    found = facelib.DlibDetector().detect(image)
    return [facelib.align(image, facelib.alignment(face.landmarks)) for face in found]


# --- the three sides --------------------------------------------------------------------------


def p50(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def peer(python: Path, tool: str, folder: Path, repeat: int) -> dict:
    command = [str(python), "-m", "loadtest.peers", tool, str(folder), "--repeat", str(repeat)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{tool} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Ours:
    """Jobs end to end through HTTP, and the replicas' memory through their handles."""

    def __init__(self, url: str, key: str, service: LocalService):
        self.replica = service.handle
        self.http = httpx.Client(base_url=url, headers={"x-key": key}, timeout=600)

    def job(self, operation: str, files: dict[str, bytes], data: dict) -> bytes:
        """Submit with `?wait` (the image comes in the answer); a longer job is polled."""
        parts = {name: (f"{name}.png", content) for name, content in files.items()}
        response = self.http.post(
            f"/v1/{operation}?wait=60", files=parts, data=data, headers={"Accept": "image/*"}
        )
        if response.headers.get("content-type", "").startswith("image/"):
            return response.content
        body = response.json()
        if "job_id" not in body:
            raise RuntimeError(f"{operation}: {response.status_code} {response.text[:300]}")
        while body["status"] not in ("done", "failed"):
            time.sleep(0.05)
            body = self.http.get(f"/v1/jobs/{body['job_id']}").json()
        if body["status"] != "done":
            raise RuntimeError(f"{operation} failed: {body}")
        return self.http.get(body["result_url"]).content

    def p50(self, deployment: str, operation: str, runs, data, repeat) -> tuple[float, float]:
        """(p50 seconds of the job end to end, the replica's peak MB during those jobs);
        `runs`: the files of each job, the warm-up's first."""
        self.reset_peak(deployment)
        files = iter(runs)
        seconds = p50(lambda: self.job(operation, next(files), data), repeat)
        return seconds, self.peak_mb(deployment)

    def reset_peak(self, deployment: str) -> None:
        self.replica(deployment).reset_peak_memory.remote().result()

    def peak_mb(self, deployment: str) -> float | None:
        return self.replica(deployment).status.remote().result().get("peak_rss_mb")


# --- the operations ---------------------------------------------------------------------------


def runs(repeat: int, image: np.ndarray, **same: bytes) -> list[dict[str, bytes]]:
    return [{"image": png, **same} for png in distinct(image, repeat + 1)]


def remove_background(ours: Ours, images, paths, python, folder, repeat) -> list[Row]:
    from deployments.background import matting, network

    bf16 = Catalog.load(CONFIGS / "models.yaml", None, Path(".")).specs["u2net"].ncnn_bf16
    runtime = network.load(paths["u2net"], plan(2, 0, cuda_available=False), bf16=bf16)
    image = images["matting"]
    bare = p50(lambda: matting.predict(runtime, matting.preprocess(image)[None]), repeat)
    e2e = ours.p50("BackgroundRemover", "remove-background", runs(repeat, image), {}, repeat)
    other = peer(python, "rembg", folder, repeat)
    return [versus(("remove-background", "1152x864 cut-out"), bare, e2e, other, "cut-out")]


def erase_object(ours: Ours, images, paths, python, folder, repeat) -> list[Row]:
    from deployments.erase import lama

    model = lama.load(paths["big-lama"], plan(2, 0, cuda_available=False))
    image, mask = images["erase"], images["erase-mask"]
    bare = p50(lambda: lama.inpaint(model, image.astype(np.float32), mask > 0, 4096), repeat)
    files = runs(repeat, image, mask=encode(mask))
    e2e = ours.p50("Eraser", "erase-object", files, {}, repeat)
    other = peer(python, "iopaint", folder, repeat)
    return [versus(("erase-object", "60x60 px in 1024x768"), bare, e2e, other, "erase")]


def segment(ours: Ours, images, paths, python, folder, repeat) -> list[Row]:
    from deployments.segment import sam

    model = sam.load(paths["sam-vit-b"], plan(2, 0, cuda_available=False))
    image = images["segment"]
    first_bare = p50(lambda: sam.predict(model, sam.embed(model, image), [CLICK]), repeat)
    embedding = sam.embed(model, image)
    later_bare = p50(lambda: sam.predict(model, embedding, [CLICK]), repeat)
    data = {"points": json.dumps([CLICK])}
    ours.reset_peak("Segmenter")
    firsts = iter(distinct(image, repeat + 1))  # a new photo each time: no cached embedding
    first = p50(lambda: ours.job("segment", {"image": next(firsts)}, data), repeat)
    # later clicks send the same file again, as a client clicking on one photo does
    png = encode(image)
    later = p50(lambda: ours.job("segment", {"image": png}, data), repeat)
    other = peer(python, "segment-anything", folder, repeat)
    peak, name = ours.peak_mb("Segmenter"), "segment-anything SamPredictor"
    return [
        Row("segment", "first click", first_bare, first, _median(other, "first click"), name),
        Row("segment", "later click", later_bare, later, _median(other, "later click"), name),
        Row("segment", "(both clicks: memory)", 0, 0, None, name, peak, other["peak_rss_mb"]),
    ]


def restore_face(ours: Ours, images, paths, python, folder, repeat) -> list[Row]:
    from deployments.faces.gfpgan_network import GFPGANNetwork

    network = GFPGANNetwork.load(paths["gfpgan-v1.4"], plan(2, 0, cuda_available=False))
    faces = [np.asarray(Image.open(p)) for p in sorted(folder.glob("face-*.png"))]
    bare = p50(lambda: network.run(faces), repeat)
    e2e = ours.p50("FaceRestorer", "restore-face", runs(repeat, images["face"]), {}, repeat)
    other = peer(python, "gfpgan", folder, repeat)
    case = ("restore-face", f"{len(faces)} face(s), 512x512 photo")
    return [versus(case, bare, e2e, other, "restore")]


def upscale(ours: Ours, images, paths, python, folder, repeat) -> list[Row]:
    import os

    from loadtest import bench_upscale

    image = photo("astronaut", 256)
    net = bench_upscale.bare_net(os.cpu_count() or 1)
    bare = bench_upscale.bare_ncnn(net, [image], repeat)[0]
    data = {"scale": "4", "model": "fast"}
    seconds, peak = ours.p50("Upscaler", "upscale", runs(repeat, image), data, repeat)
    return [Row("upscale", "fast x4, 256x256", bare, seconds, bare, "bare ncnn (= bare)", peak)]


def _median(result: dict, case: str) -> float:
    return statistics.median(result["times"][case])


PEER_NAMES = {
    "cut-out": "rembg u2net_custom (ONNX)",
    "erase": "IOPaint LaMa (defaults)",
    "restore": "GFPGAN through spandrel",
}


def versus(case: tuple[str, str], bare: float, ours: tuple[float, float | None], other, key):
    """One row: (operation, case), the bare call, ours (seconds, peak MB), the peer's run."""
    seconds, peak = ours
    median = _median(other, key)
    return Row(*case, bare, seconds, median, PEER_NAMES[key], peak, other["peak_rss_mb"])


OPERATIONS = {
    "remove-background": remove_background,
    "erase-object": erase_object,
    "segment": segment,
    "restore-face": restore_face,
    "upscale": upscale,
}


# --- the run ----------------------------------------------------------------------------------


def models_file(folder: Path, paths: dict[str, Path]) -> Path:
    lines = ["models:"] + [f"  {name}:\n    file: {path}" for name, path in paths.items()]
    path = folder / "models.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def report(rows: list[Row], repeat: int) -> None:
    print(f"\np50 of {repeat} runs, seconds; RSS in MB (ours: the replica's peak)")
    header = f"{'operation':18} {'case':24} {'bare':>7} {'ours':>7} {'peer':>7}"
    print(header + f" {'ours/bare':>9} {'ours/peer':>9} {'ours MB':>8} {'peer MB':>8}  peer")
    for row in rows:
        print(_line(row))


def _line(row: Row) -> str:
    def cell(value, width, fmt):
        return f"{'':>{width}}" if value is None or value == 0 else f"{value:>{width}{fmt}}"

    ratio_bare = row.ours / row.bare if row.bare else None
    ratio_peer = row.ours / row.peer if row.peer and row.ours else None
    return (
        f"{row.operation:18} {row.case:24} {cell(row.bare, 7, '.3f')} {cell(row.ours, 7, '.3f')}"
        f" {cell(row.peer, 7, '.3f')} {cell(ratio_bare, 9, '.2f')} {cell(ratio_peer, 9, '.2f')}"
        f" {cell(row.ours_mb, 8, '.0f')} {cell(row.peer_mb, 8, '.0f')}  {row.peer_name}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weights", type=Path, help="folder with the official weight files")
    parser.add_argument("--peers-python", type=Path, default=ROOT / ".venv-peers/bin/python")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=sorted(OPERATIONS), action="append")
    args = parser.parse_args(argv)
    with scratch("bench-peers-") as folder:
        run(folder, args)


def run(folder: Path, args) -> None:
    paths = weights(folder, args.weights)
    link(folder, paths)
    images = inputs(folder)
    peer(args.peers_python, "export-u2net", folder, 0)
    env = {"PHOTOSERVE_MODELS": str(models_file(folder, paths))}
    service = LocalService(folder / "service", env=env).start()
    print(f"photoserve up in {service.startup_s:.1f} s")
    try:
        admin = {"Authorization": f"Bearer {service.admin_token}"}
        account = {"credits": 100000, "plan": "enterprise"}
        key = httpx.post(f"{service.url}/admin/accounts", headers=admin, json=account).json()
        service.connect()
        ours = Ours(service.url, key["api_key"], service)
        rows = []
        for name in args.only or OPERATIONS:
            new = OPERATIONS[name](ours, images, paths, args.peers_python, folder, args.repeat)
            print("\n".join(_line(row) for row in new), flush=True)
            rows += new
        report(rows, args.repeat)
    finally:
        service.disconnect()
        service.stop()


if __name__ == "__main__":
    main()
