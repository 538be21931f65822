"""A random-initialised big-lama (the real architecture, spandrel's FFCResNetGenerator) saved
the way the official file is: `big-lama.pt`, a TorchScript archive of a module holding the
network as `generator` (keys `generator.model.*`, ~205 MB), as IOPaint publishes it. For the
plumbing only, never served as a model."""

from __future__ import annotations

import warnings
from pathlib import Path

FILE = "big-lama.pt"


def build(directory: Path) -> Path:
    import torch
    from spandrel.architectures.LaMa import LaMa

    class Exported(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # 4 input channels: the masked image and the mask, concatenated
            self.generator = LaMa(in_nc=4, out_nc=3).model

        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            filled = self.generator(image * (1 - mask), mask)
            return mask * filled + (1 - mask) * image

    torch.manual_seed(0)
    module = Exported().eval()
    # the smallest input LaMa takes: tracing runs the network once
    example = (torch.rand(1, 3, 16, 16), torch.zeros(1, 1, 16, 16))
    path = Path(directory) / FILE
    with warnings.catch_warnings(), torch.no_grad():
        # TorchScript is deprecated in torch, but it is the format the official file is in
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.trace(module, example, check_trace=False), str(path))
    return path
