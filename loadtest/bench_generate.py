"""Time per denoising step of the Generator's path vs the same pipeline called directly, in one
process, same steps and size, side by side:

    python -m loadtest.bench_generate [--pipeline DIR | --random tiny|klein-4b]
        [--size 1024] [--steps 4] [--references 0|1|2] [--offload]

"ours" is what the Generator deployment runs for a job: flux2.generate on its worker thread
behind the pipeline lock, every step reported through stepping.in_thread to the async side
(Serve's transport is per job, not per step, and is left out). "direct" is the pipeline's
own __call__ with the same arguments and no callback. A step's time is the median gap
between step ends; the first call of each is a warm-up.

`--pipeline` loads a diffusers folder (the real FLUX.2 [klein] snapshot); `--random` builds
the architecture with random weights in memory: `klein-4b` at the real sizes (3.9 B
transformer, Qwen3-4B text encoder: the same compute, meaningless pixels; on a GPU), `tiny`
the test fixture's toy sizes. Random weights are for timing only, never served.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from pathlib import Path

import numpy as np

from deployments.common import device as devices
from deployments.common.stepping import in_thread
from deployments.generate import flux2
from loadtest.photos import photo
from loadtest.service import scratch

# FLUX.2 [klein] 4B as published: 5 double + 20 single blocks of 24 heads x 128, 128 latent
# channels (32 x 2x2 patches), Qwen3-4B's three hidden layers (3 x 2560) as its text input
KLEIN_4B = {
    "transformer": dict(
        in_channels=128,
        num_layers=5,
        num_single_layers=20,
        attention_head_dim=128,
        num_attention_heads=24,
        joint_attention_dim=7680,
        timestep_guidance_channels=256,
        mlp_ratio=3.0,
        axes_dims_rope=(32, 32, 32, 32),
        guidance_embeds=False,
    ),
    "text": dict(
        vocab_size=151936,
        hidden_size=2560,
        intermediate_size=9728,
        num_hidden_layers=36,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        max_position_embeddings=40960,
        tie_word_embeddings=True,
    ),
    "vae": {},  # AutoencoderKLFlux2's defaults are FLUX.2's VAE
}


def random_klein_4b(config: devices.DeviceConfig):
    """The real sizes, random weights, built straight on the device in its dtype."""
    import torch
    from diffusers import Flux2KleinPipeline

    from tests.helpers.model_fixtures.flux2_klein import components, tokenizer

    dtype = flux2.dtype(config)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(config.torch_device):
            parts = components(KLEIN_4B)
    finally:
        torch.set_default_dtype(previous)
    scheduler = parts.pop("scheduler")
    # diffusers and transformers build in float32 whatever the default: cast, as loading does
    parts = {name: module.to(dtype) for name, module in parts.items()}
    text = Flux2KleinPipeline(
        scheduler=scheduler, tokenizer=tokenizer(), is_distilled=True, **parts
    )
    return flux2.with_masked(text, dtype)


def build(args, config: devices.DeviceConfig) -> flux2.Pipelines:
    if args.pipeline:
        pipes = flux2.load(Path(args.pipeline), config)
    elif args.random == "klein-4b":
        pipes = random_klein_4b(config)
    else:
        from tests.helpers.model_fixtures import flux2_klein

        with scratch("bench-generate-") as folder:  # load() reads every file into memory
            pipes = flux2.load(flux2_klein.build(folder), config)
    flux2.place(pipes, config, args.offload)
    return pipes


def parameters(pipes: flux2.Pipelines) -> dict[str, float]:
    """Billions of parameters per module, and what they take in their dtype (GB)."""
    out = {}
    for name in ("transformer", "text_encoder", "vae"):
        module = getattr(pipes.text, name)
        count = sum(p.numel() for p in module.parameters())
        size = sum(p.numel() * p.element_size() for p in module.parameters())
        out[name] = (count / 1e9, size / 1e9, str(next(module.parameters()).dtype))
    return out


def step_gaps(marks: list[float]) -> float:
    return statistics.median(np.diff(marks)) if len(marks) > 1 else float("nan")


def direct(pipes: flux2.Pipelines, job: flux2.Generation, refs: list) -> tuple[float, float]:
    """(seconds per step, seconds per image) of the pipeline's own call."""
    import torch

    marks: list[float] = []

    def mark(pipeline, step, timestep, tensors):
        _sync()
        marks.append(time.perf_counter())
        return tensors

    kwargs = {**flux2._common(job, None), "callback_on_step_end": mark}
    started = time.perf_counter()
    with torch.inference_mode():
        pipes.text(image=flux2._images(refs), **kwargs)
    _sync()
    return step_gaps(marks), time.perf_counter() - started


def ours(pipes: flux2.Pipelines, job: flux2.Generation, refs: list) -> tuple[float, float]:
    """(seconds per step, seconds per image) as the Generator runs a job."""
    marks: list[float] = []

    def work(on_step):
        def timed_step(fraction: float) -> None:
            _sync()
            marks.append(time.perf_counter())
            on_step(fraction)

        return flux2.generate(pipes, job, refs, timed_step)

    async def run():
        async for _event in in_thread(work, threading.Lock()):
            pass

    started = time.perf_counter()
    asyncio.run(run())
    return step_gaps(marks), time.perf_counter() - started


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def best(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up
    runs = [fn() for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", help="a diffusers FLUX.2 [klein] folder")
    parser.add_argument("--random", choices=("tiny", "klein-4b"), default="tiny")
    parser.add_argument("--size", type=int, default=None, help="square side (default: 1024 / 64)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--references", type=int, default=0, choices=(0, 1, 2))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--offload", action="store_true", help="model CPU offload (CUDA)")
    args = parser.parse_args(argv)
    import torch

    cuda = torch.cuda.is_available()
    config = devices.plan(0, 1 if cuda else 0, cuda)
    devices.apply_torch(config)
    pipes = build(args, config)
    size = args.size or (64 if args.random == "tiny" and not args.pipeline else 1024)
    job = flux2.Generation("a ceramic mug on a wooden table", size, size, args.steps, 1.0, 0)
    refs = [photo(name, size) for name in ("coffee", "astronaut")[: args.references]]
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    theirs, mine = best(lambda: direct(pipes, job, refs), args.repeat), None
    mine = best(lambda: ours(pipes, job, refs), args.repeat)
    print(
        f"device {config.kind} ({torch.cuda.get_device_name() if cuda else 'cpu'}), "
        f"{size}x{size}, {args.steps} steps, {args.references} reference photo(s)"
        f"{', model CPU offload' if args.offload else ''}"
    )
    for name, (count, gb, dtype) in parameters(pipes).items():
        print(f"  {name:<13} {count:6.3f} B parameters  {gb:6.2f} GB in {dtype}")
    print(f"{'':<8}{'s/step':>10}{'s/image':>10}")
    print(f"{'direct':<8}{theirs[0]:>10.4f}{theirs[1]:>10.3f}")
    print(f"{'ours':<8}{mine[0]:>10.4f}{mine[1]:>10.3f}")
    print(
        f"ours/direct per step: {mine[0] / theirs[0]:.3f}x, per image: {mine[1] / theirs[1]:.3f}x"
    )
    if cuda:
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
