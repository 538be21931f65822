"""A random-initialised 19-class BiSeNet face parser saved as facexlib publishes
`parsing_bisenet.pth` (a plain state dict). Plumbing only: it labels noise."""

from __future__ import annotations

from pathlib import Path


def build(directory: Path) -> Path:
    import torch

    from deployments.faces import parsing_network

    torch.manual_seed(0)
    network = parsing_network.build()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "parsing_bisenet.pth"
    torch.save(network.state_dict(), path)
    return path
