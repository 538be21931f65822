"""POST /v1/remove-background: U²-Net's matte refined at full resolution (guided filter,
foreground colours decontaminated), as transparency, over a flat colour, or the matte."""

import re
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, model_validator

from serve_app.core.errors import InvalidParameter
from serve_app.engine.backends import ResultKind
from serve_app.operations._editing import edit_plan
from serve_app.operations._operation import Given, Operation, Plan
from serve_app.operations._params import Output, boolean

NAME = "remove-background"
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_color(value: Any) -> str | None:
    if value == "transparent":
        return None
    match = _HEX.match(str(value).strip())
    if not match:
        raise InvalidParameter(f"bg_color must be a hex colour like #ffffff; got {value!r}.")
    return "#" + match.group(1).lower()


class RemoveBackgroundParams(Output):
    bg_color: Annotated[
        str | None,
        BeforeValidator(parse_color),
        Field(description="#rrggbb; default transparent"),
    ] = None
    only_mask: boolean("answer the matte itself") = False

    @model_validator(mode="after")
    def _transparency_fits(self) -> Self:
        if self.output_format == "jpg" and self.bg_color is None and not self.only_mask:
            raise InvalidParameter("jpg has no transparency: use png or webp, or give bg_color.")
        return self


def plan(params: RemoveBackgroundParams, given: Given) -> Plan:
    model = OPERATION.model(given.catalog)
    fields = {"model": model, "bg_color": params.bg_color, "only_mask": params.only_mask}
    return edit_plan(params, given, fields)


OPERATION = Operation(
    name=NAME,
    summary="Remove the background (U²-Net, refined at full resolution)",
    description=(
        "RGBA png/webp; `bg_color` fills the background instead; `only_mask` returns the "
        "matte. PixelForge's `format` works as `output_format`."
    ),
    params=RemoveBackgroundParams,
    plan=plan,
    deployment="deployments.background.background_remover:BackgroundRemover",
    result=ResultKind.RGBA,
    models=(NAME,),
    fetch="u2net",
)
