"""A random-initialised GFPGANv1Clean (the real architecture, spandrel's GFPGAN) saved as a
half-precision safetensors state dict. For the plumbing only, never served as a model."""

from __future__ import annotations

from pathlib import Path

FILE = "gfpgan-random.safetensors"


def build(directory: Path) -> Path:
    import torch
    from safetensors.torch import save_file
    from spandrel.architectures.GFPGAN import GFPGAN

    torch.manual_seed(0)
    state = {k: v.half().contiguous() for k, v in GFPGAN().state_dict().items()}
    path = Path(directory) / FILE
    save_file(state, str(path))
    return path
