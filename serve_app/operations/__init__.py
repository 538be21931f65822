"""The operations this server runs: the registry, and the only list of them.

Each public module of this package is one operation and declares `OPERATION` (see
_operation.py); modules named `_…` are shared helpers. `PHOTOSERVE_EXTRA_OPERATIONS` names
further modules (import paths) that declare one each: an operation kept outside this
repository, loaded the same way in every process of the service.
"""

from __future__ import annotations

import importlib
import pkgutil

from serve_app.core.settings import get_settings
from serve_app.engine.backends import ResultKind
from serve_app.operations._operation import Given, Operation, Plan, Price
from serve_app.operations._params import Output, Params, boolean, integer, number, validated

__all__ = [
    "Given",
    "Operation",
    "Output",
    "Params",
    "Plan",
    "Price",
    "ResultKind",
    "all_operations",
    "boolean",
    "find",
    "get",
    "integer",
    "names",
    "number",
    "register",
    "validated",
]

_registry: dict[str, Operation] = {}
_loaded = False


def _modules() -> list[str]:
    builtin = [
        f"{__name__}.{info.name}"
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]
    return builtin + list(get_settings().extra_operations)


def _load() -> dict[str, Operation]:
    global _loaded
    if not _loaded:
        _loaded = True
        for path in _modules():
            register(importlib.import_module(path).OPERATION)
    return _registry


def register(operation: Operation) -> Operation:
    """Add an operation (the modules above are registered on first use)."""
    known = _registry.get(operation.name)
    if known is not None and known is not operation:
        raise ValueError(f"two operations are named {operation.name!r}")
    _registry[operation.name] = operation
    return operation


def all_operations() -> list[Operation]:
    return list(_load().values())


def names() -> list[str]:
    return list(_load())


def get(name: str) -> Operation:
    return _load()[name]


def find(name: str) -> Operation | None:
    """The operation, or None for a name no longer registered (an old job's)."""
    return _load().get(name)
