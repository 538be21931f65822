"""Where the client finds the server and its key: the arguments, else PHOTOSERVE_URL and
PHOTOSERVE_API_KEY, else what `photoserve login` stored (a JSON file in the user's config
dir, $XDG_CONFIG_HOME/photoserve/client.json, readable by its owner only), else the local
default URL and no key."""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"
URL_ENV = "PHOTOSERVE_URL"
KEY_ENV = "PHOTOSERVE_API_KEY"


def path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "photoserve" / "client.json"


def stored() -> dict[str, str]:
    try:
        found = json.loads(path().read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def store(url: str, api_key: str) -> Path:
    """Write the login file with mode 600 from its creation (never briefly readable)."""
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"url": url, "api_key": api_key}, handle)
    os.chmod(target, 0o600)  # an older file keeps its mode through O_TRUNC
    return target


def resolve(url: str | None, api_key: str | None) -> tuple[str, str | None]:
    saved = stored() if not (url and api_key) else {}
    url = url or os.environ.get(URL_ENV) or saved.get("url") or DEFAULT_URL
    api_key = api_key or os.environ.get(KEY_ENV) or saved.get("api_key")
    return url.rstrip("/"), api_key
