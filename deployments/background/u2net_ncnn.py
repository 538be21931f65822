"""U²-Net on the ncnn runtime: the CPU backend of the BackgroundRemover.

Why: at 320x320 on these AVX2 cores (2 threads) PyTorch/oneDNN runs U²-Net in 0.70 s, ONNX
Runtime (what rembg uses) in 0.57 s, ncnn in 0.38 s - its Winograd 3x3 kernels, as for
Real-ESRGAN (deployments/upscale/ncnn_network.py). The ncnn graph is written here from the
loaded PyTorch module (BatchNorm already folded into the convolutions), at load, in a child
process (so the replica never imports torch: ~480 MB less), into the data dir's cache (a
replica starting again reuses it): no converter package, and the official `u2net.pth` stays
the only weights file. The input is always 320x320, so every shape is known while writing.
Same mattes as PyTorch to ~1e-5 (tests/deployments/background).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deployments.common import ncnn_net
from deployments.common.device import DeviceConfig

MAGIC = 7767517
EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): ")
INPUT, OUTPUT = "data", "matte"


@dataclass(frozen=True)
class Blob:
    name: str
    height: int
    width: int


@dataclass
class Graph:
    """ncnn layers in order, and the weights file they read, written as they are added."""

    layers: list[tuple[str, str, list[str], str, str]] = field(default_factory=list)
    weights: bytearray = field(default_factory=bytearray)

    def add(
        self, kind: str, inputs: list[Blob], params: str, height: int, width: int, output: str = ""
    ) -> Blob:
        out = Blob(output or f"b{len(self.layers)}", height, width)
        name = f"{kind.lower()}{len(self.layers)}"
        self.layers.append((kind, name, [b.name for b in inputs], out.name, params))
        return out

    def param(self) -> str:
        """The .param text; a blob read by several layers goes through a Split, as ncnn
        wants one consumer per blob."""
        readers = Counter(name for _, _, inputs, _, _ in self.layers for name in inputs)
        lines, taken, blobs = [], Counter(), len(self.layers)
        for kind, name, inputs, output, params in self.layers:
            lines.append(
                _line(kind, name, [_copy(i, readers, taken) for i in inputs], [output], params)
            )
            if readers[output] > 1:
                copies = [f"{output}_{k}" for k in range(readers[output])]
                lines.append(_line("Split", f"split_{output}", [output], copies, ""))
                blobs += len(copies)
        return f"{MAGIC}\n{len(lines)} {blobs}\n" + "".join(lines)


def _copy(blob: str, readers: Counter, taken: Counter) -> str:
    """The Split output this reader of `blob` gets (the blob itself when it has one reader)."""
    if readers[blob] == 1:
        return blob
    taken[blob] += 1
    return f"{blob}_{taken[blob] - 1}"


def _line(kind: str, name: str, inputs: list[str], outputs: list[str], params: str) -> str:
    fields = [kind, name, str(len(inputs)), str(len(outputs)), *inputs, *outputs]
    return " ".join(fields) + (f" {params}" if params else "") + "\n"


def _conv(graph: Graph, conv: Any, x: Blob, relu: bool) -> Blob:
    weight = conv.weight.detach().float().cpu().numpy()
    out_ch, _, kernel, _ = weight.shape
    dilation, padding = conv.dilation[0], conv.padding[0]
    params = f"0={out_ch} 1={kernel} 2={dilation} 3=1 4={padding} 5=1 6={weight.size}"
    # a zero tag before the weights says float32; the bias follows untagged
    graph.weights += struct.pack("<I", 0) + weight.astype("<f4").tobytes()
    graph.weights += conv.bias.detach().float().cpu().numpy().astype("<f4").tobytes()
    return graph.add("Convolution", [x], params + (" 9=1" if relu else ""), x.height, x.width)


def _rebnconv(graph: Graph, block: Any, x: Blob) -> Blob:
    from torch import nn

    if not isinstance(block.bn_s1, nn.Identity):
        raise ValueError("fold the BatchNorms first (u2net.fuse_batchnorm)")
    return _conv(graph, block.conv_s1, x, relu=True)


def _pool(graph: Graph, x: Blob) -> Blob:
    # 2x2 max pooling, stride 2, ceil_mode: ncnn's "full" padding (pad_mode 0)
    return graph.add("Pooling", [x], "0=0 1=2 2=2 3=0 5=0", -(-x.height // 2), -(-x.width // 2))


def _upsample_like(graph: Graph, x: Blob, like: Blob) -> Blob:
    if (x.height, x.width) == (like.height, like.width):
        return x
    # bilinear, align_corners False: ncnn's Interp computes the same source coordinates
    return graph.add(
        "Interp", [x], f"0=2 3={like.height} 4={like.width} 6=0", like.height, like.width
    )


def _cat(graph: Graph, *blobs: Blob) -> Blob:
    return graph.add("Concat", list(blobs), "0=0", blobs[0].height, blobs[0].width)


def _plus(graph: Graph, a: Blob, b: Blob) -> Blob:
    return graph.add("BinaryOp", [a, b], "0=0", a.height, a.width)


def _rsu(graph: Graph, block: Any, x: Blob) -> Blob:
    hxin = _rebnconv(graph, block.rebnconvin, x)
    skips = [_rebnconv(graph, block.rebnconv1, hxin)]
    for level in range(2, block.height):
        pooled = _pool(graph, skips[-1])
        skips.append(_rebnconv(graph, getattr(block, f"rebnconv{level}"), pooled))
    hx = _rebnconv(graph, getattr(block, f"rebnconv{block.height}"), skips[-1])
    for level in range(block.height - 1, 0, -1):
        skip = skips[level - 1]
        hx = _cat(graph, _upsample_like(graph, hx, skip), skip)
        hx = _rebnconv(graph, getattr(block, f"rebnconv{level}d"), hx)
    return _plus(graph, hx, hxin)


def _rsu4f(graph: Graph, block: Any, x: Blob) -> Blob:
    hxin = _rebnconv(graph, block.rebnconvin, x)
    hx1 = _rebnconv(graph, block.rebnconv1, hxin)
    hx2 = _rebnconv(graph, block.rebnconv2, hx1)
    hx3 = _rebnconv(graph, block.rebnconv3, hx2)
    hx4 = _rebnconv(graph, block.rebnconv4, hx3)
    hx3d = _rebnconv(graph, block.rebnconv3d, _cat(graph, hx4, hx3))
    hx2d = _rebnconv(graph, block.rebnconv2d, _cat(graph, hx3d, hx2))
    hx1d = _rebnconv(graph, block.rebnconv1d, _cat(graph, hx2d, hx1))
    return _plus(graph, hx1d, hxin)


def _stage(graph: Graph, block: Any, x: Blob) -> Blob:
    from deployments.background.u2net import RSU4F

    return (_rsu4f if isinstance(block, RSU4F) else _rsu)(graph, block, x)


def write(module: Any, size: int) -> tuple[str, bytes]:
    """(.param text, .bin bytes) of U²-Net's fused matte d0 for a size x size input; the
    structure mirrors U2NET.forward line for line."""
    graph = Graph()
    x = graph.add("Input", [], f"0={size} 1={size} 2=3", size, size, output=INPUT)
    encoders = [
        module.stage1,
        module.stage2,
        module.stage3,
        module.stage4,
        module.stage5,
        module.stage6,
    ]
    hx = [_stage(graph, encoders[0], x)]
    for stage in encoders[1:]:
        hx.append(_stage(graph, stage, _pool(graph, hx[-1])))
    up = hx[5]
    decoded = []
    for stage, skip in zip(
        [module.stage5d, module.stage4d, module.stage3d, module.stage2d, module.stage1d],
        hx[4::-1],
        strict=True,
    ):
        up = _stage(graph, stage, _cat(graph, _upsample_like(graph, up, skip), skip))
        decoded.append(up)
    hx1d = decoded[-1]
    sides = [_conv(graph, module.side1, hx1d, relu=False)]
    for side, h in zip(
        [module.side2, module.side3, module.side4, module.side5, module.side6],
        [*decoded[-2::-1], hx[5]],
        strict=True,
    ):
        sides.append(_upsample_like(graph, _conv(graph, side, h, relu=False), sides[0]))
    d0 = _conv(graph, module.outconv, _cat(graph, *sides), relu=False)
    graph.add("Sigmoid", [d0], "", size, size, output=OUTPUT)
    return graph.param(), bytes(graph.weights)


def _files(folder: Path) -> tuple[Path, Path]:
    return folder / "u2net.param", folder / "u2net.bin"


def save(module: Any, size: int, folder: Path) -> tuple[Path, Path]:
    param, weights = _files(folder)
    text, data = write(module, size)
    param.write_text(text)
    weights.write_bytes(data)
    return param, weights


GRAPH_VERSION = 1  # bump when write() changes: cached graphs of another version are not used
CACHE_KEEP = 2  # converted weights files kept per cache folder (the newest)


def _child(path: Path, folder: Path, size: int) -> None:
    command = [sys.executable, "-m", __name__, str(path), str(folder), str(size)]
    done = subprocess.run(command, capture_output=True, text=True, env=_child_env())
    if done.returncode != 0:
        raise RuntimeError(f"{path.name}: {_exception(done.stderr, done.returncode)}")


def _cache_name(path: Path, size: int) -> str:
    """Names the weights file as it is now (a new file, or the same one rewritten, is
    converted again)."""
    stat = path.resolve().stat()
    identity = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{size}|{GRAPH_VERSION}"
    return "u2net-" + hashlib.sha256(identity.encode()).hexdigest()[:20]


def _cached(path: Path, size: int, cache: Path) -> Path:
    """The folder holding the converted graph, written first if it is not there (into a
    temporary folder renamed into place: replicas starting together never read half a
    file); older conversions beyond CACHE_KEEP are removed."""
    folder = cache / _cache_name(path, size)
    if not all(f.is_file() for f in _files(folder)):
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".u2net-", dir=cache))
        try:
            _child(path, staging, size)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            os.replace(staging, folder)
        except OSError:  # another replica put it in place first
            shutil.rmtree(staging, ignore_errors=True)
    older = sorted(cache.glob("u2net-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in [p for p in older if p != folder][CACHE_KEEP - 1 :]:
        shutil.rmtree(stale, ignore_errors=True)
    return folder


def _exception(stderr: str, status: int) -> str:
    """The child's exception, message lines included, without its traceback."""
    lines = stderr.strip().splitlines()
    starts = [i for i, line in enumerate(lines) if EXCEPTION.match(line)]
    return (
        " ".join(line.strip() for line in lines[starts[-1] :])[:1000]
        if starts
        else f"exit {status}"
    )


