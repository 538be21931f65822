"""Secrets fail closed: every process of the service (Runtime.create: the Serve deployments
and plain uvicorn) refuses a missing, well-known or short key secret, URL secret or admin
token, naming the variable; `photoserve check-config` says the same and exits 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from serve_app.core.runtime import Runtime
from serve_app.core.settings import InsecureSettings, Settings, secret_problems

GOOD = {"key_secret": "k" * 32, "url_secret": "u" * 32, "admin_token": "a" * 24}


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("key_secret", "", "PHOTOSERVE_KEY_SECRET is not set"),
        ("url_secret", "change-me-too", "PHOTOSERVE_URL_SECRET is a well-known default value"),
        ("admin_token", "a" * 23, "PHOTOSERVE_ADMIN_TOKEN is 23 characters; at least 24"),
        ("admin_token", None, "PHOTOSERVE_ADMIN_TOKEN is not set"),
    ],
)
def test_each_weak_secret_is_named(field, value, said):
    settings = Settings(**{**GOOD, field: value})
    assert secret_problems(settings) == [said]
    with pytest.raises(InsecureSettings, match=said):
        Runtime.create(settings)


def test_good_secrets_pass():
    assert secret_problems(Settings(**GOOD)) == []


def check_config(tmp_path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSERVE_")}
    clean.update(PHOTOSERVE_DATA_DIR=str(tmp_path), **env)
    command = [sys.executable, "-m", "serve_app.process.cli", "check-config"]
    return subprocess.run(command, env=clean, capture_output=True, text=True, timeout=60)


def test_check_config_refuses_what_the_service_would(tmp_path):
    refused = check_config(tmp_path, PHOTOSERVE_KEY_SECRET="secret")
    assert refused.returncode == 1
    assert "PHOTOSERVE_KEY_SECRET is a well-known default value" in refused.stderr
    assert "PHOTOSERVE_URL_SECRET is not set" in refused.stderr
    generated = {"key_secret": "k" * 43, "url_secret": "u" * 43, "admin_token": "adm_" + "a" * 32}
    (tmp_path / "secrets.json").write_text(json.dumps(generated))  # what `photoserve run` made
    accepted = check_config(tmp_path)
    assert accepted.returncode == 0 and "configuration ok" in accepted.stdout
    overridden = check_config(tmp_path, PHOTOSERVE_ADMIN_TOKEN="short")
    assert (
        overridden.returncode == 1 and "PHOTOSERVE_ADMIN_TOKEN is 5 characters" in overridden.stderr
    )


def test_check_config_reads_the_files_the_replicas_read(tmp_path):
    generated = {"key_secret": "k" * 43, "url_secret": "u" * 43, "admin_token": "adm_" + "a" * 32}
    (tmp_path / "secrets.json").write_text(json.dumps(generated))
    plans = tmp_path / "plans.yaml"
    plans.write_text("plans:\n  free: {max_in_flight: few}\n")
    refused = check_config(tmp_path, PHOTOSERVE_PLANS_FILE=str(plans))
    assert refused.returncode == 1
    assert "plan free: max_in_flight must be a whole number; got 'few'" in refused.stderr
    assert "models, plans and styles read" in check_config(tmp_path).stdout
