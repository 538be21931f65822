"""The SDK cannot drift from the server: photoserve/operations.py is what the operation
registry generates (one method per operation, each parameter of its schema), and the client
is its own distribution that loads none of the server's packages."""

from __future__ import annotations

import inspect
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from photoserve import operations as methods
from serve_app import operations
from serve_app.process import sdk_methods

ROOT = Path(__file__).resolve().parents[2]
SERVER_PACKAGES = {"serve_app", "deployments", "fastapi", "ray", "redis", "torch", "pydantic"}
COMMON = {"wait", "idempotency_key"}


def test_the_generated_methods_are_up_to_date():
    written = sdk_methods.TARGET.read_text()
    assert written == sdk_methods.source(), "run: python -m serve_app.process.sdk_methods"


def expected_arguments(op) -> set[str]:
    photos = {"image", "from_job"} if op.takes_image else set()
    photos |= {"mask"} if op.takes_mask else set()
    photos |= {"reference_image"} if op.takes_reference else set()
    return photos | set(op.params.model_json_schema()["properties"]) | COMMON


@pytest.mark.parametrize("kind", [methods.Operations, methods.AsyncOperations])
def test_every_operation_and_parameter_has_its_method(kind):
    for op in operations.all_operations():
        method = getattr(kind, op.name.replace("-", "_"), None)
        assert method is not None, f"no SDK method for {op.name}"
        arguments = set(inspect.signature(method).parameters) - {"self"}
        assert arguments == expected_arguments(op), op.name
        assert inspect.iscoroutinefunction(method) == (kind is methods.AsyncOperations)


def test_a_parameter_added_to_an_operation_would_be_caught(monkeypatch):
    op = operations.get("upscale")
    schema = op.params.model_json_schema()
    schema["properties"]["sharpness"] = {"type": "number"}
    monkeypatch.setattr(op.params, "model_json_schema", classmethod(lambda cls: schema))
    assert sdk_methods.source() != sdk_methods.TARGET.read_text()


def test_the_client_loads_no_server_package():
    probe = (
        "import sys, photoserve, photoserve.cli, photoserve.batch\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(done.stdout.split())
    assert {"photoserve", "httpx", "rich"} <= loaded
    assert loaded & SERVER_PACKAGES == set()


def test_the_client_is_its_own_distribution(tmp_path):
    build = ["wheel", "-q", "--no-deps", "--no-build-isolation", str(ROOT / "photoserve")]
    done = subprocess.run(
        [sys.executable, "-m", "pip", *build, "-w", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("photoserve_client-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        meta = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert {"photoserve/client.py", "photoserve/operations.py", "photoserve/cli.py"} <= names
    assert not any(n.startswith(("serve_app/", "deployments/")) for n in names)
    requires = {
        line.split(":", 1)[1].split(";")[0].strip()
        for line in meta.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    assert {r.split(">")[0] for r in requires} == {"httpx", "rich"}
