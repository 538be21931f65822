"""One operation over many photos for the CLI: `-j` jobs at once, a bar per file fed by its
job's real progress and an overall bar with ETA (rich, on stderr; none with --json), files
whose result is already in --out skipped, and the summary: a table, or JSON with --json."""

from __future__ import annotations

import asyncio
import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from photoserve import cli
from photoserve.cli import Outcome


def bars(args: Any) -> Progress | None:
    if args.json:
        return None
    return Progress(
        TextColumn("{task.description}", justify="left"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


async def run(args: Any, photos: list[Path | None], params: dict, out: Path) -> list[Outcome]:
    out.mkdir(parents=True, exist_ok=True)
    progress = bars(args)
    gate = asyncio.Semaphore(max(1, args.jobs))
    async with cli.async_client(args) as client:
        with progress or nullcontext():
            overall = progress.add_task("all", total=len(photos)) if progress else None
            work = [one(client, args, p, params, out, gate, progress, overall) for p in photos]
            return list(await asyncio.gather(*work))


async def one(client, args, photo, params, out, gate, progress, overall) -> Outcome:
    name = str(photo) if photo else args.operation
    destination = cli.target(out, photo, params, args.operation)
    if destination.exists() and not args.overwrite:
        _advance(progress, overall)
        return Outcome(name, "skipped", str(destination))
    async with gate:
        outcome = await _process(client, args, photo, params, destination, progress, name)
    _advance(progress, overall)
    return outcome


async def _process(client, args, photo, params, destination, progress, name) -> Outcome:
    bar = progress.add_task(Path(name).name[:28], total=100) if progress else None
    job = None
    try:
        job = await client.submit(args.operation, photo, **params)
        await job.wait(progress=lambda j: _show(progress, bar, j.progress))
        await job.download(destination)
        return Outcome(name, "done", str(destination), job.id, job.cost)
    except Exception as exc:  # one file's failure is reported, the others go on
        return Outcome(name, "failed", "", job.id if job else "", 0, cli.describe(exc))
    finally:
        if progress is not None:
            progress.remove_task(bar)


def _show(progress: Progress | None, bar: Any, percent: int) -> None:
    if progress is not None:
        progress.update(bar, completed=percent)


def _advance(progress: Progress | None, overall: Any) -> None:
    if progress is not None:
        progress.advance(overall)


def report(args: Any, outcomes: list[Outcome]) -> None:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "failed", "skipped")}
    spent = sum(o.cost for o in outcomes)
    if args.json:
        rows = [cli.outcome_dict(o) for o in outcomes]
        print(json.dumps({"results": rows, **counts, "credits": spent}, indent=2))
        return
    table = Table(
        title=f"{args.operation}: {counts['done']} done, {counts['failed']} failed, "
        f"{counts['skipped']} skipped, {spent} credits"
    )
    for column in ("file", "status", "result or reason", "credits"):
        table.add_column(column)
    for o in outcomes:
        table.add_row(o.input, o.status, o.output or o.error, str(o.cost))
    Console().print(table)
