"""What the editing deployments' strategies buy, each against the plain way, in one run:

    python -m loadtest.bench_editing [--weights DIR]

- erase: LaMa on crops around the mask vs LaMa on the whole photo (a small object in a
  1024x768 photo);
- segment: a click on a photo whose embedding is cached vs a first click (encoder + decoder);
- remove-background: the whole path (network + full-resolution refinement) vs the network
  alone, at 1 MP;
- enhance: measured corrections vs a plain Lanczos resize of the same photo (a floor for any
  per-pixel pass).

Without `--weights` (u2net.pth, sam_vit_b_01ec64.pth, big-lama.pt inside), the networks are
random-initialised copies of the real architectures: the same compute, meaningless pixels.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from deployments.common.device import plan
from loadtest.photos import photo
from loadtest.service import scratch


def timed(fn, repeat: int = 3) -> float:
    fn()  # warm-up: kernel selection and allocator growth
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def weights(folder: Path | None, spare: Path, name: str, builder: str) -> Path:
    """The official file in `folder`, else random weights of its architecture built in `spare`."""
    if folder is not None and (folder / name).exists():
        return folder / name
    import importlib

    module = importlib.import_module(f"tests.helpers.model_fixtures.{builder}")
    return module.build(spare)


def bench_erase(folder, spare, device) -> tuple[str, float, float]:
    from deployments.erase import lama

    model = lama.load(weights(folder, spare, "big-lama.pt", "lama"), device)
    image = cv2.resize(photo("coffee"), (1024, 768), interpolation=cv2.INTER_AREA)
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[300:360, 500:560] = 255
    ours = timed(lambda: lama.erase(model, image, mask), repeat=2)
    whole = timed(lambda: lama.inpaint(model, image.astype(np.float32), mask > 0, 1024), 1)
    return "erase 60x60 px in 1024x768 (crop vs whole)", ours, whole


def bench_segment(folder, spare, device) -> tuple[str, float, float]:
    from deployments.segment import sam

    model = sam.load(weights(folder, spare, "sam_vit_b_01ec64.pth", "sam"), device)
    image = photo("astronaut")
    embedding = sam.embed(model, image)
    click = [[260, 180, 1]]
    cached = timed(lambda: sam.predict(model, embedding, click))
    first = timed(lambda: sam.predict(model, sam.embed(model, image), click), repeat=1)
    return "segment click (cached vs first)", cached, first


def bench_matting(folder, spare, device) -> tuple[str, float, float]:
    from deployments.background import matting, network

    runtime = network.load(weights(folder, spare, "u2net.pth", "u2net"), device)
    image = cv2.resize(photo("chelsea"), (1152, 864), interpolation=cv2.INTER_AREA)
    network = timed(lambda: matting.predict(runtime, matting.preprocess(image)[None]))
    whole = timed(lambda: matting.remove_background(runtime, image))
    return "remove-background 1 MP (whole path vs network)", whole, network


def bench_enhance() -> tuple[str, float, float]:
    from deployments.upscale import corrections

    image = cv2.resize(photo("coffee"), (2048, 1536), interpolation=cv2.INTER_AREA)
    ours = timed(lambda: corrections.enhance(image))
    floor = timed(lambda: cv2.resize(image, (2047, 1535), interpolation=cv2.INTER_LANCZOS4))
    return "enhance 3 MP (corrections vs one Lanczos pass)", ours, floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, default=None)
    args = parser.parse_args()
    device = plan(2, 0, cuda_available=False)
    with scratch("bench-editing-") as spare:
        rows = [
            bench_erase(args.weights, spare, device),
            bench_segment(args.weights, spare, device),
            bench_matting(args.weights, spare, device),
            bench_enhance(),
        ]
    print(f"{'case':50} {'ours s':>9} {'reference s':>12} {'ratio':>7}")
    for name, ours, reference in rows:
        print(f"{name:50} {ours:9.3f} {reference:12.3f} {ours / reference:7.2f}")


if __name__ == "__main__":
    main()
