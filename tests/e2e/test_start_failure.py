"""A service that cannot start says why in one line and stops everything it started, rather
than waiting for a readiness that never comes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from loadtest.service import ROOT
from serve_app.core.settings import CONFIGS
from serve_app.process import instance
from serve_app.process.embedded_redis import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def profile_with_a_bad_upscaler(folder) -> str:
    """The laptop profile with a setting the Upscaler refuses at every start (a negative
    tile): Serve retries its replica, then gives the deployment up."""
    config = yaml.safe_load((CONFIGS / "serve.cpu.yaml").read_text())
    (application,) = config["applications"]
    upscaler = next(d for d in application["deployments"] if d["name"] == "Upscaler")
    upscaler["user_config"]["model_tiles"]["realesrgan-x4plus"] = -64
    path = folder / "profile.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_a_deployment_that_cannot_start_is_named_and_everything_stops(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSERVE_")}
    env.update(PHOTOSERVE_DATA_DIR=str(tmp_path), PHOTOSERVE_PORT=str(free_port()))
    profile = profile_with_a_bad_upscaler(tmp_path)
    command = [sys.executable, "-m", "serve_app.process.cli", "run", "--config", profile]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    said = "photoserve: not started: Upscaler failed to start (ValueError: model_tiles must be"
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert said in done.stderr and "photoserve: stopped" in done.stdout
    assert instance.leftovers(tmp_path) == []
