"""Segment Anything (the official `segment-anything` package and checkpoints): the ViT image
encoder runs once per photo (seconds on a CPU), then every click is only the prompt encoder and
the mask decoder (milliseconds), so a caller keeps the `Embedding` and reuses it. The
Embedding also carries the decoder's part that depends on the photo only (decoder.py).

Prompts are in the ORIGINAL photo's pixel coordinates: points `[[x, y, label], ...]` (label 1 =
foreground, 0 = background) and/or a box `[x0, y0, x1, y1]`; the mask comes back at the
original HxW. Preprocessing matches `SamPredictor.set_image` (ResizeLongestSide to 1024,
pixel normalisation, zero padding to a square).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deployments.common.device import DeviceConfig, apply_torch
from deployments.segment import decoder
from deployments.segment.decoder import ImageTokens

VARIANTS = ("vit_b", "vit_l", "vit_h")


@dataclass
class SamModel:
    module: Any  # segment_anything.modeling.Sam
    device: DeviceConfig
    positions: Any  # the image tokens' positional encoding (decoder.positions)

    @property
    def image_size(self) -> int:
        return int(self.module.image_encoder.img_size)


@dataclass(frozen=True)
class Embedding:
    original_size: tuple[int, int]  # (H, W) of the photo
    input_size: tuple[int, int]  # (H, W) after ResizeLongestSide, before padding
    # what every click's decoder pass reads of this photo: the encoder's 1x256x64x64 features
    # as tokens (not kept a second time as a grid), and the first layer's keys and values
    image: ImageTokens


def embedding(model: SamModel, features, original_size, input_size) -> Embedding:
    """An Embedding of encoder `features` (from `encode`): the decoder's per-photo part."""
    import torch

    with torch.inference_mode():
        image = decoder.prepare(model.module, features, model.positions)
    return Embedding(original_size, input_size, image)


@dataclass(frozen=True)
class Prompt:
    coords: np.ndarray | None  # Nx2 float (x, y), original pixels
    labels: np.ndarray | None  # N int, 1 foreground / 0 background
    box: np.ndarray | None  # 4 float (x0, y0, x1, y1), original pixels


def load(path: Path, device: DeviceConfig, variant: str = "vit_b") -> SamModel:
    import torch
    from segment_anything import sam_model_registry

    from deployments.common.checkpoints import load_state_dict
    from deployments.segment import attention

    if variant not in VARIANTS:
        raise ValueError(f"unknown SAM variant {variant!r}; one of {VARIANTS}")
    apply_torch(device)
    module = sam_model_registry[variant](checkpoint=None)
    module.load_state_dict(load_state_dict(Path(path)), strict=True)
    attention.bound(module.image_encoder)  # 2.2 GB less at the peak, same masks
    module = module.eval().to(device.torch_device)
    if device.half:
        # the encoder is where the time goes; the prompt encoder's Fourier features and the
        # small decoder stay float32 (their buffers would mix dtypes in half)
        module.image_encoder.half()
    with torch.inference_mode():
        return SamModel(module, device, decoder.positions(module))


def prepare(model: SamModel, image: np.ndarray) -> tuple[Any, tuple[int, int]]:
    """The encoder input for an HxWx3 uint8 RGB photo (1x3x1024x1024) and its unpadded size."""
    import torch
    from segment_anything.utils.transforms import ResizeLongestSide

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {image.shape} {image.dtype}")
    resized = ResizeLongestSide(model.image_size).apply_image(image)
    x = torch.as_tensor(resized, device=model.device.torch_device)
    x = x.permute(2, 0, 1).contiguous()[None]
    # normalises with the float32 pixel mean/std buffers, then pads bottom/right to a square
    return model.module.preprocess(x), (resized.shape[0], resized.shape[1])


def encode(model: SamModel, image: np.ndarray) -> tuple[Any, tuple[int, int]]:
    """The image encoder's 1x256x64x64 float32 features and the resized (H, W): the
    expensive part, once per photo."""
    import torch

    with torch.inference_mode():
        x, input_size = prepare(model, image)
        encoder = model.module.image_encoder
        return encoder(x.to(encoder.patch_embed.proj.weight.dtype)).float(), input_size


def embed(model: SamModel, image: np.ndarray) -> Embedding:
    features, input_size = encode(model, image)
    return embedding(model, features, (image.shape[0], image.shape[1]), input_size)


def parse_prompt(points: list | None, box: list | None, size: tuple[int, int]) -> Prompt:
    """Check a prompt against the photo's (H, W); ValueError on anything SAM cannot use."""
    height, width = size
    if not points and box is None:
        raise ValueError("a segment prompt needs at least one point or a box")
    coords = labels = box_array = None
    if points:
        array = np.asarray(points, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != 3:
            raise ValueError("points must be [[x, y, label], ...]")
        if not np.isin(array[:, 2], (0, 1)).all():
            raise ValueError("point labels must be 1 (foreground) or 0 (background)")
        coords, labels = array[:, :2], array[:, 2].astype(np.int64)
        _check_inside(coords, width, height, "point")
    if box is not None:
        box_array = np.asarray(box, dtype=np.float64)
        corners = box_array.reshape(2, 2) if box_array.shape == (4,) else None
        if corners is None or not (corners[0] < corners[1]).all():
            raise ValueError("box must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1")
        _check_inside(corners, width, height, "box")
    return Prompt(coords, labels, box_array)


def _check_inside(xy: np.ndarray, width: int, height: int, what: str) -> None:
    if not np.isfinite(xy).all():
        raise ValueError(f"{what} coordinates must be finite numbers")
    if (xy < 0).any() or (xy[:, 0] > width).any() or (xy[:, 1] > height).any():
        raise ValueError(f"{what} lies outside the {width}x{height} image")


def predict(
    model: SamModel,
    embedding: Embedding,
    points: list | None = None,
    box: list | None = None,
    multimask: bool = True,
) -> np.ndarray:
    """HxW bool mask at the original size; with multimask, the candidate SAM scores best."""
    import torch
    from segment_anything.utils.transforms import ResizeLongestSide

    prompt = parse_prompt(points, box, embedding.original_size)
    transform = ResizeLongestSide(model.image_size)
    sam, device = model.module, model.device.torch_device
    with torch.inference_mode():
        point_input = box_input = None
        if prompt.coords is not None:
            coords = transform.apply_coords(prompt.coords, embedding.original_size)
            point_input = (
                torch.as_tensor(coords, dtype=torch.float32, device=device)[None],
                torch.as_tensor(prompt.labels, dtype=torch.int, device=device)[None],
            )
        if prompt.box is not None:
            boxes = transform.apply_boxes(prompt.box, embedding.original_size)
            box_input = torch.as_tensor(boxes, dtype=torch.float32, device=device)
        sparse, _ = sam.prompt_encoder(points=point_input, boxes=box_input, masks=None)
        low_res, scores = decoder.decode(sam, embedding.image, model.positions, sparse)
        # MaskDecoder's choice: the three candidates, or the single-mask output alone
        candidates = slice(1, None) if multimask else slice(0, 1)
        low_res, scores = low_res[:, candidates], scores[:, candidates]
        best = int(scores[0].argmax())
        # only the chosen candidate is upscaled to the photo's size
        logits = sam.postprocess_masks(
            low_res[:, best : best + 1], embedding.input_size, embedding.original_size
        )
        return (logits[0, 0] > sam.mask_threshold).cpu().numpy()
