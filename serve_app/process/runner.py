"""`photoserve run`: the whole service on one machine.

Secrets → bundled weights → embedded Redis (unless REDIS_URL is set) → `serve run` of the
CPU profile with this host/port → wait for /healthz → print how to use it. Ctrl-C or SIGTERM
stops Serve (and the Ray it started), then Redis.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from serve_app.core.catalog import Catalog
from serve_app.core.settings import CONFIGS, Settings
from serve_app.process import local_state
from serve_app.process.embedded_redis import EmbeddedRedis

STARTUP_TIMEOUT_S = 300


def serve_config(profile: Path, host: str, port: int) -> dict:
    config = yaml.safe_load(profile.read_text())
    config.setdefault("http_options", {}).update(host=host, port=port)
    return config


def environment(
    settings: Settings, data_dir: Path, secrets: dict[str, str], redis_url: str
) -> dict:
    env = dict(os.environ)
    env.update(
        PHOTOSERVE_DATA_DIR=str(data_dir),
        PHOTOSERVE_REDIS_URL=redis_url,
        PHOTOSERVE_KEY_SECRET=env.get("PHOTOSERVE_KEY_SECRET") or secrets["key_secret"],
        PHOTOSERVE_URL_SECRET=env.get("PHOTOSERVE_URL_SECRET") or secrets["url_secret"],
        PHOTOSERVE_ADMIN_TOKEN=env.get("PHOTOSERVE_ADMIN_TOKEN") or secrets["admin_token"],
        PHOTOSERVE_PUBLIC_BASE_URL=settings.public_base_url
        or f"http://{settings.host}:{settings.port}",
    )
    env.setdefault("RAY_SERVE_LOG_TO_STDERR", "0")
    # One machine: the controller's 10 Hz control loop cost ~3% of a core under load; 2 Hz
    # still scales and restarts replicas within a second.
    env.setdefault("RAY_SERVE_CONTROL_LOOP_INTERVAL_S", "0.5")
    # HAProxy in front, forwarding to the ingress replicas' own HTTP servers (direct
    # ingress), and Serve's throughput profile (user code on the replica's own loop, gRPC
    # between deployments, GC frozen after start-up): status polls went from 184 req/s
    # (Python proxy) to 1,111 here; see README "Gateway throughput".
    env.setdefault("RAY_SERVE_ENABLE_HA_PROXY", "1")
    env.setdefault("RAY_SERVE_THROUGHPUT_OPTIMIZED", "1")
    # ...but not its gRPC between deployments: it caps a message at 4 MB (a 1280 px result
    # failed) and copies what Ray's object store hands over without a copy.
    env.setdefault("RAY_SERVE_USE_GRPC_BY_DEFAULT", "0")
    # a stopping ingress replica keeps serving 30 s by default so that an external load
    # balancer can stop sending to it; on one machine nothing is in front of HAProxy, and the
    # wait made every stop take 33 s (14 s with this)
    env.setdefault("RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S", "2")
    return env


def import_weights(settings: Settings) -> None:
    from deployments.common import weights

    catalog = Catalog.load(settings.models_file, settings.user_models_file, settings.weights)
    for result in weights.import_all(catalog):
        print(f"  weights {result.model}: {result.status} {result.detail}".rstrip())


def wait_healthy(url: str, process: subprocess.Popen, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(1)
    return False


def cli_path() -> str:
    path = Path(sys.executable).parent / "photoserve"
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def banner(url: str, admin_token: str, new_token: bool, data_dir: Path) -> str:
    token_file = data_dir / local_state.ADMIN_TOKEN_FILE
    token_line = (
        f"  admin token (shown once, also in {token_file}): {admin_token}"
        if new_token
        else f"  admin token: $PHOTOSERVE_ADMIN_TOKEN or {token_file}"
    )
    return "\n".join(
        [
            "",
            f"photoserve is up: {url}",
            f"  API docs:  {url}/docs",
            token_line,
            f"  get a key: {cli_path()} accounts create --credits 100",
            f"        or: curl -X POST {url}/admin/accounts"
            " -H 'Authorization: Bearer <admin token>'"
            " -H 'Content-Type: application/json' -d '{\"credits\": 100}'",
            "  stop:      Ctrl-C",
            "",
        ]
    )


def run(settings: Settings, profile: Path | None = None) -> int:
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets, created = local_state.ensure_secrets(data_dir)
    print("photoserve: preparing weights")
    import_weights(settings)
    redis = None
    redis_url = os.environ.get("REDIS_URL") or os.environ.get("PHOTOSERVE_REDIS_URL")
    if not redis_url:
        redis = EmbeddedRedis(data_dir / "redis").start()
        redis_url = redis.url
        print(f"photoserve: embedded Redis on {redis_url} (data in {redis.directory})")
    local_state.write_redis_url(data_dir, redis_url)
    generated = data_dir / "serve.generated.yaml"
    config = serve_config(profile or CONFIGS / "serve.cpu.yaml", settings.host, settings.port)
    generated.write_text(yaml.safe_dump(config, sort_keys=False))
    env = environment(settings, data_dir, secrets, redis_url)
    serve_bin = shutil.which("serve", path=str(Path(sys.executable).parent)) or "serve"
    process = subprocess.Popen(
        [serve_bin, "run", str(generated)],
        env=env,
        start_new_session=True,
        preexec_fn=_default_sigint,
    )
    _forward_signals(process)
    try:
        url = f"http://{settings.host}:{settings.port}"
        if wait_healthy(url, process, STARTUP_TIMEOUT_S):
            new_token = created and not os.environ.get("PHOTOSERVE_ADMIN_TOKEN")
            print(banner(url, env["PHOTOSERVE_ADMIN_TOKEN"], new_token, data_dir), flush=True)
        elif process.poll() is None:
            print("photoserve: the service did not become healthy in time", file=sys.stderr)
            _interrupt(process)
        return process.wait()
    except StopRequested:
        return 0
    finally:
        _shutdown(process)
        if redis is not None:
            redis.stop()
        print("photoserve: stopped")


def _interrupt(process: subprocess.Popen) -> None:
    # `serve run` shuts Serve and the local Ray it started down cleanly on SIGINT. Only the
    # serve process gets it: raylet and GCS share its process group and must outlive it.
    if process.poll() is None:
        process.send_signal(signal.SIGINT)


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and exec keeps that: undo it so
    # `serve run` can be interrupted.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class StopRequested(Exception):
    pass


def _forward_signals(process: subprocess.Popen) -> None:
    # The first signal unwinds the main thread into the shutdown path; later ones only pass
    # SIGINT on (waiting inside a handler would deadlock on Popen's wait lock).
    def first(*_args) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: _interrupt(process))
        raise StopRequested

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, first)


def _shutdown(process: subprocess.Popen, grace_s: float = 60) -> None:
    _interrupt(process)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    # Whatever `serve run` started and left behind (same process group) goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
