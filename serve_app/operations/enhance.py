"""POST /v1/enhance: white balance, exposure, contrast and saturation measured from the photo
(scaled by `strength`), `color` warmer or cooler; `denoise` adds the compact Real-ESRGAN at
scale 1. Runs in the Upscaler deployment: no weights of its own."""

from serve_app.operations import upscale
from serve_app.operations._editing import edit_plan
from serve_app.operations._operation import Given, Operation, Plan
from serve_app.operations._params import Output, boolean, number

NAME = "enhance"
# a restoration at the input's size, colours untouched: the compact Real-ESRGAN at x4 and
# back by area (PicWish's and Perfect's scale 1; measured in README "PicWish")
RESTORE = {"denoise": True, "wb": False, "strength": 0}


class EnhanceParams(Output):
    wb: boolean("white balance where a colour cast is measured") = True
    color: number(-10, 10, "-10 cool .. +10 warm") = 0.0
    strength: number(0, 1, "how much of each measured correction") = 1.0
    denoise: boolean("Real-ESRGAN at scale 1: noise and JPEG blocks out") = False


def plan(params: EnhanceParams, given: Given) -> Plan:
    model = upscale.model_name(given.catalog, upscale.DEFAULT_MODEL) if params.denoise else ""
    if model:  # x4, then back to the input's size
        upscale.check_memory(given, model, given.image.size, given.image.size)
    looks = params.model_dump(include={"wb", "color", "strength", "denoise"})
    return edit_plan(params, given, {"model": model, **looks})


OPERATION = Operation(
    name=NAME,
    summary="Enhance colours and tone (and optionally denoise)",
    description=(
        "Fix white balance, exposure, contrast and saturation (measured from the photo, "
        "scaled by `strength`); `color` -10 cool .. +10 warm; `denoise` adds Real-ESRGAN at "
        "scale 1."
    ),
    params=EnhanceParams,
    plan=plan,
    deployment="deployments.upscale.upscaler:Upscaler",
    method="enhance",
)
