"""A random-initialised DDColor (the real architecture, spandrel_extra_arches' DDColor with a
ConvNeXt-T encoder, as `ddcolor_paper_tiny.pth`; 20 colour queries instead of 100
keep the file smaller) saved the way the authors' files are: torch.save of
{"params": state_dict}. For the plumbing only, never served as a model."""

from __future__ import annotations

from pathlib import Path

FILE = "ddcolor_paper_tiny.pth"


def build(directory: Path) -> Path:
    import torch
    from spandrel_extra_arches.architectures.DDColor import DDColor

    torch.manual_seed(0)
    model = DDColor(
        encoder_name="convnext-t",
        num_output_channels=2,
        last_norm="Spectral",
        nf=512,
        num_queries=20,
        input_size=(64, 64),
    )
    # a few training-mode passes let spectral norm's power iteration converge, as training
    # did: with its random start vectors the colour head's outputs run to 1e12
    model.train()
    with torch.no_grad():
        for _ in range(8):
            model(torch.rand(1, 3, 64, 64))
    path = Path(directory) / FILE
    torch.save({"params": model.eval().state_dict()}, str(path))
    return path
