"""Custom models: LoRA adapters of a generator model that an account uploads, used as
`model=custom:<name>`. Checked before they are kept: a safetensors file (never a pickle),
within the size cap, whose every key is a LoRA weight of a module the base model has, with
the shapes that module takes. Kept in the blob store until deleted; the records in Redis,
per account, and "" for the ones an admin published to everyone.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import orjson

from serve_app.core.errors import CustomModelNotFound, InvalidLora, InvalidParameter
from serve_app.core.keyspace import Blobs
from serve_app.core.runtime import Runtime
from serve_app.engine import safetensors_header

PREFIX = "custom:"
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
MAX_TRIGGER_WORDS, MAX_TRIGGER_CHARS = 8, 40
# PEFT/diffusers (lora_A/B) and kohya (lora_down/up, alpha) key forms
SUFFIXES = {".lora_A.weight": "A", ".lora_B.weight": "B", ".lora_down.weight": "A"}
SUFFIXES |= {".lora_up.weight": "B", ".alpha": "alpha"}
PREFIXES = ("transformer.", "diffusion_model.", "base_model.model.")


@dataclass(frozen=True)
class CustomModel:
    name: str
    owner: str  # the account; "" once published to everyone
    base_model: str
    trigger_words: tuple[str, ...]
    size: int
    sha256: str
    rank: int
    modules: int
    created_at: float = 0.0
    public: bool = field(default=False)

    @property
    def key(self) -> str:
        return Blobs.custom_model(self.owner, self.name)

    def dumps(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def restore(cls, raw: bytes | str) -> CustomModel:
        fields = orjson.loads(raw)
        return cls(**{**fields, "trigger_words": tuple(fields["trigger_words"])})

    def view(self) -> dict:
        keep = ("name", "base_model", "trigger_words", "size", "sha256", "rank", "public")
        return {"model": PREFIX + self.name, **{k: getattr(self, k) for k in keep}}


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidParameter(
            "name: 1 to 40 lowercase letters, digits or '-', starting with a letter or digit."
        )
    return name


def trigger_words(raw: object) -> tuple[str, ...]:
    """Comma-separated text or a JSON list; prepended to the prompt when they are missing."""
    if raw in (None, ""):
        return ()
    words = orjson.loads(raw) if isinstance(raw, str) and raw.lstrip()[:1] == "[" else raw
    words = words.split(",") if isinstance(words, str) else words
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise InvalidParameter("trigger_words: comma-separated words or a JSON list of them.")
    words = [" ".join(w.split()) for w in words if w.strip()]
    if len(words) > MAX_TRIGGER_WORDS or any(len(w) > MAX_TRIGGER_CHARS for w in words):
        raise InvalidParameter(
            f"trigger_words: at most {MAX_TRIGGER_WORDS}, each {MAX_TRIGGER_CHARS} characters."
        )
    return tuple(words)


@lru_cache(maxsize=8)
def base_weights(model_dir: Path) -> dict[str, tuple[int, ...]]:
    """module -> its weight's shape, from the headers of the base model's transformer files."""
    shapes = {}
    for path in sorted((model_dir / "transformer").glob("*.safetensors")):
        for name, (_, shape) in safetensors_header.read_file(path).items():
            if name.endswith(".weight"):
                shapes[name.removesuffix(".weight")] = shape
    return shapes


def _split(key: str) -> tuple[str, str]:
    for suffix, part in SUFFIXES.items():
        if key.endswith(suffix):
            module = key.removesuffix(suffix)
            for prefix in PREFIXES:
                module = module.removeprefix(prefix)
            return module, part
    raise InvalidLora(f"{key!r} is not a LoRA weight (lora_A/lora_B or lora_down/lora_up).")


def check_lora(tensors: safetensors_header.Tensors, base: dict[str, tuple]) -> tuple[int, int]:
    """(rank, modules) of a LoRA whose every weight fits a module of the base model."""
    parts: dict[str, dict[str, tuple]] = {}
    for key, (_, shape) in tensors.items():
        module, part = _split(key)
        if module not in base:
            raise InvalidLora(f"{key!r}: the base model has no module {module!r}.")
        parts.setdefault(module, {})[part] = shape
    ranks = {_fits(module, found, base[module]) for module, found in parts.items()}
    if not parts:
        raise InvalidLora("The file holds no LoRA weights.")
    return max(ranks), len(parts)


def _fits(module: str, found: dict[str, tuple], weight: tuple) -> int:
    down, up = found.get("A"), found.get("B")
    if down is None or up is None or len(down) != 2 or len(up) != 2 or len(weight) != 2:
        raise InvalidLora(f"{module}: needs a 2-D down (A) and up (B) weight.")
    if down[1] != weight[1] or up[0] != weight[0] or down[0] != up[1]:
        raise InvalidLora(
            f"{module}: shapes {down} x {up} do not fit its {weight[0]}x{weight[1]} weight."
        )
    return down[0]


def inspect(data: bytes, base: Path) -> tuple[int, int]:
    try:
        tensors = safetensors_header.read(data)
    except safetensors_header.NotSafetensors as exc:
        raise InvalidLora(f"Send a .safetensors file: {exc}.") from exc
    return check_lora(tensors, base_weights(base))


async def save(rt: Runtime, model: CustomModel, data: bytes) -> CustomModel:
    await rt.blobs.put(model.key, data)
    await rt.redis.hset(rt.keys.custom_models(model.owner), model.name, model.dumps())
    return model


def new(owner: str, name: str, base: str, words: tuple, data: bytes, shape, now) -> CustomModel:
    digest = hashlib.sha256(data).hexdigest()
    return CustomModel(name, owner, base, words, len(data), digest, *shape, created_at=now)


async def find(rt: Runtime, owner: str, name: str) -> CustomModel:
    """The account's own model of that name, else a published one."""
    for holder in (owner, ""):
        raw = await rt.redis.hget(rt.keys.custom_models(holder), name)
        if raw is not None:
            return CustomModel.restore(raw)
    raise CustomModelNotFound(f"No custom model {name!r} of yours or published.")


async def listed(rt: Runtime, owner: str) -> list[CustomModel]:
    own = await rt.redis.hvals(rt.keys.custom_models(owner))
    public = await rt.redis.hvals(rt.keys.custom_models(""))
    return [CustomModel.restore(raw) for raw in (*own, *public)]


async def delete(rt: Runtime, owner: str, name: str) -> CustomModel:
    raw = await rt.redis.hget(rt.keys.custom_models(owner), name)
    if raw is None:
        raise CustomModelNotFound(f"No custom model {name!r} of yours.")
    model = CustomModel.restore(raw)
    await rt.redis.hdel(rt.keys.custom_models(owner), name)
    await rt.blobs.delete(model.key)
    return model


async def publish(rt: Runtime, owner: str, name: str) -> CustomModel:
    """An account's model copied for everyone (under its name; the account keeps its own)."""
    raw = await rt.redis.hget(rt.keys.custom_models(owner), name)
    if raw is None:
        raise CustomModelNotFound(f"Account {owner} has no custom model {name!r}.")
    model = CustomModel.restore(raw)
    public = CustomModel(**{**asdict(model), "owner": "", "public": True})
    return await save(rt, public, await rt.blobs.get(model.key))
