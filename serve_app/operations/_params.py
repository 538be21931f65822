"""Request parameters as pydantic models: one class per operation, which is both how its
submit is validated and its OpenAPI schema.

Fields arrive as form text, JSON values or query parameters, so every field is read by one of
core/parsing.py's readers before pydantic checks its type: the caller gets the catalog's
`invalid_parameter` (or `invalid_size`, ...) naming the field and its range, never a
pydantic trace. An empty value means the default; unknown fields are ignored (clients send
their image fields alongside).
"""

from typing import Annotated, Any, Literal, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from serve_app.core import parsing
from serve_app.core.errors import InvalidParameter, PromptTooLong
from serve_app.engine.images import OUTPUT_FORMATS


class Params(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _given(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            raise InvalidParameter("The parameters must be an object.")
        given = {name: value for name, value in raw.items() if value not in (None, "")}
        cls.check_given(given)
        return given

    @classmethod
    def check_given(cls, given: dict[str, Any]) -> None:
        """Rules between fields that hold before any field is read (override)."""

    @classmethod
    def read(cls, raw: dict[str, Any]) -> Self:
        return validated(cls, raw)


def validated(model: type[BaseModel], raw: Any) -> Any:
    """`model` read from `raw`, or the catalog's invalid_parameter naming the first field
    that is wrong (never pydantic's own error)."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidParameter(f"{where}: {first['msg']}") from None


def _reader(read, *args):
    def validate(value: Any, info: ValidationInfo) -> Any:
        return read(value, info.field_name, *args)

    return BeforeValidator(validate)


def integer(low: int, high: int, description: str = "") -> Any:
    bounds = Field(ge=low, le=high, description=description)
    return Annotated[int, bounds, _reader(parsing.integer, low, high, None)]


def number(low: float, high: float, description: str = "") -> Any:
    bounds = Field(ge=low, le=high, description=description)
    return Annotated[float, bounds, _reader(parsing.number, low, high, 0)]


def boolean(description: str = "") -> Any:
    return Annotated[bool, Field(description=description), _reader(parsing.boolean)]


def parse_format(value: Any, default: str = "png") -> str:
    text = str(value or default).strip().lower()
    text = "jpg" if text == "jpeg" else text
    if text not in OUTPUT_FORMATS:
        raise InvalidParameter(f"output_format must be one of png, jpg, webp; got {value!r}.")
    return text


OutputFormat = Annotated[Literal["png", "jpg", "webp"], BeforeValidator(parse_format)]
Quality = integer(1, 100, "jpg/webp quality")


# CLIP reads 77 tokens (~300-400 characters of English); longer prompts would be cut silently
MAX_PROMPT_CHARS = 400


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


class Output(Params):
    """Where the result goes: its format (PixelForge calls it `format`) and quality."""

    output_format: OutputFormat = Field(
        "png",
        validation_alias=AliasChoices("output_format", "format"),
        description="png, jpg or webp (PixelForge's name for it, `format`, works too)",
    )
    quality: Quality | None = None

    def output(self) -> dict[str, Any]:
        """What a job carries about its output file."""
        return {"output_format": self.output_format, "quality": self.quality}
