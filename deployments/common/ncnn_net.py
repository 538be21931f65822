"""An ncnn network on the CPU as the replicas run one: fp32 (the results PyTorch gives) unless
the model asks for bf16 storage, no Vulkan, the replica's threads, and blob and workspace
pools of its own - ncnn's default pools are never emptied (a Real-ESRGAN tile's ~1 GB of blobs
stayed for good); these are, once the replica is idle (`pool.clear()`).

bf16 storage keeps weights and blobs in 16 bits and computes in fp32: memory traffic halves,
which is what these convolutions wait on (Real-ESRGAN here: 9-19 % faster, 20 % less memory,
53-58 dB from the fp32 output; models.yaml `ncnn_storage` says for which models)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load(
    param: Path,
    weights: Path,
    threads: int,
    pools: tuple[Any, Any] | None = None,
    bf16: bool = False,
) -> tuple[Any, tuple[Any, Any]]:
    """(net, (blob pool, workspace pool)); ValueError when ncnn cannot read the files. Given
    `pools` are shared with another net of these files, which must never run at the same time
    (the blob pool takes no lock)."""
    import ncnn

    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = threads
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    net.opt.use_bf16_storage = bf16
    pools = pools or (ncnn.UnlockedPoolAllocator(), ncnn.PoolAllocator())
    net.opt.blob_allocator, net.opt.workspace_allocator = pools
    if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
        raise ValueError(f"ncnn could not load {Path(param).name}")
    return net, pools
