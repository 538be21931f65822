"""After a locust run (loadtest/locustfile.py): wait until every accepted job has finished,
audit every account's ledger, and write a Markdown summary with the invariants.

    python -m loadtest.report --host URL --csv-prefix P --jobs FILE --out report.md \
        [--admin-token T] [--wait-s 120]

Invariants (exit code 1 when one fails): every accepted job ends done or failed (none still
running, none lost), no account's ledger audit finds a problem, no account still holds credits
once its jobs have finished, and no server error other than the designed 503
model_unavailable (or no answer at all) was seen.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from serve_app.process import local_state

ROOT = Path(__file__).resolve().parent.parent
FINISHED = ("done", "failed")
DESIGNED = {"out_of_credits", "rate_limit_exceeded", "model_unavailable"}


@dataclass
class Run:
    """What the locustfile wrote: accounts, accepted jobs, outcomes the users saw, codes."""

    started: float | None = None
    stopped: float | None = None
    accounts: dict[str, dict] = field(default_factory=dict)
    jobs: dict[str, dict] = field(default_factory=dict)
    outcomes: dict[str, dict] = field(default_factory=dict)
    codes: Counter = field(default_factory=Counter)
    polled_after: int = 0  # jobs the report had to poll itself
    audits: dict[str, dict] = field(default_factory=dict)  # account -> ledger audit


def load_run(path: Path) -> Run:
    run = Run()
    for line in path.read_text().splitlines():
        if line.strip():
            _apply(run, json.loads(line))
    return run


def _apply(run: Run, record: dict) -> None:
    kind = record["type"]
    if kind == "run":
        setattr(run, "started" if record["event"] == "start" else "stopped", record["t"])
    elif kind == "account":
        run.accounts[record["account_id"]] = record
    elif kind == "job":
        run.jobs[record["job_id"]] = record
    elif kind == "outcome":
        run.outcomes[record["job_id"]] = record
    elif kind == "codes":
        run.codes.update(record["counts"])


def epoch(iso: str | None) -> float:
    return datetime.fromisoformat(iso).timestamp() if iso else time.time()


def pending(run: Run) -> list[str]:
    return [job_id for job_id in run.jobs if job_id not in run.outcomes]


def poll_once(client: httpx.Client, run: Run, job_id: str) -> float:
    """Poll one job with its account's key; records a final outcome. Returns how long this
    account must wait before its next poll (Retry-After on 429), 0 otherwise."""
    key = run.accounts[run.jobs[job_id]["account_id"]]["api_key"]
    response = client.get(f"/v1/jobs/{job_id}", headers={"x-key": key})
    if response.status_code == 429:
        return float(response.headers.get("retry-after", 5))
    if response.status_code == 404:  # not expected within a run: the job is lost
        run.outcomes[job_id] = {"status": "lost", "error": "job_not_found"}
        return 0.0
    if response.status_code != 200:
        return 1.0
    body = response.json()
    if body["status"] in FINISHED:
        error = (body.get("error") or {}).get("code")
        completed = epoch(body.get("completed_at"))
        run.outcomes[job_id] = {"status": body["status"], "error": error, "completed_at": completed}
    return 0.0


def wait_for_outcomes(client: httpx.Client, run: Run, wait_s: float) -> None:
    """Rounds of polls over the unfinished jobs until none is left or wait_s passes. An account
    answered 429 is skipped until its window allows again (the free plan: 60 polls a minute)."""
    deadline = time.monotonic() + wait_s
    run.polled_after = len(pending(run))
    blocked: dict[str, float] = {}
    while pending(run) and time.monotonic() < deadline:
        for job_id in pending(run):
            account = run.jobs[job_id]["account_id"]
            if blocked.get(account, 0) > time.monotonic():
                continue
            pause = poll_once(client, run, job_id)
            if pause:
                blocked[account] = time.monotonic() + pause
        if pending(run):
            time.sleep(1)


def audit_accounts(client: httpx.Client, run: Run, token: str) -> dict[str, dict]:
    headers = {"Authorization": f"Bearer {token}"}
    audits = {}
    for account_id in run.accounts:
        response = client.get(f"/admin/accounts/{account_id}/audit", headers=headers)
        if response.status_code == 200:
            audits[account_id] = response.json()
        else:
            problem = f"audit answered HTTP {response.status_code}: {response.text[:200]}"
            audits[account_id] = {"ok": False, "held": None, "problems": [problem]}
    return audits


def settled_audits(client: httpx.Client, run: Run, token: str, wait_s: float) -> dict[str, dict]:
    """The audits once no account holds credits, or after wait_s: a submit the server
    accepted just as locust stopped its users never reached the run file, and that job may
    still be running; finishing, it captures or releases its hold. A hold that outlives the
    wait is a leak, and is reported."""
    deadline = time.monotonic() + wait_s
    while True:
        audits = audit_accounts(client, run, token)
        if time.monotonic() >= deadline or not any(a.get("held") for a in audits.values()):
            return audits
        time.sleep(1)


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@dataclass
class Summary:
    accepted: int
    done: int
    failed: int
    lost: int  # still queued/processing after the wait, or 404
    failed_codes: Counter
    audit_problems: list[str]
    still_held: dict[str, int]
    server_errors: dict[str, int]
    jobs_per_min: float
    duration_s: float

    @property
    def invariants_hold(self) -> bool:
        return not (self.lost or self.audit_problems or self.still_held or self.server_errors)


def server_errors(codes: Counter) -> dict[str, int]:
    """5xx answers and missing answers, except the designed 503 model_unavailable."""
    bad = {}
    for status_code, count in codes.items():
        status, _, code = status_code.partition(" ")
        if (status == "0" or status.startswith("5")) and code not in DESIGNED:
            bad[status_code] = count
    return bad


def summarize(run: Run) -> Summary:
    statuses = Counter(outcome["status"] for outcome in run.outcomes.values())
    failed_codes = Counter(
        o.get("error") or "-" for o in run.outcomes.values() if o["status"] == "failed"
    )
    audits = run.audits.items()
    problems = [f"{a}: {p}" for a, audit in audits for p in audit.get("problems", [])]
    held = {a: audit["held"] for a, audit in audits if audit.get("held")}
    finished = statuses["done"] + statuses["failed"]
    duration = (run.stopped or time.time()) - (run.started or time.time())
    return Summary(
        accepted=len(run.jobs),
        done=statuses["done"],
        failed=statuses["failed"],
        lost=len(run.jobs) - finished,
        failed_codes=failed_codes,
        audit_problems=problems,
        still_held=held,
        server_errors=server_errors(run.codes),
        jobs_per_min=jobs_per_minute(run, finished),
        duration_s=duration,
    )


def jobs_per_minute(run: Run, finished: int) -> float:
    """Finished jobs per minute, from the start of the run to the last job's completion."""
    ends = [o["completed_at"] for o in run.outcomes.values() if o.get("completed_at")]
    if not finished or not ends or run.started is None:
        return 0.0
    return finished / max(1e-9, (max(ends) - run.started) / 60)


