"""POST /v1/inpaint: repaint the masked area from a prompt (a crop around the mask at the
model's native size, pasted back); the mask, or clicks for the Segmenter. `model`: Stable
Diffusion 1.5 inpainting (default), or a generator (FLUX.2 [klein], its masked edit), which
also takes a `reference_image` to paint from."""

from typing import Any, Self

from pydantic import Field, model_validator

from serve_app.core.errors import InvalidParameter
from serve_app.engine.backends import Backend, MaskedCall, Routed
from serve_app.operations import _generating, segment
from serve_app.operations._editing import (
    SEGMENTER,
    Clicks,
    edit_plan,
    mask_or_clicks,
    masked,
    masked_plan,
)
from serve_app.operations._operation import Given, Operation, Plan
from serve_app.operations._params import integer, number, prompt_text

NAME = "inpaint"
DEFAULT_PROMPT = "high quality photo"  # PixelForge's default


SD_STEPS = 30


class InpaintParams(Clicks):
    prompt: prompt_text("what to paint") = DEFAULT_PROMPT
    negative_prompt: prompt_text("what not to paint") = None
    steps: integer(1, 100, "default 30 (a generator: its own)") | None = None
    cfg_scale: number(0, 30, "guidance") = 7.0
    strength: number(0.01, 1) = 0.85
    seed: integer(0, 2**32 - 1, "the same seed, prompt and mask give the same result") | None = None
    model: str | None = Field(None, description="sd-inpainting (default) or a generator model")

    @model_validator(mode="after")
    def _some_step_runs(self) -> Self:
        if int((self.steps or SD_STEPS) * self.strength) < 1:
            raise InvalidParameter(
                "steps x strength must be at least 1: no denoising step would run."
            )
        return self


def plan(params: InpaintParams, given: Given) -> Plan:
    if params.model is None or given.catalog.find(NAME, params.model) is not None:
        return _sd_plan(params, given)
    return _generator_plan(params, given)


def _sd_plan(params: InpaintParams, given: Given) -> Plan:
    """Stable Diffusion inpainting (the first of its models with weights)."""
    if given.reference is not None:
        raise InvalidParameter(
            "reference_image needs a generator model (e.g. model=flux2-klein-4b)."
        )
    generation = {
        "prompt": params.prompt or DEFAULT_PROMPT,
        "negative_prompt": params.negative_prompt,
        "steps": params.steps or SD_STEPS,
        "cfg_scale": params.cfg_scale,
        "strength": params.strength,
        "seed": params.seed,
    }
    return masked_plan(params, given, OPERATION, segment.OPERATION, generation)


def _generator_plan(params: InpaintParams, given: Given) -> Plan:
    """The generator's masked edit: its steps and guidance unless given, a seed chosen now."""
    spec = _generating.model_spec(given.catalog, params.model)
    given_cfg = params.cfg_scale if "cfg_scale" in params.model_fields_set else None
    chosen = (params.steps, given_cfg, params.seed, params.negative_prompt)
    if given.reference is not None:
        _generating.check_photo(given.reference, "reference_image")
    clicks, mask = mask_or_clicks(params, given, segment.OPERATION)
    fields = {
        **_generating.sampling(spec, *chosen),
        "runner": _generating.GENERATOR,
        "prompt": params.prompt or DEFAULT_PROMPT,
        "strength": params.strength,
        **clicks,
    }
    return edit_plan(params, given, fields, mask)


def backend(handle: Any, method: str, handles: dict[str, Any]) -> Backend:
    """SD jobs on the Inpainter, generator jobs (`runner`) on the Generator; clicks become a
    mask through the Segmenter first either way."""
    generator = MaskedCall(handles[_generating.GENERATOR], handles[SEGMENTER])
    return Routed({"": masked(handle, method, handles), _generating.GENERATOR: generator})


OPERATION = Operation(
    name=NAME,
    summary="Repaint the masked area from a prompt (Stable Diffusion inpainting)",
    description=(
        "`prompt`, `steps` 30, `cfg_scale` 7.0, `strength` 0.85, `seed` (reported with the "
        "result: the same seed reproduces it). The mask, or `points`/`box` for the Segmenter. "
        "`model=flux2-klein-4b` runs the generator's masked edit instead (its own steps), "
        "which also takes a `reference_image`."
    ),
    params=InpaintParams,
    plan=plan,
    deployment="deployments.inpaint.inpainter:Inpainter",
    backend=backend,
    models=(NAME,),
    fetch="sd-inpainting",
    takes_mask=True,
    takes_reference=True,
)
