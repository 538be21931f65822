"""The `photoserve` command's client verbs, on the SDK:

    photoserve upscale PHOTO_OR_FOLDER... --scale 4 --out DIR [-j 4] [--json]
    photoserve login | credits | jobs list | jobs show ID | jobs download ID [PATH]

One subcommand per operation, its options read from the SDK's generated methods (so from the
server's schemas). Folders are walked for photos; a file whose result is already in --out is
skipped (resume); each file gets a bar fed by its job's real progress, under an overall bar
with ETA; then a summary table. Exit status 1 when anything failed. The server's own
`photoserve` (serve_app/process/cli.py) adds its admin commands to these.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import inspect
import json
import sys
import typing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from photoserve import config
from photoserve.client import AsyncClient, Client
from photoserve.errors import ApiError, PhotoserveError
from photoserve.inputs import is_url
from photoserve.operations import Operations

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
NOT_OPTIONS = {"self", "image", "from_job", "wait", "idempotency_key"}
PHOTO_OPTIONS = {"mask", "reference_image"}
EXTENSIONS = {"jpg": "jpg", "webp": "webp"}


@dataclass
class Outcome:
    input: str
    status: str  # done, failed, skipped
    output: str = ""
    job_id: str = ""
    cost: int = 0
    error: str = ""


def operation_methods() -> dict[str, Any]:
    """CLI name -> the SDK method, for every operation the SDK knows."""
    found = inspect.getmembers(Operations, inspect.isfunction)
    return {name.replace("_", "-"): method for name, method in found if name != "submit"}


def common_options(suppress: bool = False) -> argparse.ArgumentParser:
    """--url/--key/--json, accepted before or after the subcommand."""
    default = argparse.SUPPRESS if suppress else None
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=default, help="server (else $PHOTOSERVE_URL, login)")
    common.add_argument("--key", default=default, help="API key (else $PHOTOSERVE_API_KEY)")
    common.add_argument("--json", action="store_true", default=default, help="JSON output")
    return common


def add_option(parser: argparse.ArgumentParser, name: str, hint: Any, doc: str) -> None:
    flag, doc = "--" + name.replace("_", "-"), doc.replace("%", "%%")  # argparse formats help
    choices = typing.get_args(hint)
    base = next((c for c in choices if c is not type(None)), hint)
    if typing.get_origin(base) is typing.Literal:
        values = typing.get_args(base)
        parser.add_argument(flag, dest=name, type=type(values[0]), choices=values, help=doc)
    elif base is bool:
        parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, help=doc)
    elif name in PHOTO_OPTIONS:
        parser.add_argument(flag, dest=name, help=f"{doc} (a path or URL)".strip())
    else:
        parser.add_argument(flag, dest=name, type=base if base in (int, float) else str, help=doc)


def parameter_docs(method: Any) -> dict[str, str]:
    docs, current = {}, None
    for line in (method.__doc__ or "").splitlines():
        text = line.strip()
        head, _, rest = text.partition(": ")
        if head.isidentifier() and line.startswith(" " * 12) and not line.startswith(" " * 13):
            current, docs[head] = head, rest
        elif current and line.startswith(" " * 16):
            docs[current] += " " + text
    return docs


def add_operation(commands: Any, name: str, method: Any, common) -> None:
    summary = (method.__doc__ or "").strip().splitlines()[0]
    sub = commands.add_parser(name, help=summary, description=summary, parents=[common])
    hints = typing.get_type_hints(method)
    docs = parameter_docs(method)
    parameters = inspect.signature(method).parameters
    if "image" in parameters:
        sub.add_argument("photos", nargs="+", metavar="PHOTO_OR_FOLDER")
    for param in parameters.values():
        if param.name not in NOT_OPTIONS:
            add_option(sub, param.name, hints.get(param.name, str), docs.get(param.name, ""))
    sub.add_argument("--out", default="photoserve-out", help="folder for the results")
    sub.add_argument("-j", "--jobs", type=int, default=2, help="files processed at once")
    sub.add_argument("--overwrite", action="store_true", help="redo files already in --out")
    sub.set_defaults(func=cmd_operation, operation=name, takes_image="image" in parameters)


def add_commands(commands: Any, common: argparse.ArgumentParser) -> dict[str, Any]:
    """Register the client verbs on `commands` (an argparse subparsers object)."""
    for name, method in operation_methods().items():
        add_operation(commands, name, method, common)
    login = commands.add_parser("login", help="store the server URL and key", parents=[common])
    login.set_defaults(func=cmd_login)
    credits = commands.add_parser("credits", help="this key's balance", parents=[common])
    credits.set_defaults(func=cmd_credits)
    jobs = commands.add_parser("jobs", help="this key's jobs", parents=[common])
    actions = jobs.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common])
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(func=cmd_jobs_list)
    show = actions.add_parser("show", parents=[common])
    show.add_argument("job_id")
    show.set_defaults(func=cmd_jobs_show)
    download = actions.add_parser("download", parents=[common])
    download.add_argument("job_id")
    download.add_argument("path", nargs="?", help="default: <job id>.<its format>")
    download.set_defaults(func=cmd_jobs_download)
    return {"credits": credits, "jobs": jobs, "login": login}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="photoserve", parents=[common_options()])
    add_commands(root.add_subparsers(dest="command", required=True), common_options(True))
    return root


def client(args: argparse.Namespace) -> Client:
    return Client(getattr(args, "url", None), getattr(args, "key", None))


def emit(args: argparse.Namespace, value: Any, text: str) -> None:
    print(json.dumps(value, indent=2) if getattr(args, "json", False) else text)


def cmd_login(args: argparse.Namespace) -> int:
    url, _ = config.resolve(getattr(args, "url", None), "-")
    key = getattr(args, "key", None) or getpass.getpass("API key: ").strip()
    with Client(url, key) as found:
        check = found._body(found.send("GET", "/v1/key-check"))
    path = config.store(url, key)
    emit(args, {"url": url, "plan": check.get("plan")}, f"logged in to {url}; saved in {path}")
    return 0


def cmd_credits(args: argparse.Namespace) -> int:
    with client(args) as found:
        balance = found.credits()
    total = balance.get("credits", {}).get("total")
    emit(args, balance, f"{total} credits ({balance.get('held', 0)} held by running jobs)")
    return 0


def cmd_jobs_list(args: argparse.Namespace) -> int:
    with client(args) as found:
        listed = found.jobs(limit=args.limit)
    rows = [j.body for j in listed]
    lines = [
        f"{j.id}  {j.operation:18} {j.status:10} {j.cost:>4}  {j.body.get('created_at')}"
        for j in listed
    ]
    emit(args, rows, "\n".join(lines) or "no jobs")
    return 0


def cmd_jobs_show(args: argparse.Namespace) -> int:
    with client(args) as found:
        job = found.job(args.job_id)
    emit(args, job.body, json.dumps(job.body, indent=2))
    return 0 if job.status != "failed" else 1


def cmd_jobs_download(args: argparse.Namespace) -> int:
    with client(args) as found:
        data = found.download(args.job_id)
    path = Path(args.path or f"{args.job_id}.{sniff(data)}")
    path.write_bytes(data)
    emit(args, {"path": str(path), "bytes": len(data)}, f"saved {path} ({len(data)} bytes)")
    return 0


def sniff(data: bytes) -> str:
    if data.startswith(b"\xff\xd8"):
        return "jpg"
    if data[8:12] == b"WEBP":
        return "webp"
    return "png"


def photos_in(given: list[str]) -> list[Path | str]:
    """Files as given, folders walked (sorted) for photos, URLs as they are."""
    found: list[Path | str] = []
    for item in given:
        path = Path(item)
        if is_url(item):
            found.append(item)
        elif path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)
        else:
            found.append(path)
    return found


def operation_params(args: argparse.Namespace) -> dict[str, Any]:
    method = operation_methods()[args.operation]
    names = set(inspect.signature(method).parameters) - NOT_OPTIONS
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def target(out: Path, photo: Path | str | None, params: dict[str, Any], operation: str) -> Path:
    ext = EXTENSIONS.get(str(params.get("output_format")), "png")
    return out / f"{Path(str(photo)).stem if photo else operation}.{ext}"


def cmd_operation(args: argparse.Namespace) -> int:
    from photoserve import batch  # rich is imported only for a batch

    params = operation_params(args)
    photos = photos_in(args.photos) if args.takes_image else [None]
    out = Path(args.out)
    outcomes = asyncio.run(batch.run(args, photos, params, out))
    batch.report(args, outcomes)
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def describe(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.code}: {exc.detail}"
    return str(exc) or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return run(args)


def run(args: argparse.Namespace) -> int:
    """A command, with the client's errors said in one line (never a traceback)."""
    try:
        return args.func(args)
    except PhotoserveError as exc:
        print(f"photoserve: {describe(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def outcome_dict(outcome: Outcome) -> dict[str, Any]:
    return asdict(outcome)


def async_client(args: argparse.Namespace) -> AsyncClient:
    return AsyncClient(getattr(args, "url", None), getattr(args, "key", None))


if __name__ == "__main__":
    sys.exit(main())