def _child_env() -> dict[str, str]:
    # the child imports this package from where this process found it
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{path}" if path else root}


@dataclass
class NcnnU2Net:
    net: object
    pools: tuple = ()  # ncnn allocators, emptied by release() once the replica is idle
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(
        cls, param: Path, weights: Path, device: DeviceConfig, bf16: bool = False
    ) -> NcnnU2Net:
        return cls(*ncnn_net.load(param, weights, device.threads, bf16=bf16))

    @classmethod
    def from_module(
        cls, module: Any, size: int, device: DeviceConfig, bf16: bool = False
    ) -> NcnnU2Net:
        """In this process (tests): the module is already here."""
        with tempfile.TemporaryDirectory(prefix="u2net-ncnn-") as folder:
            return cls.load(*save(module, size, Path(folder)), device, bf16)

    @classmethod
    def convert(
        cls,
        path: Path,
        size: int,
        device: DeviceConfig,
        cache: Path | None = None,
        bf16: bool = False,
    ) -> NcnnU2Net:
        """From the official file, converted in a child process (reading a torch file needs
        torch, and a replica that imported it would carry ~480 MB more for good), once per
        weights file when `cache` is given: a replica starting again loads the graph it
        wrote before (~4 s less)."""
        if cache is None:
            with tempfile.TemporaryDirectory(prefix="u2net-ncnn-") as folder:
                _child(path, Path(folder), size)
                return cls.load(*_files(Path(folder)), device, bf16)
        return cls.load(*_files(_cached(path, size, cache)), device, bf16)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Nx3xSxS float32 -> NxSxS float32, the fused matte through its sigmoid."""
        with self.lock:
            return np.stack([self._one(np.ascontiguousarray(x)) for x in batch])

    def release(self) -> None:
        with self.lock:
            for pool in self.pools:
                pool.clear()

    def _one(self, x: np.ndarray) -> np.ndarray:
        import ncnn

        extractor = self.net.create_extractor()
        extractor.input(INPUT, ncnn.Mat(x))
        status, out = extractor.extract(OUTPUT)
        if status != 0:
            raise RuntimeError(f"ncnn inference failed with status {status}")
        return np.array(out.numpy()).reshape(x.shape[1:])


if __name__ == "__main__":  # NcnnU2Net.convert's child: WEIGHTS FOLDER SIZE
    from deployments.background import u2net

    save(u2net.load_module(Path(sys.argv[1])), int(sys.argv[3]), Path(sys.argv[2]))
