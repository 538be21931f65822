"""What generate and edit share: the prompt, the output shape (aspect ratio and resolution),
the generator model with its defaults, and the backend that takes the model's ~1 MP image to
2K/4K through the Upscaler.

Shape: the model works at about `sample_px`² pixels (models.yaml; 1024² for FLUX.2 [klein])
in the ratio asked for, sides multiples of 16; `resolution` 2K / 4K is that image upscaled
(the fast Real-ESRGAN, then Lanczos) to a 2048 / 4096 px longest edge. An edit without
`aspect_ratio` keeps the first photo's ratio.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from serve_app.core.catalog import Catalog, ModelSpec
from serve_app.core.errors import InvalidParameter, ModelUnavailable, PixelTooSmall
from serve_app.engine import loras
from serve_app.engine.backends import Backend, Call
from serve_app.operations import upscale
from serve_app.operations._operation import Given, Plan
from serve_app.operations._params import Output, integer, number, prompt_text

GROUP = "generate"  # models.yaml `operation:` of the generator models
MAX_PROMPT_CHARS = 2000  # the text encoder reads 512 tokens: ~2,000 characters of English
MULTIPLE = 16  # VAE x8, then 2x2 patches
MIN_SIDE = 64  # the pipelines refuse smaller reference photos
RESOLUTIONS = {"1K": 0, "2K": 2048, "4K": 4096}  # the longest edge (0: the model's own size)
NAMED_RATIOS = {
    "SQUARE": (1, 1),
    "LANDSCAPE": (16, 9),
    "PORTRAIT": (9, 16),
    # ProductAI's names for some models
    "SQUARE_1_1": (1, 1),
    "LANDSCAPE_4_3": (4, 3),
    "LANDSCAPE_5_4": (5, 4),
    "PORTRAIT_4_5": (4, 5),
    "PORTRAIT_3_4": (3, 4),
}
MAX_RATIO = 4.0  # 4:1 at most either way
UPSCALER = "Upscaler"  # the upscale operation's deployment
GENERATOR = "Generator"  # generate's and edit's deployment (inpaint's masked edit too)
GENERATE_SHARE = 0.9  # of the progress, when an upscale follows
_W_H = re.compile(r"^\s*(\d{1,4})\s*[:x/]\s*(\d{1,4})\s*$")


def parse_ratio(value: Any) -> tuple[int, int]:
    text = str(value).strip().upper()
    if text in NAMED_RATIOS:
        return NAMED_RATIOS[text]
    match = _W_H.match(text.replace("X", "x").lower())
    if match and int(match[1]) > 0 and int(match[2]) > 0:
        width, height = int(match[1]), int(match[2])
        if max(width / height, height / width) <= MAX_RATIO:
            return width, height
    names = ", ".join(NAMED_RATIOS)
    raise InvalidParameter(
        f"aspect_ratio must be one of {names}, or W:H between 1:4 and 4:1 (e.g. 4:3, 9:16); "
        f"got {value!r}."
    )


def parse_resolution(value: Any) -> str:
    text = str(value).strip().upper()
    if text not in RESOLUTIONS:
        raise InvalidParameter(f"resolution must be 1K, 2K or 4K; got {value!r}.")
    return text


Ratio = Annotated[
    tuple[int, int],
    BeforeValidator(parse_ratio),
    Field(json_schema_extra={"type": "string", "examples": ["SQUARE", "LANDSCAPE", "4:3"]}),
]
Resolution = Annotated[Literal["1K", "2K", "4K"], BeforeValidator(parse_resolution)]


class GenerationParams(Output):
    prompt: prompt_text("what to make (required)", MAX_PROMPT_CHARS)
    aspect_ratio: Ratio | None = None
    resolution: Resolution = "1K"
    model: str | None = Field(
        None, description="a generator model (default: the first loaded), or custom:<name>"
    )
    steps: integer(1, 50, "denoising steps (default: the model's)") | None = None
    guidance: number(0, 20, "guidance scale (default: the model's)") | None = None
    negative_prompt: prompt_text("what not to make (models that take one)", MAX_PROMPT_CHARS) = None
    seed: integer(0, 2**31 - 1, "the same seed, prompt and inputs give the same image") | None = (
        None
    )

    @field_validator("prompt", mode="after")
    @classmethod
    def _some_prompt(cls, value: str | None) -> str:
        if not value:
            raise InvalidParameter("prompt is required: say what to make.")
        return value


def with_trigger_words(prompt: object, words: tuple[str, ...]) -> object:
    if not isinstance(prompt, str) or not prompt.strip():
        return prompt  # the prompt's own checks answer
    missing = [w for w in words if w.lower() not in prompt.lower()]
    return ", ".join([*missing, prompt]) if missing else prompt


async def custom_model(rt, account_id: str, params: dict) -> tuple[dict, dict]:
    """`model=custom:<name>`: the account's (or a published) LoRA on its base model; the job
    gets the adapter's blob key, which no client can set."""
    name = params.get("model")
    if not (isinstance(name, str) and name.startswith(loras.PREFIX)):
        return params, {}
    found = await loras.find(rt, account_id, name.removeprefix(loras.PREFIX))
    prompt = with_trigger_words(params.get("prompt"), found.trigger_words)
    private = {"lora_key": found.key, "lora_sha256": found.sha256, "custom_model": name}
    return {**params, "model": found.base_model, "prompt": prompt}, private


