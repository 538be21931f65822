"""POST /v1/inpaint: repaint the masked area from a prompt with Stable Diffusion inpainting
(a crop around the mask at <= 512 px, pasted back); the mask, or clicks for the Segmenter."""

from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, model_validator

from serve_app.core.errors import InvalidParameter, PromptTooLong
from serve_app.operations import segment
from serve_app.operations._editing import Clicks, masked, masked_plan
from serve_app.operations._operation import Given, Operation, Plan
from serve_app.operations._params import integer, number

NAME = "inpaint"
# CLIP reads 77 tokens (~300-400 characters of English); longer prompts would be cut silently
MAX_PROMPT_CHARS = 400
DEFAULT_PROMPT = "high quality photo"  # PixelForge's default


def read_prompt(value: Any, name: str, limit: int = MAX_PROMPT_CHARS) -> str | None:
    if not isinstance(value, str):
        raise InvalidParameter(f"{name} must be text.")
    text = " ".join(value.split())
    if len(text) > limit:
        raise PromptTooLong(f"{name} is {len(text)} characters; at most {limit}.")
    return text or None


def prompt_text(description: str, limit: int = MAX_PROMPT_CHARS) -> Any:
    """Text of at most `limit` characters (CLIP reads 77 tokens: ~400), whitespace folded."""
    reader = BeforeValidator(lambda value, info: read_prompt(value, info.field_name, limit))
    text = Annotated[str, Field(max_length=limit)]
    return Annotated[text | None, reader, Field(description=description)]


class InpaintParams(Clicks):
    prompt: prompt_text("what to paint") = DEFAULT_PROMPT
    negative_prompt: prompt_text("what not to paint") = None
    steps: integer(1, 100) = 30
    cfg_scale: number(0, 30, "guidance") = 7.0
    strength: number(0.01, 1) = 0.85
    seed: integer(0, 2**32 - 1, "the same seed, prompt and mask give the same result") | None = None

    @model_validator(mode="after")
    def _some_step_runs(self) -> Self:
        if int(self.steps * self.strength) < 1:
            raise InvalidParameter(
                "steps x strength must be at least 1: no denoising step would run."
            )
        return self


def plan(params: InpaintParams, given: Given) -> Plan:
    generation = {
        "prompt": params.prompt or DEFAULT_PROMPT,
        "negative_prompt": params.negative_prompt,
        "steps": params.steps,
        "cfg_scale": params.cfg_scale,
        "strength": params.strength,
        "seed": params.seed,
    }
    return masked_plan(params, given, OPERATION, segment.OPERATION, generation)


OPERATION = Operation(
    name=NAME,
    summary="Repaint the masked area from a prompt (Stable Diffusion inpainting)",
    description=(
        "`prompt`, `steps` 30, `cfg_scale` 7.0, `strength` 0.85, `seed` (reported with the "
        "result: the same seed reproduces it). The mask, or `points`/`box` for the Segmenter."
    ),
    params=InpaintParams,
    plan=plan,
    deployment="deployments.inpaint.inpainter:Inpainter",
    backend=masked,
    models=(NAME,),
    fetch="sd-inpainting",
    takes_mask=True,
)
