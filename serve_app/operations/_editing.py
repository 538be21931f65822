"""What the editing operations share: clicks (`points`, `box`) checked against the photo, a
mask file or clicks that the Segmenter turns into one, and the backend that does so.

Editing results keep the input's size (`out_width`/`out_height` in the job's params).
"""

from typing import Annotated, Any

import orjson
from pydantic import BeforeValidator, WithJsonSchema

from serve_app.core.errors import InvalidParameter, NoMask
from serve_app.engine import masks
from serve_app.engine.backends import Backend, MaskedCall
from serve_app.engine.images import ImageInfo
from serve_app.operations._operation import Given, Operation, Plan
from serve_app.operations._params import Output

MAX_POINTS = 20
EXAMPLES = {"points": "[[120, 80, 1], [30, 40, 0]]", "box": "[10, 20, 200, 180]"}
# the segment operation's deployment: erase and inpaint ask it for the mask of clicks
SEGMENTER = "Segmenter"


def _json(value: Any, name: str) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise InvalidParameter(f"{name} must be JSON, e.g. {EXAMPLES[name]}.") from exc
    return value


def _numbers(values: list) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _point(point: Any) -> list[int]:
    if not isinstance(point, list) or len(point) not in (2, 3):
        raise InvalidParameter(f"Each point is [x, y, label]; got {point!r}.")
    if not _numbers(point):
        raise InvalidParameter(f"Point values must be numbers; got {point!r}.")
    x, y, label = (*point, 1) if len(point) == 2 else point
    if label not in (0, 1):
        raise InvalidParameter(f"A point's label is 1 (object) or 0 (background); got {label!r}.")
    return [int(x), int(y), int(label)]


def parse_points(value: Any) -> list[list[int]]:
    """[[x, y, label], ...]: label 1 = on the object, 0 = not; [x, y] means label 1."""
    if value == []:
        return []
    points = _json(value, "points")
    if not isinstance(points, list) or not 1 <= len(points) <= MAX_POINTS:
        raise InvalidParameter(f"points must be a list of 1 to {MAX_POINTS} [x, y, label].")
    return [_point(p) for p in points]


def parse_box(value: Any) -> list[int] | None:
    if value == []:
        return None
    box = _json(value, "box")
    if not (isinstance(box, list) and len(box) == 4 and _numbers(box)):
        raise InvalidParameter(f"box must be [x0, y0, x1, y1]; got {value!r}.")
    return [int(v) for v in box]


Points = Annotated[
    list[list[int]],
    BeforeValidator(parse_points),
    WithJsonSchema({"type": "string", "description": f"JSON {EXAMPLES['points']}: x, y, label"}),
]
Box = Annotated[
    list[int],
    BeforeValidator(parse_box),
    WithJsonSchema({"type": "string", "description": f"JSON {EXAMPLES['box']}: x0, y0, x1, y1"}),
]


class Clicks(Output):
    points: Points | None = None
    box: Box | None = None

    def prompts(self, info: ImageInfo, required: bool) -> dict[str, Any]:
        """The clicks, checked against the photo: {} when there are none."""
        for x, y, _ in self.points or ():
            if not (0 <= x < info.width and 0 <= y < info.height):
                raise InvalidParameter(
                    f"Point {[x, y]!r} is outside the {info.width}x{info.height} image."
                )
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            if not (0 <= x0 < x1 <= info.width and 0 <= y0 < y1 <= info.height):
                raise InvalidParameter(
                    f"box must satisfy 0 <= x0 < x1 <= {info.width} and "
                    f"0 <= y0 < y1 <= {info.height}."
                )
        if required and not self.points and self.box is None:
            raise InvalidParameter(f"Give `points` ({EXAMPLES['points']}) and/or `box`.")
        clicked = self.points or self.box is not None
        return {"points": self.points or [], "box": self.box} if clicked else {}


def edit_plan(params: Output, given: Given, fields: dict[str, Any], mask=None) -> Plan:
    """A job whose result has the input's size: its own fields, its output file, the size."""
    size = {"out_width": given.image.width, "out_height": given.image.height}
    return Plan({**fields, **params.output(), **size}, given.price(None), mask=mask)


def mask_or_clicks(params: Clicks, given: Given, segmenter: Operation) -> tuple[dict, bytes | None]:
    """A mask file (checked, reduced to a binary PNG), or clicks that the Segmenter turns
    into one (with the segment model it will use)."""
    if given.mask is not None:
        return {}, masks.read_mask(given.mask, given.image)
    clicks = params.prompts(given.image, required=False)
    if not clicks:
        raise NoMask("Send a `mask` (white = the area to change), or `points`/`box` to find it.")
    return {**clicks, "segment_model": segmenter.model(given.catalog)}, None


def masked_plan(
    params: Clicks, given: Given, op: Operation, segmenter: Operation, settings: dict[str, Any]
) -> Plan:
    """A job that edits the area a mask (or clicks) selects: erase, inpaint."""
    model = op.model(given.catalog)
    clicks, mask = mask_or_clicks(params, given, segmenter)
    return edit_plan(params, given, {"model": model, **settings, **clicks}, mask)


def masked(handle: Any, method: str, handles: dict[str, Any]) -> Backend:
    return MaskedCall(handle, handles[SEGMENTER], method)
