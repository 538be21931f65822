"""Where a replica runs its networks, derived from the resources Serve gave it.

CPU: float32, channels_last, intra-op threads = the replica's num_cpus (Ray otherwise sets
OMP_NUM_THREADS=1 for actors). CUDA: float16, and the replica's fractional `num_gpus` becomes
a hard memory cap so models packed onto one GPU cannot starve each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceConfig:
    kind: str  # "cpu" | "cuda"
    half: bool
    channels_last: bool
    threads: int
    memory_fraction: float | None = None

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.kind)

    @property
    def dtype(self) -> torch.dtype:
        return torch.float16 if self.half else torch.float32


def plan(num_cpus: float, num_gpus: float, cuda_available: bool, half: bool = True) -> DeviceConfig:
    """Pure decision, testable without a GPU."""
    threads = max(1, int(num_cpus or 1))
    if num_gpus > 0 and cuda_available:
        return DeviceConfig("cuda", half, True, threads, min(1.0, float(num_gpus)))
    return DeviceConfig("cpu", False, True, threads, None)


def apply(config: DeviceConfig) -> DeviceConfig:
    torch.set_num_threads(config.threads)
    if config.kind == "cuda" and config.memory_fraction is not None:
        torch.cuda.set_per_process_memory_fraction(config.memory_fraction)
    return config


def configure(num_cpus: float, num_gpus: float, half: bool = True) -> DeviceConfig:
    return apply(plan(num_cpus, num_gpus, torch.cuda.is_available(), half))
