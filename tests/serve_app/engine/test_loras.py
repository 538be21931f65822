"""What a custom model (LoRA) must be before it is kept: a safetensors file whose every key is
a LoRA weight of a module the base model has, in shapes that module takes; pickles, stray
keys, missing modules and wrong shapes are refused with the reason."""

from __future__ import annotations

import io
import warnings

import pytest

from serve_app.core.errors import InvalidLora, InvalidParameter
from serve_app.engine import loras
from tests.helpers.model_fixtures import flux2_klein


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flux2_klein.build(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def made(base) -> bytes:
    return flux2_klein.lora(base)


def tensors(**named) -> bytes:
    import torch
    from safetensors.torch import save

    return save({name: torch.zeros(shape) for name, shape in named.items()})


def test_a_peft_lora_and_a_kohya_one_are_accepted(base, made):
    assert loras.inspect(made, base) == (4, 4)  # rank 4: q, k, v, out of one block
    assert loras.inspect(flux2_klein.lora(base, rank=2, kohya=True), base) == (2, 4)


def test_a_pickle_is_refused_whatever_its_name(base):
    import torch

    buffer = io.BytesIO()
    torch.save({"transformer.x.lora_A.weight": torch.zeros(2, 2)}, buffer)
    with pytest.raises(InvalidLora, match="safetensors"):
        loras.inspect(buffer.getvalue(), base)
    with pytest.raises(InvalidLora, match="safetensors"):
        loras.inspect(b"\x80\x04\x95" + b"\x00" * 64, base)


@pytest.mark.parametrize(
    ("named", "reason"),
    [
        ({"transformer.transformer_blocks.0.attn.to_q.weight": (32, 32)}, "not a LoRA weight"),
        (
            {
                "transformer.no_such.lora_A.weight": (4, 32),
                "transformer.no_such.lora_B.weight": (32, 4),
            },
            "no module",
        ),
        (
            {
                "transformer.transformer_blocks.0.attn.to_q.lora_A.weight": (4, 31),
                "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": (32, 4),
            },
            "do not fit",
        ),
        ({"transformer.transformer_blocks.0.attn.to_q.lora_A.weight": (4, 32)}, "needs a 2-D"),
        ({}, "no LoRA weights"),
    ],
)
def test_keys_and_shapes_are_checked_against_the_base_model(base, named, reason):
    with pytest.raises(InvalidLora, match=reason):
        loras.inspect(tensors(**named), base)


@pytest.mark.parametrize("raw", ["a,b", '["a", "b"]', ["a", " b "]])
def test_trigger_words(raw):
    assert loras.trigger_words(raw) == ("a", "b")


@pytest.mark.parametrize("name", ["", "Big", "-x", "a" * 41, "a b", "a/b", 3])
def test_bad_names(name):
    with pytest.raises(InvalidParameter):
        loras.check_name(name)
