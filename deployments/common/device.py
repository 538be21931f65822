"""Where a replica runs its networks, derived from the resources Serve gave it.

CPU: float32, channels_last, intra-op threads = the replica's num_cpus, or every core for
num_cpus 0, in every thread of the replica (Ray otherwise sets OMP_NUM_THREADS=1 for actors).
CUDA: float16, and the replica's fractional `num_gpus` becomes a hard memory cap so models
packed onto one GPU cannot starve each other.

Torch is imported only when a replica has a GPU or loads a PyTorch network: a CPU replica
running ncnn stays ~0.4 GB smaller and starts faster.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceConfig:
    kind: str  # "cpu" | "cuda"
    half: bool
    channels_last: bool
    threads: int
    memory_fraction: float | None = None

    @property
    def torch_device(self):
        import torch

        return torch.device(self.kind)

    @property
    def dtype(self):
        import torch

        return torch.float16 if self.half else torch.float32


def plan(num_cpus: float, num_gpus: float, cuda_available: bool, half: bool = True) -> DeviceConfig:
    """Pure decision, testable without a GPU."""
    threads = cpu_threads(num_cpus)
    if num_gpus > 0 and cuda_available:
        return DeviceConfig("cuda", half, True, threads, min(1.0, float(num_gpus)))
    return DeviceConfig("cpu", False, True, threads, None)


def cpu_threads(num_cpus: float) -> int:
    # 0 logical CPUs (a replica sharing the machine, as in the laptop profile): all cores
    return max(1, int(num_cpus)) if num_cpus else max(1, os.cpu_count() or 1)


def apply_torch(config: DeviceConfig) -> None:
    """Configure torch for this replica (call once torch is imported)."""
    import torch

    torch.set_num_threads(config.threads)
    if config.kind == "cuda" and config.memory_fraction is not None:
        torch.cuda.set_per_process_memory_fraction(config.memory_fraction)


def configure(num_cpus: float, num_gpus: float, half: bool = True) -> DeviceConfig:
    # torch.set_num_threads reaches only the calling thread's OpenMP (and MKL): the networks
    # run in asyncio.to_thread's threads, where Ray's OMP_NUM_THREADS=1 left them one core
    # (SAM's encoder took 20 s instead of 11 on 2 cores). What the environment says when
    # torch loads holds in every thread; torch is imported only after this.
    threads = str(cpu_threads(num_cpus))
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = threads
    cuda = False
    if num_gpus > 0:
        import torch

        cuda = torch.cuda.is_available()
    config = plan(num_cpus, num_gpus, cuda, half)
    if "torch" in sys.modules:
        apply_torch(config)
    return config
