"""The load test's short form (CI): locust's vendor flows against the session's service for
~40 s, then loadtest/report.py. Asserts the invariants only, never speeds: every accepted job
ends done or failed, none is lost, every ledger audit is clean, no credit stays held, no 500."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest import report
from loadtest.service import ROOT
from tests.helpers.service import E2E_ADMIN_TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

USERS, RUN_TIME = 8, "40s"
# small balances and the free plan, so refusals (402, 429) happen within 40 s as well
ACCOUNTS = "free:20,enterprise:8,enterprise:100,api-monthly:60"


def run_locust(url: str, jobs: Path, csv_prefix: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSERVE_")}
    env |= {
        "PHOTOSERVE_ADMIN_TOKEN": E2E_ADMIN_TOKEN,
        "PHOTOSERVE_LOADTEST_JOBS": str(jobs),
        "PHOTOSERVE_LOADTEST_ACCOUNTS": ACCOUNTS,
    }
    command = [
        str(Path(sys.executable).parent / "locust"),
        *("-f", "loadtest/locustfile.py", "--host", url, "--headless", "--only-summary"),
        *("-u", str(USERS), "-r", "4", "-t", RUN_TIME, "--csv", str(csv_prefix)),
    ]
    # locust's own exit code says only whether any request or job failed: not asserted
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_under_load_every_job_finishes_and_the_ledgers_balance(service, tmp_path):
    jobs, prefix = tmp_path / "jobs.jsonl", tmp_path / "locust"
    locust = run_locust(service["url"], jobs, prefix)
    assert jobs.exists(), locust.stdout[-3000:] + locust.stderr[-3000:]
    summary, markdown = report.produce(
        service["url"], str(prefix), jobs, E2E_ADMIN_TOKEN, wait_s=60
    )
    print("\n" + markdown)
    assert summary.accepted > 0 and summary.done > 0, markdown
    assert summary.lost == 0, markdown
    assert summary.accepted == summary.done + summary.failed
    assert summary.audit_problems == [], markdown
    assert summary.still_held == {}, markdown
    assert summary.server_errors == {}, markdown
