"""Files under the data dir (.photoserve/) that a local install keeps between runs:
generated secrets (mode 600), the address of the running embedded Redis, and the API's
address (the CLI finds a running local instance by it)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

SECRETS_FILE = "secrets.json"
REDIS_URL_FILE = "redis.url"
API_URL_FILE = "api.url"
ADMIN_TOKEN_FILE = "admin_token"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def ensure_secrets(data_dir: Path) -> tuple[dict[str, str], bool]:
    """The server's secrets, generated on first use. Returns (secrets, created_now)."""
    path = data_dir / SECRETS_FILE
    fresh = {
        "key_secret": secrets.token_urlsafe(32),
        "admin_token": "adm_" + secrets.token_urlsafe(24),
        "url_secret": secrets.token_urlsafe(32),
    }
    if path.exists():
        values = stored_secrets(data_dir)
        if set(fresh) - set(values):  # written by an older version: add what is new
            values = {**fresh, **values}
            _write_private(path, json.dumps(values, indent=2))
        return values, False
    _write_private(path, json.dumps(fresh, indent=2))
    _write_private(data_dir / ADMIN_TOKEN_FILE, fresh["admin_token"])
    return fresh, True


def admin_token(data_dir: Path) -> str | None:
    token = os.environ.get("PHOTOSERVE_ADMIN_TOKEN")
    if token:
        return token
    path = data_dir / ADMIN_TOKEN_FILE
    return path.read_text().strip() if path.exists() else None


SECRET_ENV = {
    "key_secret": "PHOTOSERVE_KEY_SECRET",
    "url_secret": "PHOTOSERVE_URL_SECRET",
    "admin_token": "PHOTOSERVE_ADMIN_TOKEN",
}


def secret_env(env, stored: dict[str, str]) -> dict[str, str]:
    """The secrets the service gets: the environment's, else the generated ones."""
    return {var: env.get(var) or stored.get(name, "") for name, var in SECRET_ENV.items()}


def write_redis_url(data_dir: Path, url: str) -> None:
    _write_private(data_dir / REDIS_URL_FILE, url)


def redis_url(data_dir: Path) -> str | None:
    path = data_dir / REDIS_URL_FILE
    return path.read_text().strip() if path.exists() else None


def write_api_url(data_dir: Path, url: str) -> None:
    _write_private(data_dir / API_URL_FILE, url)


def api_url(data_dir: Path) -> str | None:
    path = data_dir / API_URL_FILE
    return path.read_text().strip() if path.exists() else None


def stored_secrets(data_dir: Path) -> dict[str, str]:
    """The secrets a local install generated, if it did ({} otherwise)."""
    path = data_dir / SECRETS_FILE
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
