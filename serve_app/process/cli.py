"""The `photoserve` command: the admin verbs here, the client's (one per operation, login,
credits, jobs: photoserve/cli.py) added to the same parser.

photoserve run                                   start everything locally
photoserve accounts create --credits 100         (admin API; prints the key once)
photoserve weights import [NAME FILE] | list | fetch [NAME]   bundled / downloaded weights
photoserve upscale photos/ --scale 4 --out big/  (client verbs, see photoserve/cli.py)

`--url` works before or after the subcommand; without it (or PHOTOSERVE_URL) the admin verbs
use the address the running local instance recorded in its data dir. A server that cannot
be reached is said in one line, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import httpx
from pydantic import ValidationError
from pydantic_settings.exceptions import SettingsError

from serve_app.core.catalog import Catalog
from serve_app.core.settings import Settings
from serve_app.core.yaml_files import ConfigError
from serve_app.process import local_state

# mistakes in the environment or the config files: one line each, never a traceback
CONFIG_ERRORS = (ConfigError, ValidationError, SettingsError)


def _settings() -> Settings:
    return Settings()


def local_url(settings: Settings) -> str:
    """The running local instance's address (recorded by `photoserve run`), else the
    configured one."""
    recorded = local_state.api_url(settings.data_dir.resolve())
    return recorded or f"http://{settings.host}:{settings.port}"


def server_url(args) -> str:
    return getattr(args, "url", None) or os.environ.get("PHOTOSERVE_URL") or local_url(_settings())


def _admin_client(args) -> httpx.Client:
    settings = _settings()
    token = local_state.admin_token(settings.data_dir.resolve())
    if not token:
        sys.exit("no admin token: set PHOTOSERVE_ADMIN_TOKEN (make run prints and stores one)")
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=server_url(args), headers=headers, timeout=30)


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


def cmd_check_config(args) -> int:
    """What `photoserve run` would start with (the environment's secrets, else those the
    data dir generated), or a cluster's environment: each problem named, exit 1."""
    from serve_app.core.settings import secret_problems
    from serve_app.process.runner import read_config, with_secrets

    settings = _settings()
    stored = local_state.stored_secrets(settings.data_dir.resolve())
    problems = secret_problems(with_secrets(settings, local_state.secret_env(os.environ, stored)))
    try:
        read_config(settings)
    except CONFIG_ERRORS as exc:
        problems.append(config_problem(exc))
    for problem in problems:
        print(f"photoserve: {problem}", file=sys.stderr)
    if not problems:
        print("configuration ok: secrets set, none default or short; models, plans and styles read")
    return 1 if problems else 0


def _catalog() -> Catalog:
    settings = _settings()
    return Catalog.load(settings.models_file, settings.user_models_file, settings.weights)


def _report(results) -> int:
    for result in results:
        print(f"{result.model:28} {result.status:10} {result.detail}")
    return 1 if any(r.status == "failed" for r in results) else 0


def cmd_weights_import(args) -> int:
    from deployments.common import weights

    catalog = _catalog()
    if args.model is None:
        return _report(weights.import_all(catalog))
    spec = catalog.specs.get(args.model)
    if spec is None or args.file is None:
        known = ", ".join(sorted(catalog.specs))
        sys.exit(f"photoserve weights import NAME FILE: NAME is one of {known}")
    return _report([weights.install(spec, Path(args.file), catalog.weights_dir)])


def cmd_weights_fetch(args) -> int:
    from deployments.common import weights

    catalog = _catalog()
    unknown = [name for name in args.models or () if name not in catalog.specs]
    if unknown:  # fetching nothing and saying nothing looked like success
        known = ", ".join(sorted(catalog.specs))
        sys.exit(f"photoserve weights fetch: no model {', '.join(unknown)}; one of {known}")
    return _report(weights.fetch_all(catalog, args.models or None))


def cmd_weights_list(args) -> int:
    catalog = _catalog()
    for spec in catalog.specs.values():
        state = "available" if catalog.available(spec) else "missing"
        print(f"{spec.name:28} {spec.operation:10} {spec.alias or '':8} {state}")
    return 0


def parser() -> argparse.ArgumentParser:
    from photoserve import cli as client_cli

    root = argparse.ArgumentParser(prog="photoserve", parents=[client_cli.common_options()])
    common = client_cli.common_options(suppress=True)
    commands = root.add_subparsers(dest="command", required=True)
    added = client_cli.add_commands(commands, common)

    run = commands.add_parser("run", help="start Redis, Ray Serve and the API locally")
    run.add_argument("--config", help="Serve config profile (default configs/serve.cpu.yaml)")
    run.set_defaults(func=cmd_run)
    check = commands.add_parser("check-config", help="refuse what the service would refuse")
    check.set_defaults(func=cmd_check_config)
    add_accounts(commands, common)
    add_credits(added["credits"], common)
    add_weights(commands)
    return root


