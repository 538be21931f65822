"""A random-initialised Segment Anything vit_b (the real architecture) saved as the official
checkpoint is: a plain `torch.save`d state dict named `sam_vit_b_01ec64.pth`. For the plumbing
only, never served as a model."""

from __future__ import annotations

from pathlib import Path

FILE = "sam_vit_b_01ec64.pth"


def build(directory: Path) -> Path:
    import torch
    from segment_anything import sam_model_registry

    torch.manual_seed(0)
    model = sam_model_registry["vit_b"](checkpoint=None)
    path = Path(directory) / FILE
    torch.save(model.state_dict(), path)
    return path
