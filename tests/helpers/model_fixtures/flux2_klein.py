"""A tiny random-initialised FLUX.2 [klein] pipeline: the real classes (Flux2Transformer2DModel,
AutoencoderKLFlux2, Qwen3ForCausalLM with a Qwen2 byte-level BPE tokenizer and a chat template,
FlowMatchEulerDiscreteScheduler) at toy sizes, saved in the diffusers layout that the weights
source fetches. Its 28 text-encoder layers keep the pipeline's default hidden-state layers
(9, 18, 27). Plumbing only: it paints noise, never served as a model."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.helpers.model_fixtures.sd_inpaint import write_bpe_files

# the fixture's working size: a 64x64 square (4x4 latent patches after the VAE's x4 and the
# 2x2 packing); models.yaml `sample_px` tells the planner
SAMPLE_PX = 64
CONFIG = {"sample_px": SAMPLE_PX}
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
END = "<|endoftext|>"


def tokenizer():
    from transformers import Qwen2Tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        write_bpe_files(Path(tmp))
        files = {"vocab": str(Path(tmp) / "vocab.json"), "merges": str(Path(tmp) / "merges.txt")}
        loaded = Qwen2Tokenizer(**files, unk_token=END, eos_token=END, pad_token=END)
    loaded.chat_template = CHAT_TEMPLATE
    return loaded


# the toy sizes; loadtest/bench_generate.py gives the real ones to components() too.
# joint_attention_dim: three text-encoder layers of 16 stacked; 28 text layers keep the
# pipeline's default hidden-state layers (9, 18, 27)
TINY = {
    "transformer": dict(
        in_channels=16,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=48,
        timestep_guidance_channels=32,
        axes_dims_rope=(4, 4, 4, 4),
        guidance_embeds=False,
    ),
    "text": dict(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=28,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
    ),
    "vae": dict(
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        block_out_channels=(32, 32),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=16,
        sample_size=SAMPLE_PX,
    ),
}


def components(sizes: dict) -> dict:
    """The pipeline's modules (random) at `sizes`: transformer, text (with vocab_size), vae."""
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler
    from diffusers import Flux2Transformer2DModel as Transformer
    from transformers import Qwen3Config, Qwen3ForCausalLM

    return {
        "text_encoder": Qwen3ForCausalLM(Qwen3Config(**sizes["text"])),
        "transformer": Transformer(**sizes["transformer"]),
        "vae": AutoencoderKLFlux2(**sizes["vae"]),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True),
    }


def build(directory: Path) -> Path:
    """Write the pipeline to `directory`/flux2-klein (created) and return that folder."""
    import torch
    from diffusers import Flux2KleinPipeline

    torch.manual_seed(0)
    tok = tokenizer()
    sizes = {**TINY, "text": {**TINY["text"], "vocab_size": len(tok) + 8}}
    pipe = Flux2KleinPipeline(tokenizer=tok, is_distilled=True, **components(sizes))
    target = directory / "flux2-klein"
    pipe.save_pretrained(target, safe_serialization=True)
    return target


def lora(pipeline_dir: Path, rank: int = 4, seed: int = 1, kohya: bool = False) -> bytes:
    """A LoRA of the fixture's transformer made with PEFT (random, non-zero up weights so it
    changes the image), as the safetensors bytes a user uploads: diffusers' `transformer.`
    keys, or kohya's lora_down/lora_up form."""
    import torch
    from diffusers import Flux2Transformer2DModel
    from peft import LoraConfig, get_peft_model_state_dict
    from safetensors.torch import save

    torch.manual_seed(seed)
    model = Flux2Transformer2DModel.from_pretrained(pipeline_dir / "transformer")
    targets = ["to_q", "to_k", "to_v", "to_out.0"]
    model.add_adapter(
        LoraConfig(r=rank, lora_alpha=rank, target_modules=targets, init_lora_weights=False)
    )
    weights = {
        f"transformer.{k}": v.contiguous() for k, v in get_peft_model_state_dict(model).items()
    }
    if kohya:
        weights = {
            k.replace("lora_A", "lora_down").replace("lora_B", "lora_up"): v
            for k, v in weights.items()
        }
    return save(weights)
