"""Device decisions are pure, so the GPU branch is tested on a machine without one."""

from __future__ import annotations

import torch

from deployments.common.device import apply_torch, plan


def test_cpu_replica_uses_float32_channels_last_and_its_cpus():
    config = plan(num_cpus=2, num_gpus=0, cuda_available=False)
    assert (config.kind, config.dtype, config.channels_last, config.threads) == (
        "cpu",
        torch.float32,
        True,
        2,
    )
    assert config.memory_fraction is None


def test_gpu_fraction_becomes_fp16_and_a_memory_cap():
    config = plan(num_cpus=1, num_gpus=0.25, cuda_available=True)
    assert config.kind == "cuda"
    assert config.dtype == torch.float16
    assert config.memory_fraction == 0.25


def test_gpu_asked_but_absent_falls_back_to_cpu():
    assert plan(num_cpus=1, num_gpus=0.5, cuda_available=False).kind == "cpu"


def test_fractional_cpus_get_at_least_one_thread():
    assert plan(num_cpus=0.25, num_gpus=0, cuda_available=False).threads == 1


def test_apply_sets_intra_op_threads():
    before = torch.get_num_threads()
    try:
        apply_torch(plan(num_cpus=1, num_gpus=0, cuda_available=False))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_a_cpu_replica_needs_no_torch():
    import subprocess
    import sys

    code = (
        "import sys; from deployments.common.device import configure; configure(2, 0); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_thread_of_a_replica_gets_its_threads():
    """Ray starts actors with OMP_NUM_THREADS=1, and torch.set_num_threads holds only in the
    thread that calls it: the networks, run in worker threads, would get one core."""
    import os
    import subprocess
    import sys

    code = (
        "from deployments.common.device import configure; configure(2, 0)\n"
        "import ctypes, torch\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "torch.ones(1)\n"
        "gomp = next(line.split()[-1] for line in open('/proc/self/maps') if 'libgomp' in line)\n"
        "omp = ctypes.CDLL(gomp).omp_get_max_threads\n"
        "with ThreadPoolExecutor(1) as pool:\n"
        "    print(pool.submit(omp).result())\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "2"
