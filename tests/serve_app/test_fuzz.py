"""Property-based fuzzing of every surface: Schemathesis generates requests from
/openapi.json (every native and vendor route) against the real app on a socket with a real
Redis, with a valid key, the admin token, a Perfect Corp access token, a wrong key and no
key. Checks: no 5xx but the documented 503s, every 4xx in its surface's envelope, responses
that match their documented schemas. CI runs a bounded pass (25 examples per operation,
Schemathesis' example and fuzzing phases); `make fuzz` a long one (every phase)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from serve_app.billing import accounts
from serve_app.core.settings import CONFIGS
from tests.helpers.perfect_client import Perfect
from tests.helpers.runtime import ADMIN_TOKEN, make_settings

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("PHOTOSERVE_FUZZ_EXAMPLES", "25"))
LONG = EXAMPLES > 25  # make fuzz: every phase
TIMEOUT_S = 3 * 3600 if LONG else 900  # per credential mode
CHECKS = "documented_server_errors,error_envelope,response_schema_conformance"
REPORTS = Path(os.environ.get("PHOTOSERVE_TEST_ARTIFACTS", "build/test-artifacts")) / "fuzz"


def unthrottled_plans(folder: Path) -> Path:
    """plans.yaml with limits out of the way, so the generated requests reach the routes."""
    plans = yaml.safe_load((CONFIGS / "plans.yaml").read_text())
    plans["plans"]["enterprise"]["rate_limits"] = dict.fromkeys(
        plans["plans"]["enterprise"]["rate_limits"], 10**6
    )
    plans["plans"]["enterprise"]["max_in_flight"] = 10**6
    plans["anonymous"]["rate_limits"] = {"auth": 10**6, "public": 10**6}
    path = folder / "plans.yaml"
    path.write_text(yaml.safe_dump(plans))
    return path


@pytest.fixture
def settings(redis_server, tmp_path, weights_dir):
    plans = unthrottled_plans(tmp_path)
    # no dispatcher runs here: a generated `?wait=60` would hold its request for a minute
    return make_settings(redis_server, tmp_path, weights_dir, plans_file=plans, max_wait_s=0.5)


def fuzz(url: str, name: str, headers: list[str], rotation_allowed: bool) -> tuple[int, str]:
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json"]
    command += ["-n", str(EXAMPLES), "--checks", CHECKS, "--seed", "1", "--max-failures", "20"]
    command += ["--generation-with-security-parameters", "false"]  # the -H header is the key
    if not LONG:  # the bounded pass; the coverage and stateful phases run in make fuzz
        command += ["--phases", "examples,fuzzing"]
    if rotation_allowed is False:  # a rotation would end the key mid-run (the other runs try it)
        command += ["--exclude-path-regex", "rotate"]
    command += ["--report", "ndjson", "--report-dir", str(REPORTS / name)]
    for header in headers:
        command += ["-H", header]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.helpers.fuzz_checks"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
    return done.returncode, done.stdout + done.stderr


async def perfect_token(rt, url: str, key: str) -> str:
    """An access token from Perfect Corp's client/auth, as its clients get one."""
    async with httpx.AsyncClient(base_url=url) as http:
        caller = Perfect(http, rt)
        await caller.login(key)
    return caller.bearer["Authorization"].split()[1]


async def credentials(rt, url: str, who: str) -> list[str]:
    _, key = await accounts.create(rt, 10**6, "enterprise")
    if who == "valid key":
        return [f"x-api-key: {key}"]
    if who == "admin token":
        return [f"Authorization: Bearer {ADMIN_TOKEN}"]
    if who == "Perfect token":
        return [f"Authorization: Bearer {await perfect_token(rt, url, key)}"]
    return ["x-api-key: ps_" + "x" * 32] if who == "wrong key" else []


@pytest.mark.timeout(TIMEOUT_S + 60)
@pytest.mark.parametrize(
    "who", ["valid key", "admin token", "Perfect token", "wrong key", "no key"]
)
async def test_every_surface_under_generated_requests(rt, http_server, who):
    headers = await credentials(rt, http_server, who)
    code, output = fuzz(
        http_server, who.replace(" ", "-"), headers, who == "wrong key" or who == "no key"
    )
    tested = re.search(r"(\d+) generated, (\d+) passed", output)
    print(f"fuzz ({who}): {tested.group(0) if tested else output[-300:]}")
    print(output[output.find("Warnings:") :][:800])
    assert code == 0, output[-6000:]
    assert tested and tested.group(1) == tested.group(2) and int(tested.group(1)) > 100
