"""The other side of `loadtest.bench_peers`: the tool a user would otherwise run for each
operation, timed in a process of its own so that its peak RSS is its own.

    .venv-peers/bin/python -m loadtest.peers TOOL FOLDER [--repeat 5]

FOLDER holds what bench_peers prepared (weights, photos, masks, aligned faces). Prints one
JSON line: {"times": {case: [seconds, ...]}, "peak_rss_mb": ...}. Runs in the peers' venv
(loadtest/peers-requirements.txt: rembg, IOPaint, segment-anything, spandrel), so it imports
nothing of photoserve's at the top.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

Cases = dict[str, Callable[[], object]]


def rgb(path: Path) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB"))  # writable: IOPaint edits in place


def rembg(folder: Path) -> Cases:
    os.environ["REMBG_HOME"] = str(folder)  # rembg loads custom models from its home only
    from rembg import new_session, remove

    session = new_session("u2net_custom", model_path=str(folder / "u2net.onnx"))
    image = Image.open(folder / "matting.png").convert("RGB")
    return {"cut-out": lambda: remove(image, session=session)}


def iopaint(folder: Path) -> Cases:
    # IOPaint reads its model location (and md5) when the module is imported
    os.environ["LAMA_MODEL_URL"] = str(folder / "big-lama.pt")
    from iopaint.model.lama import LaMa
    from iopaint.schema import InpaintRequest

    model = LaMa("cpu")
    image = rgb(folder / "erase.png")
    mask = np.array(Image.open(folder / "erase-mask.png").convert("L"))
    return {"erase": lambda: model(image, mask, InpaintRequest())}


def segment_anything(folder: Path) -> Cases:
    from segment_anything import SamPredictor, sam_model_registry

    sam = sam_model_registry["vit_b"](checkpoint=str(folder / "sam_vit_b_01ec64.pth")).eval()
    predictor = SamPredictor(sam)
    image = rgb(folder / "segment.png")
    click = json.loads((folder / "segment-click.json").read_text())
    coords, labels = np.array([click[:2]], np.float32), np.array([click[2]])

    def first():
        predictor.set_image(image)
        return predictor.predict(coords, labels, multimask_output=True)

    first()  # the later clicks reuse this embedding
    return {
        "first click": first,
        "later click": lambda: predictor.predict(coords, labels, multimask_output=True),
    }


def gfpgan(folder: Path) -> Cases:
    import spandrel
    import torch

    (weights,) = folder.glob("gfpgan.*")
    model = spandrel.ModelLoader().load_from_file(str(weights)).eval()
    faces = [rgb(path) for path in sorted(folder.glob("face-*.png"))]
    batch = torch.from_numpy(np.stack(faces)).permute(0, 3, 1, 2).contiguous().float() / 255.0

    def restore():
        with torch.inference_mode():
            return model(batch)

    return {"restore": restore}


def export_u2net(folder: Path) -> Cases:
    """Not a peer: our U²-Net with the same weights as ONNX, the file rembg's u2net_custom
    session loads (torch's exporter needs the onnx package, which this venv has)."""
    import torch

    from deployments.background.u2net import U2NET

    module = U2NET(3, 1)
    module.load_state_dict(torch.load(folder / "u2net.pth", map_location="cpu"), strict=True)
    torch.onnx.export(
        module.eval(),
        torch.rand(1, 3, 320, 320),
        str(folder / "u2net.onnx"),
        dynamo=False,
        input_names=["input.1"],
        opset_version=17,
    )
    return {}


TOOLS = {
    "rembg": rembg,
    "iopaint": iopaint,
    "segment-anything": segment_anything,
    "gfpgan": gfpgan,
    "export-u2net": export_u2net,
}


def measure(cases: Cases, repeat: int) -> dict[str, list[float]]:
    times = {}
    for name, run in cases.items():
        run()  # warm-up: kernel selection and allocator growth
        times[name] = []
        for _ in range(repeat):
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tool", choices=sorted(TOOLS))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    times = measure(TOOLS[args.tool](args.folder), args.repeat)
    # VmHWM, not ru_maxrss: Linux carries the parent's peak across fork and exec
    status = Path("/proc/self/status").read_text().split("VmHWM:")[1]
    peak_mb = int(status.split()[0]) / 1024
    json.dump({"times": times, "peak_rss_mb": peak_mb}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
