"""A tiny random-initialised Stable Diffusion inpainting pipeline: the real classes
(UNet2DConditionModel with 9 input channels, AutoencoderKL, CLIPTextModel, CLIPTokenizer,
DDIMScheduler as in the official model_index.json) at toy sizes, saved in the official diffusers
layout that the weights source fetches (fp16 safetensors variant, no safety checker files).
Plumbing only: it paints noise, never served as a model."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

# a few merges so multi-character tokens exist; every byte is in the vocabulary on its own,
# so any prompt tokenises without an unknown token
MERGES = ["t h", "th e</w>", "a n", "an d</w>", "i n", "e r", "o n", "o f</w>"]
NATIVE_SAMPLE_SIZE = 32  # latent side; x2 (the tiny VAE's scale) = 64 px native resolution


def byte_alphabet() -> list[str]:
    """GPT-2/CLIP byte-to-unicode table: one printable character per byte value."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    chars, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            chars[byte] = chr(byte)
        else:
            chars[byte] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def write_bpe_files(directory: Path) -> int:
    """vocab.json + merges.txt of a minimal byte-level BPE; returns the vocabulary size."""
    alphabet = byte_alphabet()
    tokens = alphabet + [c + "</w>" for c in alphabet]
    tokens += ["".join(merge.split()) for merge in MERGES]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(MERGES) + "\n")
    return len(vocab)


def tokenizer():
    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        size = write_bpe_files(Path(tmp))
        loaded = CLIPTokenizer.from_pretrained(tmp, model_max_length=77)
    assert len(loaded) == size
    return loaded


def components(vocab_size: int) -> dict:
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    unet = UNet2DConditionModel(
        sample_size=NATIVE_SAMPLE_SIZE,
        in_channels=9,  # noisy latents 4 + mask 1 + masked-image latents 4
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 64),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=32,
        sample_size=NATIVE_SAMPLE_SIZE * 2,
    )
    text = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
    )
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": CLIPTextModel(text),
        # the official scheduler_config.json of SD 1.x
        "scheduler": DDIMScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            clip_sample=False,
            set_alpha_to_one=False,
            steps_offset=1,
        ),
    }


def build(directory: Path) -> Path:
    """Write the pipeline to `directory` (created) and return it."""
    import torch
    from diffusers import StableDiffusionInpaintPipeline

    torch.manual_seed(0)
    tok = tokenizer()
    pipe = StableDiffusionInpaintPipeline(
        tokenizer=tok,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
        **components(len(tok)),
    )
    pipe.to(torch.float16)
    directory.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(directory, safe_serialization=True, variant="fp16")
    # the official tokenizer folder holds vocab.json + merges.txt, not a tokenizer.json: loading
    # must go through the same conversion
    (directory / "tokenizer" / "tokenizer.json").unlink()
    write_bpe_files(directory / "tokenizer")
    official_index(directory / "model_index.json")
    return directory


def official_index(path: Path) -> None:
    """model_index.json as the official repo has it: it names a safety checker and its feature
    extractor, whose folders the snapshot leaves out (loading must not need them)."""
    index = json.loads(path.read_text())
    index["safety_checker"] = ["stable_diffusion", "StableDiffusionSafetyChecker"]
    index["feature_extractor"] = ["transformers", "CLIPImageProcessor"]
    index["requires_safety_checker"] = True
    path.write_text(json.dumps(index, indent=2))
