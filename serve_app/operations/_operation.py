"""What an operation module declares: `OPERATION = Operation(...)`, everything the service
needs to know about it in one value.

Routes (`POST /v1/{name}` and every vendor surface that mounts them), the docs, the price
check, /v1/models and readiness, the dispatcher's lanes and slots, and the config tests are
all derived from these values (serve_app/operations/__init__.py collects them).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

from serve_app.core.catalog import Catalog
from serve_app.core.errors import ModelUnavailable
from serve_app.core.plans import Plans
from serve_app.core.settings import Settings
from serve_app.engine.backends import Backend, Call, ResultKind
from serve_app.engine.images import ImageInfo
from serve_app.operations._params import Params


class Price(StrEnum):
    """How configs/plans.yaml prices an operation (`costs.<name>`)."""

    FLAT = "flat"  # one number
    BY_OUTPUT = "by_output"  # {scale: {2: .., 4: ..}, size: {HD: .., ...}}: the output's tier
    BY_MODEL = "by_model"  # {model: {name: ..}}: the model that runs it


Tier = tuple[str, str | int]  # ("size", "2K"), ("scale", 4) or ("model", "flux2-klein-4b")


@dataclass(frozen=True)
class Given:
    """What a planner sees besides the parameters: the input (header only), the uploaded mask,
    the model catalog, the settings, the price list of its operation, and the second photo's
    header (`reference_image`)."""

    image: ImageInfo
    mask: bytes | None
    catalog: Catalog
    settings: Settings
    price: Callable[[Tier | None], int]
    reference: ImageInfo | None = None


@dataclass(frozen=True)
class Plan:
    """A checked, priced job: `params` is what its deployment receives."""

    params: dict[str, Any]
    cost: int
    size_label: str = "original"  # the size the usage statistics count it under
    mask: bytes | None = None  # the checked binary mask PNG, stored with the job


Planner = Callable[[Any, Given], Plan]
# what a planner needs from Redis, looked up first: (runtime, account id, the request's
# parameters) -> (the parameters to plan, fields the job gets that no client may set)
Resolver = Callable[[Any, str, dict[str, Any]], Awaitable[tuple[dict, dict]]]
# (the operation's own handle, its streaming method, every deployment's handle by name)
BackendFactory = Callable[[Any, str, Mapping[str, Any]], Backend]


def call(handle: Any, method: str, handles: Mapping[str, Any]) -> Backend:
    return Call(handle, method)


def upscale_edge(settings: Settings) -> int:
    return settings.max_upscale_edge


def edit_edge(settings: Settings) -> int:
    return settings.max_edit_edge


@dataclass(frozen=True)
class Operation:
    name: str  # the route: POST /v1/{name}
    summary: str
    description: str  # the route's docs
    params: type[Params]
    plan: Planner
    deployment: str  # "package.module:Class" of the Serve deployment that runs it
    method: str = "run"  # its streaming method: (image, params) -> progress, then the result
    backend: BackendFactory = call
    price: Price = Price.FLAT
    result: ResultKind = ResultKind.IMAGE
    models: tuple[str, ...] = ()  # configs/models.yaml `operation:` groups whose weights it uses
    fetch: str = ""  # what `photoserve weights fetch` needs for them, said in its 503
    default_wait_s: float = 0.0  # sync by default for this long (`?wait` overrides)
    max_edge: Callable[[Settings], int] = edit_edge  # the input's longest edge
    takes_mask: bool = False  # documented `mask` / `mask_base64` / `mask_url` inputs
    takes_image: bool = True  # False: no input photo (text-to-image); one is refused
    takes_reference: bool = False  # a second photo: `reference_image` (+ _base64, _url)
    resolve: Resolver | None = None
    deadline_s: float = 900.0  # PHOTOSERVE_DEADLINES overrides

    @cached_property
    def deployment_name(self) -> str:
        """The Serve deployment's name (imports its module: the app assembly only)."""
        return deployment_class(self.deployment).name

    def check(
        self,
        raw: dict[str, Any],
        image: ImageInfo,
        mask: bytes | None,
        catalog: Catalog,
        plans: Plans,
        settings: Settings,
        reference: ImageInfo | None = None,
    ) -> Plan:
        """All this operation decides about a request before any credit moves: its
        parameters, its models, the output, the mask, the price."""
        params = self.params.read(raw)
        given = Given(
            image, mask, catalog, settings, lambda tier: self.cost(plans, tier), reference
        )
        return self.plan(params, given)

    def cost(self, plans: Plans, tier: Tier | None) -> int:
        if self.price is Price.FLAT:
            return plans.cost(self.name, "flat", "")
        if tier is None:
            raise ValueError(f"{self.name} is priced by {self.price}: a plan must give the tier")
        return plans.cost(self.name, *tier)

    def model(self, catalog: Catalog) -> str:
        """The first of its models with weights on disk, or 503 before any credit moves."""
        for group in self.models:
            for spec in catalog.for_operation(group):
                if catalog.available(spec):
                    return spec.name
        raise ModelUnavailable(
            f"{self.name} has no weights on this server: {catalog.how_to_get(self.fetch)}"
        )


def deployment_class(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