def lora_base(catalog: Catalog, name: str | None) -> tuple[str, Path]:
    """The generator a custom model is made for (default: the first), and its weights folder,
    whose transformer headers the upload is checked against."""
    specs = catalog.for_operation(GROUP)
    spec = next((s for s in specs if s.name == name), None) if name else next(iter(specs), None)
    if spec is None:
        choices = ", ".join(s.name for s in specs)
        raise InvalidParameter(f"base_model must be one of {choices}; got {name!r}.")
    if not catalog.available(spec):
        raise InvalidParameter(f"{spec.name} has no weights here: a LoRA cannot be checked.")
    return spec.name, spec.weights_path(catalog.weights_dir)


def model_spec(catalog: Catalog, name: str | None) -> ModelSpec:
    """The named generator (or the first with weights); 503 before credits move when its
    weights are missing."""
    specs = catalog.for_operation(GROUP)
    if name is not None:
        specs = [s for s in specs if name in (s.name, s.alias)]
        if not specs:
            choices = ", ".join(s.alias or s.name for s in catalog.for_operation(GROUP))
            raise InvalidParameter(f"model must be one of {choices}; got {name!r}.")
    for spec in specs:
        if catalog.available(spec):
            return spec
    raise ModelUnavailable(
        f"{name or 'The generator'} has no weights on this server: run `photoserve weights "
        f"fetch {specs[0].name if specs else 'flux2-klein-4b'}` where there is internet."
    )


def work_size(sample_px: int, ratio: tuple[float, float]) -> tuple[int, int]:
    """About sample_px² pixels in `ratio`, sides multiples of 16."""
    aspect = ratio[0] / ratio[1]
    width = sample_px * math.sqrt(aspect)
    height = width / aspect
    return tuple(max(MULTIPLE, round(side / MULTIPLE) * MULTIPLE) for side in (width, height))


def output_size(work: tuple[int, int], resolution: str) -> tuple[int, int]:
    edge = RESOLUTIONS[resolution]
    if not edge or edge <= max(work):
        return work
    return tuple(max(1, round(side * edge / max(work))) for side in work)


def check_photo(info, what: str) -> None:
    if min(info.width, info.height) < MIN_SIDE:
        raise PixelTooSmall(
            f"The {what} is {info.width}x{info.height}; both sides must be at least {MIN_SIDE} px."
        )


def sampling(
    spec: ModelSpec,
    steps: int | None = None,
    guidance: float | None = None,
    seed: int | None = None,
    negative_prompt: str | None = None,
) -> dict[str, Any]:
    """A generator job's steps, guidance and seed: the given ones, else the model's defaults
    (models.yaml `options`); the seed chosen now and stored with the job, so a retried job
    paints the same image. A negative prompt only for a model that takes one."""
    if negative_prompt and not spec.options.get("negative_prompt", False):
        raise InvalidParameter(f"{spec.name} does not take a negative_prompt.")
    return {
        "model": spec.name,
        "steps": steps or int(spec.options.get("steps", 28)),
        "guidance": float(spec.options.get("guidance", 4.0) if guidance is None else guidance),
        "seed": secrets.randbelow(2**31) if seed is None else seed,
    }


def generation_plan(
    params: GenerationParams, given: Given, ratio: tuple[float, float], extra: dict | None = None
) -> Plan:
    """A generator job: the model, its working and output sizes, the upscaler that joins
    them (when 2K/4K asks for more), the seed, and the model's price."""
    spec = model_spec(given.catalog, params.model)
    work = work_size(spec.sample_px or 1024, params.aspect_ratio or ratio)
    out = output_size(work, params.resolution)
    upscaler = None
    if out != work:
        upscaler = upscale.model_name(given.catalog, upscale.DEFAULT_MODEL)
        upscale.check_memory(given, upscaler, work, out)
    chosen = (params.steps, params.guidance, params.seed, params.negative_prompt)
    fields = {
        "prompt": params.prompt,
        "negative_prompt": params.negative_prompt,
        **sampling(spec, *chosen),
        "work_width": work[0],
        "work_height": work[1],
        "out_width": out[0],
        "out_height": out[1],
        "resolution": params.resolution,
        "upscale_model": upscaler,
        **params.output(),
        **(extra or {}),
    }
    return Plan(fields, given.price(("model", spec.name)), size_label=params.resolution)


class Upscaled:
    """The generator's image, then (2K/4K) the upscaler to the output size: two backends."""

    def __init__(self, generator: Backend, upscaler: Backend):
        self.generator = generator
        self.upscaler = upscaler

    async def stream(self, image, params: dict[str, Any]) -> AsyncIterator[dict]:
        share = GENERATE_SHARE if params.get("upscale_model") else 1.0
        made = None
        async for event in self.generator.stream(image, params):
            if "image" in event:
                made = event
            else:
                yield {"progress": share * event["progress"]}
        if made is None or not params.get("upscale_model"):
            if made is not None:
                yield made
            return
        async for event in self._upscale(made["image"], params):
            yield {**event, "seed": made["seed"]} if "image" in event else event

    async def _upscale(self, image, params: dict[str, Any]) -> AsyncIterator[dict]:
        size = {"out_width": params["out_width"], "out_height": params["out_height"]}
        job = {"model": params["upscale_model"], **size}
        async for event in self.upscaler.stream(image, job):
            if "image" in event:
                yield event
            else:
                yield {"progress": GENERATE_SHARE + (1 - GENERATE_SHARE) * event["progress"]}


def upscaled(handle: Any, method: str, handles: dict[str, Any]) -> Upscaled:
    return Upscaled(Call(handle, method), Call(handles[UPSCALER]))