def ms(value: str | None) -> str:
    return "-" if value in (None, "", "N/A") else f"{float(value):,.0f}"


def latency_table(rows: list[dict[str, str]], want) -> list[str]:
    lines = ["| request | count | p50 ms | p95 ms | max ms |", "| --- | --- | --- | --- | --- |"]
    for row in rows:
        if want(row):
            count = row["Request Count"]
            p50, p95, top = ms(row["50%"]), ms(row["95%"]), ms(row["Max Response Time"])
            lines.append(f"| {label(row)} | {count} | {p50} | {p95} | {top} |")
    return lines


def label(row: dict[str, str]) -> str:
    """The locustfile names HTTP rows with their method already; JOB rows with the flow."""
    return f"JOB {row['Name']}" if row["Type"] == "JOB" else row["Name"]


def is_submit(row: dict[str, str]) -> bool:
    """Accepted submits only: refusals have rows of their own ("[code]"), and a sync submit
    (?wait=) is a completion time: its JOB row lists it."""
    return row["Type"] == "POST" and "[" not in row["Name"] and "wait=" not in row["Name"]


def is_job(row: dict[str, str]) -> bool:
    return row["Type"] == "JOB"


def codes_table(codes: Counter) -> list[str]:
    lines = ["| HTTP | error | responses | |", "| --- | --- | --- | --- |"]
    for status_code, count in sorted(codes.items(), key=lambda item: -item[1]):
        status, _, code = status_code.partition(" ")
        kind = "designed refusal" if code in DESIGNED else "**unexpected**"
        lines.append(f"| {status} | `{code}` | {count} | {kind} |")
    return lines if codes else ["none"]


def failures_table(rows: list[dict[str, str]]) -> list[str]:
    lines = ["| request | error | occurrences |", "| --- | --- | --- |"]
    for row in rows:
        error = row["Error"].replace("|", "\\|")
        lines.append(f"| {row['Method']} {row['Name']} | {error} | {row['Occurrences']} |")
    return lines if rows else ["none"]