def add_accounts(commands, common) -> None:
    accounts = commands.add_parser("accounts", help="accounts (admin)", parents=[common])
    actions = accounts.add_subparsers(dest="action", required=True)
    create = actions.add_parser(
        "create", help="create an account and print its API key", parents=[common]
    )
    create.add_argument("--credits", type=int, default=0, help="permanent (extra) credits")
    create.add_argument("--plan", default="free")
    create.set_defaults(func=cmd_accounts_create)
    for name, func in (
        ("show", cmd_accounts_show),
        ("lock", cmd_accounts_lock),
        ("unlock", cmd_accounts_unlock),
    ):
        sub = actions.add_parser(name, parents=[common])
        sub.add_argument("account")
        sub.set_defaults(func=func)
    plan = actions.add_parser("plan", help="change an account's plan", parents=[common])
    plan.add_argument("account")
    plan.add_argument("plan")
    plan.set_defaults(func=cmd_accounts_plan)


def add_credits(credits, common) -> None:
    """`photoserve credits` alone is the key's balance (client); these are the admin's."""
    actions = credits.add_subparsers(dest="action", required=False)
    grant = actions.add_parser("grant", help="add credits to a bucket (admin)", parents=[common])
    grant.add_argument("account")
    grant.add_argument("amount", type=int)
    grant.add_argument("--bucket", choices=["extra", "sub"], default="extra")
    grant.add_argument("--days", type=float, help="expiry for sub credits (default 30)")
    grant.add_argument("--note", default="")
    grant.set_defaults(func=cmd_credits_grant)
    show_ledger = actions.add_parser(
        "ledger", help="an account's credit movements (admin)", parents=[common]
    )
    show_ledger.add_argument("account")
    show_ledger.add_argument("--count", type=int, default=50)
    show_ledger.set_defaults(func=cmd_credits_ledger)
    audit = actions.add_parser(
        "audit", help="check balance = grants - captures - expiries", parents=[common]
    )
    audit.add_argument("account")
    audit.set_defaults(func=cmd_credits_audit)


def add_weights(commands) -> None:
    weights = commands.add_parser("weights").add_subparsers(dest="action", required=True)
    bring = weights.add_parser(
        "import", help="convert the bundled weights, or install NAME from FILE (checked)"
    )
    bring.add_argument("model", nargs="?", help="a model of configs/models.yaml")
    bring.add_argument("file", nargs="?", help="its weights file (or pipeline folder)")
    bring.set_defaults(func=cmd_weights_import)
    weights.add_parser("list", help="models and whether their weights are here").set_defaults(
        func=cmd_weights_list
    )
    fetch = weights.add_parser("fetch", help="download official weights (needs internet)")
    fetch.add_argument("models", nargs="*", help="model names (default: all)")
    fetch.set_defaults(func=cmd_weights_fetch)


def main(argv: list[str] | None = None) -> int:
    from photoserve import cli as client_cli

    args = parser().parse_args(argv)
    if args.func.__module__ == client_cli.__name__ and not _client_url_given(args):
        args.url = local_url(_settings())
    try:
        return client_cli.run(args)
    except CONFIG_ERRORS as exc:
        print(f"photoserve: configuration: {config_problem(exc)}", file=sys.stderr)
        return 2
    except httpx.TransportError as exc:
        print(
            f"photoserve: cannot reach {server_url(args)} ({type(exc).__name__}): is it "
            "running? Give its address with --url or PHOTOSERVE_URL.",
            file=sys.stderr,
        )
        return 1


def config_problem(exc: Exception) -> str:
    """One line for a settings or models-file mistake (pydantic's own text is a page)."""
    if isinstance(exc, SettingsError):  # a value that is not JSON where JSON is expected
        field = re.search(r'field "(\w+)"', str(exc))
        return f"{_setting_name((field.group(1),) if field else ())}: not valid JSON"
    if not isinstance(exc, ValidationError):
        return str(exc)
    return "; ".join(
        f"{_setting_name(error['loc'])}: {error['msg']} (got {error.get('input')!r})"
        for error in exc.errors()
    )


def _setting_name(loc: tuple) -> str:
    field = str(loc[0]) if loc else "settings"
    # an aliased field is reported by its environment name already
    return field if field.isupper() else Settings.model_config["env_prefix"] + field.upper()


def _client_url_given(args) -> bool:
    from photoserve import config

    return bool(getattr(args, "url", None) or os.environ.get(config.URL_ENV) or config.stored())


if __name__ == "__main__":
    sys.exit(main())
