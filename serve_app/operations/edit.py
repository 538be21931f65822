"""POST /v1/edit: a photo changed as the prompt says, or two photos composed ("place product
1 on product 2"): the photo (`image`, `image_base64`, `image_url` or `from_job`) and an
optional `reference_image` the same ways. The output takes the first photo's ratio at the
model's ~1 MP unless `aspect_ratio` says otherwise; `resolution`, `seed`, `steps`,
`guidance`, `model` as for generate."""

from serve_app.operations._generating import (
    GenerationParams,
    check_photo,
    custom_model,
    generation_plan,
    upscaled,
)
from serve_app.operations._operation import Given, Operation, Plan, Price

NAME = "edit"


class EditParams(GenerationParams):
    pass


def plan(params: EditParams, given: Given) -> Plan:
    check_photo(given.image, "image")
    if given.reference is not None:
        check_photo(given.reference, "reference_image")
    return generation_plan(params, given, ratio=given.image.size)


OPERATION = Operation(
    name=NAME,
    summary="Edit a photo, or compose two, from a prompt (FLUX.2 [klein])",
    description=(
        "`prompt` (required) and the photo; `reference_image` (upload, `_base64` or `_url`) "
        "adds a second one. Both sides of each photo at least 64 px. The result keeps the "
        "first photo's ratio at ~1 MP (or `aspect_ratio`), 2K/4K upscaled by Real-ESRGAN."
    ),
    params=EditParams,
    plan=plan,
    deployment="deployments.generate.generator:Generator",
    backend=upscaled,
    price=Price.BY_MODEL,
    models=("generate",),
    fetch="flux2-klein-4b",
    takes_reference=True,
    resolve=custom_model,
)
