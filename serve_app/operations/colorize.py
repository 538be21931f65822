"""POST /v1/colorize: a black-and-white photo coloured by DDColor at 512 px, the colour joined
with the photo's own full-resolution lightness (the output keeps its size and detail; a
colour photo is taken by its lightness alone)."""

from serve_app.operations._editing import edit_plan
from serve_app.operations._operation import Given, Operation, Plan
from serve_app.operations._params import Output

NAME = "colorize"


class ColorizeParams(Output):
    pass


def plan(params: ColorizeParams, given: Given) -> Plan:
    return edit_plan(params, given, {"model": OPERATION.model(given.catalog)})


OPERATION = Operation(
    name=NAME,
    summary="Colour a black-and-white photo (DDColor)",
    description=(
        "The result keeps the input's size and lightness; a colour input is coloured from "
        "its lightness alone. 503 `model_unavailable` until the DDColor weights are fetched."
    ),
    params=ColorizeParams,
    plan=plan,
    deployment="deployments.colorize.colorizer:Colorizer",
    models=(NAME,),
    fetch="ddcolor-modelscope",
)
