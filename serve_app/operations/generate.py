"""POST /v1/generate: an image from a prompt (FLUX.2 [klein] by default): `aspect_ratio`,
`resolution` 1K / 2K / 4K, `seed` (reported, reproducible), `steps`, `guidance`, `model`.
No input photo; priced by the model (configs/plans.yaml)."""

from serve_app.operations._generating import (
    GenerationParams,
    custom_model,
    generation_plan,
    upscaled,
)
from serve_app.operations._operation import Given, Operation, Plan, Price

NAME = "generate"


class GenerateParams(GenerationParams):
    pass


def plan(params: GenerateParams, given: Given) -> Plan:
    return generation_plan(params, given, ratio=(1, 1))


OPERATION = Operation(
    name=NAME,
    summary="Make an image from a prompt (FLUX.2 [klein])",
    description=(
        "JSON or form fields, no photo: `prompt` (required), `aspect_ratio` SQUARE (default), "
        "LANDSCAPE (16:9), PORTRAIT (9:16) or W:H such as 4:3; `resolution` 1K (the model's "
        "~1 MP), 2K or 4K (the longest edge, upscaled by Real-ESRGAN); `seed`, `steps`, "
        "`guidance`, `model`. The seed is reported with the result."
    ),
    params=GenerateParams,
    plan=plan,
    deployment="deployments.generate.generator:Generator",
    backend=upscaled,
    price=Price.BY_MODEL,
    models=("generate",),
    fetch="flux2-klein-4b",
    takes_image=False,
    resolve=custom_model,
)
