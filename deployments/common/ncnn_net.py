"""An ncnn network on the CPU as the replicas run one: fp32 throughout (the results PyTorch
gives), no Vulkan, the replica's threads, and blob and workspace pools of its own - ncnn's
default pools are never emptied (a Real-ESRGAN tile's ~1 GB of blobs stayed for good); these
are, once the replica is idle (`pool.clear()`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load(param: Path, weights: Path, threads: int) -> tuple[Any, tuple[Any, Any]]:
    """(net, (blob pool, workspace pool)); ValueError when ncnn cannot read the files."""
    import ncnn

    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = threads
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    pools = ncnn.UnlockedPoolAllocator(), ncnn.PoolAllocator()
    net.opt.blob_allocator, net.opt.workspace_allocator = pools
    if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
        raise ValueError(f"ncnn could not load {Path(param).name}")
    return net, pools
