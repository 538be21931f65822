"""The packages are layers, and imports only go down:

    process (run, cli) -> app -> ingress (the assembly) -> vendors -> api -> operations
    -> billing, webhooks -> engine -> core;   deployments -> serve_app.core

A module may import its own package freely; a package never imports a layer above it, nor a
sibling on its own level. Only the assembly imports a vendor package, only process/ imports
the model code (weights), and no two modules share a base name.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEVELS = [
    {"process"},
    {"app"},
    {"ingress"},
    {"vendors"},
    {"api"},
    {"operations"},
    {"billing", "webhooks"},
    {"engine"},
    {"core"},
]


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def dotted(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(path: Path) -> set[str]:
    """Every module this one imports at run time (at any depth; not under TYPE_CHECKING)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
            found.add(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def part(module: str) -> str | None:
    """The serve_app package (layer) a dotted name belongs to, or None outside serve_app."""
    parts = module.split(".")
    return parts[1] if parts[0] == "serve_app" and len(parts) > 1 else None


def level(package: str) -> int:
    return next(i for i, names in enumerate(LEVELS) if package in names)


def back_edges() -> list[str]:
    edges = []
    for path in modules("serve_app"):
        source = part(dotted(path))
        if source is None or source == "__init__":
            continue
        for target in {part(m) for m in imports(path)} - {None, source, "__init__"}:
            if level(target) <= level(source):
                edges.append(f"{dotted(path)} -> serve_app.{target}")
    return edges


def test_serve_app_imports_only_go_down():
    assert back_edges() == []


def test_only_the_assembly_imports_a_vendor():
    importers = [
        dotted(path)
        for path in modules("serve_app")
        if part(dotted(path)) != "vendors" and any(part(m) == "vendors" for m in imports(path))
    ]
    assert importers == ["serve_app.ingress"]


def test_deployments_use_only_the_core_of_serve_app():
    for path in modules("deployments"):
        used = {part(m) for m in imports(path)} - {None}
        assert used <= {"core"}, f"{dotted(path)} imports serve_app.{used - {'core'}}"


def test_only_process_imports_model_code():
    for path in modules("serve_app"):
        if part(dotted(path)) != "process":
            assert not any(m.startswith("deployments") for m in imports(path)), dotted(path)


def base_names(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths if p.stem != "__init__"]


def test_no_two_modules_share_a_base_name():
    # vendor packages are parallel plug-ins: each may have its routes and mapping modules
    engine = [p for p in modules("serve_app") + modules("deployments") if "vendors" not in p.parts]
    repeated = [name for name, n in Counter(base_names(engine)).items() if n > 1]
    assert repeated == []
    vendor = set(base_names(modules("serve_app/vendors")))
    assert vendor.isdisjoint(base_names(engine))


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("core", "engine"),
        ("engine", "operations"),
        ("api", "vendors"),
        ("billing", "webhooks"),
        ("app", "process"),
    ],
)
def test_a_back_edge_would_be_caught(source, target):
    assert level(target) <= level(source)