def invariant_lines(s: Summary) -> list[str]:
    def mark(ok: bool) -> str:
        return "ok" if ok else "**FAILED**"

    failed = ", ".join(f"{code} {n}" for code, n in s.failed_codes.most_common()) or "none"
    held = ", ".join(f"{a} {n}" for a, n in s.still_held.items()) or "none"
    errors = ", ".join(f"{k}: {n}" for k, n in s.server_errors.items()) or "none"
    problems = "; ".join(s.audit_problems) or "none"
    return [
        f"- accepted {s.accepted}, done {s.done}, failed {s.failed} (codes: {failed})",
        f"- still running / lost: {s.lost} — {mark(s.lost == 0)}",
        f"- ledger audit problems: {problems} — {mark(not s.audit_problems)}",
        f"- credits still held after all jobs finished: {held} — {mark(not s.still_held)}",
        f"- server errors (5xx but model_unavailable, or no answer): {errors} — "
        f"{mark(not s.server_errors)}",
        f"- **invariants: {'hold' if s.invariants_hold else 'FAILED'}**",
    ]


def accounts_table(run: Run) -> list[str]:
    jobs = Counter(job["account_id"] for job in run.jobs.values())
    lines = [
        "| account | plan | credits | jobs accepted | left | audit |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for account_id, account in run.accounts.items():
        audit = run.audits.get(account_id, {})
        state = "clean" if audit.get("ok") else "**problems**"
        row = f"| {account_id} | {account['plan']} | {account['credits']} | {jobs[account_id]}"
        lines.append(f"{row} | {audit.get('available', '-')} | {state} |")
    return lines


def render(run: Run, s: Summary, stats: list[dict], failures: list[dict], host: str) -> str:
    started = datetime.fromtimestamp(run.started or 0, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        "# photoserve load test",
        "",
        f"{host}, started {started}; locust ran {s.duration_s:.0f} s; "
        f"{len(run.accounts)} accounts. {run.polled_after} jobs were still unfinished when "
        "locust stopped and were polled by the report.",
        "",
        f"**Throughput**: {s.done + s.failed} jobs finished, {s.jobs_per_min:.1f} jobs/min "
        "(from the start to the last completion).",
        "",
        "## Invariants",
        "",
        *invariant_lines(s),
        "",
        "## Submit latency (accepted submits)",
        "",
        *latency_table(stats, is_submit),
        "",
        "## Completion latency (submit to done, seen by the client, polling included)",
        "",
        *latency_table(stats, is_job),
        "",
        "## Error codes answered",
        "",
        *codes_table(run.codes),
        "",
        "## Failures in locust (unexpected answers, failed jobs)",
        "",
        *failures_table(failures),
        "",
        "## Accounts",
        "",
        *accounts_table(run),
        "",
    ]
    return "\n".join(lines)


def admin_token(given: str | None) -> str | None:
    return given or local_state.admin_token((ROOT / ".photoserve").resolve())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--csv-prefix", required=True, help="locust's --csv prefix")
    parser.add_argument("--jobs", required=True, type=Path, help="the locustfile's run file")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--admin-token", help="default: $PHOTOSERVE_ADMIN_TOKEN or .photoserve")
    parser.add_argument("--wait-s", type=float, default=120, help="bound on waiting for jobs")
    return parser.parse_args(argv)


def produce(host: str, csv_prefix: str, jobs: Path, token: str, wait_s: float):
    """(summary, markdown) of a finished locust run; waits for its jobs first."""
    run = load_run(jobs)
    with httpx.Client(base_url=host.rstrip("/"), timeout=30) as client:
        wait_for_outcomes(client, run, wait_s)
        run.audits = settled_audits(client, run, token, wait_s)
    summary = summarize(run)
    stats = read_csv(Path(f"{csv_prefix}_stats.csv"))
    failures = read_csv(Path(f"{csv_prefix}_failures.csv"))
    return summary, render(run, summary, stats, failures, host)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    token = admin_token(args.admin_token)
    if not token:
        sys.exit("no admin token: --admin-token, PHOTOSERVE_ADMIN_TOKEN or .photoserve/")
    summary, markdown = produce(args.host, args.csv_prefix, args.jobs, token, args.wait_s)
    args.out.write_text(markdown)
    print(markdown)
    return 0 if summary.invariants_hold else 1


if __name__ == "__main__":
    sys.exit(main())
