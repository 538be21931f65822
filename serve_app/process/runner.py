"""`photoserve run`: the whole service on one machine.

Secrets → bundled weights → embedded Redis (unless REDIS_URL is set) → the Ray driver
(serve_app/process/launcher.py) running the CPU profile with this host and port → wait for
/readyz → print how to use it.

Stopping, in order, on the first Ctrl-C or SIGTERM: Serve stops taking requests, the
dispatcher lets its jobs finish for PHOTOSERVE_SHUTDOWN_GRACE_S (5 s here) and hands the rest
back to the queue, Serve and the Ray it started stop, then Redis, last. A second Ctrl-C stops
everything at once. Every child runs in a process group of its own and dies with the runner,
even a SIGKILLed one; whatever a killed run still left behind is stopped by the next start.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from serve_app.core import yaml_files
from serve_app.core.catalog import Catalog
from serve_app.core.plans import Plans
from serve_app.core.settings import CONFIGS, Settings, secret_problems
from serve_app.core.styles import Styles
from serve_app.process import children, instance, local_ray, local_state
from serve_app.process.embedded_redis import EmbeddedRedis, free_port

STARTUP_TIMEOUT_S = 300
STOP_TIMEOUT_S = 60
LAPTOP_SHUTDOWN_GRACE_S = "5"
LAPTOP_JOB_MEMORY_MB = "1400"
INGRESS_PORTS = 16  # ports Serve may hand to ingress replicas, from a free one up
# Ray's bookkeeping for its dashboard and Prometheus, which a laptop's run has no use for (the
# dashboard is off, the exporters are on ports nobody knows): its metrics, task events and
# event-loop statistics. The idle service's own CPU fell from 141-160 to 117-123 ms/s (two
# interleaved pairs); our /metrics lives in Redis and is unaffected.
QUIET_RAY = {
    "RAY_enable_metrics_collection": "0",
    "RAY_task_events_report_interval_ms": "0",
    "RAY_event_stats": "0",
}


class ProfileError(yaml_files.ConfigError):
    """A Serve profile (`photoserve run --config`) that cannot be used."""


def serve_config(profile: Path, host: str, port: int) -> dict:
    config = yaml_files.read(profile, ProfileError, "`applications` with one application")
    applications = config.get("applications")
    if not isinstance(applications, list) or len(applications) != 1:
        raise ProfileError(f"{profile.name}: expected `applications` with one application")
    config.setdefault("http_options", {}).update(host=host, port=port)
    return config


def environment(
    settings: Settings, data_dir: Path, secrets: dict[str, str], redis_url: str
) -> dict:
    env = dict(os.environ)
    env.update(
        PHOTOSERVE_DATA_DIR=str(data_dir),
        PHOTOSERVE_REDIS_URL=redis_url,
        **local_state.secret_env(env, secrets),
        PHOTOSERVE_PUBLIC_BASE_URL=settings.public_base_url
        or f"http://{settings.host}:{settings.port}",
        **instance.marked(data_dir),
        **haproxy_environment(data_dir),
        **ray_metrics_ports(),
    )
    for name, value in local_ray.ENVIRONMENT.items():  # Ray's servers on loopback only
        env.setdefault(name, value)
    # a laptop is stopped by hand: jobs get a few seconds to finish before they are handed
    # back, so the whole stop stays under 20 s (a cluster's profile waits longer)
    env.setdefault("PHOTOSERVE_SHUTDOWN_GRACE_S", LAPTOP_SHUTDOWN_GRACE_S)
    # no job takes a model replica above 2 GB here (~600 MB baseline + this)
    env.setdefault("PHOTOSERVE_JOB_MEMORY_MB", LAPTOP_JOB_MEMORY_MB)
    env.setdefault("RAY_SERVE_LOG_TO_STDERR", "0")
    # Ray starts a worker per core ahead of tasks when the driver connects (Serve's replicas
    # are actors: each gets a process of its own); on two cores their start slowed the
    # replicas' (ready 1.3 s sooner without them, mean of seven interleaved pairs)
    env.setdefault("RAY_prestart_worker_first_driver", "0")
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    for name, value in QUIET_RAY.items():
        env.setdefault(name, value)
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


def haproxy_environment(data_dir: Path) -> dict[str, str]:
    """HAProxy's files in this run's data dir; its side listeners, Serve's fallback proxy and
    the ingress replicas' own ports on free ports. Serve's defaults (/tmp/haproxy-serve,
    ports 8404, 9101, 8500 and 30000 up) collide with any other photoserve running on the
    machine, tests included: a second one's HAProxy even forwarded to the first's proxy."""
    folder = data_dir / "haproxy"
    folder.mkdir(parents=True, exist_ok=True)
    http, grpc = free_port(), free_port()
    return {
        "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": str(free_port()),
        "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT": str(free_port()),
        "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(http),
        "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(http + INGRESS_PORTS),
        "RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT": str(grpc),
        "RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT": str(grpc + INGRESS_PORTS),
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(folder / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(socket_dir(data_dir) / "admin.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(folder),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(folder / "server-state"),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(free_port()),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(free_port()),
    }


def ray_metrics_ports() -> dict[str, str]:
    """Ray's autoscaler and dashboard exporters on free ports (44217 and 44227 by default:
    a second photoserve's could not bind)."""
    return {
        "AUTOSCALER_METRIC_PORT": str(free_port()),
        "DASHBOARD_METRIC_PORT": str(free_port()),
    }


def socket_dir(data_dir: Path) -> Path:
    """A short folder for HAProxy's admin socket: Serve adds the 56-character node id to its
    path, and a socket path may not exceed 97 characters."""
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"photoserve-{digest}"


def import_weights(catalog: Catalog) -> None:
    from deployments.common import weights

    for result in weights.import_all(catalog):
        print(f"  weights {result.model}: {result.status} {result.detail}".rstrip())


def wait_ready(url: str, process: subprocess.Popen, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    return False


def shown(path: Path) -> str:
    """A path as the terminal shows it: from the working directory when it is inside (what
    the user typed from, and no machine layout in a pasted log)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def cli_path() -> str:
    return shown(Path(sys.executable).parent / "photoserve")


def banner(url: str, admin_token: str, new_token: bool, data_dir: Path) -> str:
    token_file = shown(data_dir / local_state.ADMIN_TOKEN_FILE)
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


class StopRequested(Exception):
    pass


def port_taken(host: str, port: int) -> bool:
    """Another server listens there. Closed connections lingering in TIME_WAIT after a stop
    (a minute on Linux) do not count: HAProxy binds with SO_REUSEADDR, and so does this."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def run(settings: Settings, profile: Path | None = None) -> int:
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        with instance.exclusive(data_dir):
            return _run(settings, data_dir, profile)
    except instance.AlreadyRunning as exc:
        print(f"photoserve: {exc}", file=sys.stderr)
        return 1


def _run(settings: Settings, data_dir: Path, profile: Path | None) -> int:
    if port_taken(settings.host, settings.port):
        print(
            f"photoserve: {settings.host}:{settings.port} is taken (another photoserve?): stop "
            "it, or choose another address with PORT / PHOTOSERVE_PORT.",
            file=sys.stderr,
        )
        return 1
    left = instance.clean_up(data_dir)
    if left:
        print(f"photoserve: stopped {len(left)} processes a previous run left behind")
    secrets, created = local_state.ensure_secrets(data_dir)
    catalog = read_config(settings)
    config = serve_config(profile or CONFIGS / "serve.cpu.yaml", settings.host, settings.port)
    print("photoserve: preparing weights")
    import_weights(catalog)
    redis, redis_url = start_redis(data_dir)
    local_state.write_api_url(data_dir, f"http://{settings.host}:{settings.port}")
    env = environment(settings, data_dir, secrets, redis_url)
    problems = secret_problems(with_secrets(settings, env))
    if problems:  # a PHOTOSERVE_* secret given by hand that is weak: said before Serve starts
        print(f"photoserve: refusing to start: {'; '.join(problems)}", file=sys.stderr)
        if redis is not None:
            redis.stop()
        return 1
    driver = start_serve(config, data_dir, env)
    return supervise(settings, data_dir, driver, redis, env, created)


def read_config(settings: Settings) -> Catalog:
    """The files every replica reads, read here first: a mistake in one is said in one line
    before anything starts (a replica failing on it left the start waiting, saying nothing)."""
    Plans.load(settings.plans_file)
    Styles.load(settings.styles_dir)
    return Catalog.load(settings.models_file, settings.user_models_file, settings.weights)


def with_secrets(settings: Settings, env: dict[str, str]) -> Settings:
    """The settings with the secrets the service will get (the environment's, else the data
    dir's generated ones)."""
    return settings.model_copy(
        update={
            "key_secret": env["PHOTOSERVE_KEY_SECRET"],
            "url_secret": env["PHOTOSERVE_URL_SECRET"],
            "admin_token": env["PHOTOSERVE_ADMIN_TOKEN"],
        }
    )


def start_redis(data_dir: Path) -> tuple[EmbeddedRedis | None, str]:
    redis_url = os.environ.get("REDIS_URL") or os.environ.get("PHOTOSERVE_REDIS_URL")
    if redis_url:
        local_state.write_redis_url(data_dir, redis_url)
        return None, redis_url
    redis = EmbeddedRedis(data_dir / "redis", env=instance.marked(data_dir)).start()
    print(f"photoserve: embedded Redis on {redis.url} (data in {shown(redis.directory)})")
    local_state.write_redis_url(data_dir, redis.url)
    return redis, redis.url


def start_serve(config: dict, data_dir: Path, env) -> subprocess.Popen:
    generated = data_dir / "serve.generated.yaml"
    generated.write_text(yaml.safe_dump(config, sort_keys=False))
    command = [sys.executable, "-m", "serve_app.process.launcher", str(generated)]
    return children.start(command, signal.SIGINT, env=env)


def supervise(settings, data_dir, driver, redis, env, new_secrets: bool) -> int:
    _stop_on_signals(driver, redis)
    url = f"http://{settings.host}:{settings.port}"
    try:
        if wait_ready(url, driver, STARTUP_TIMEOUT_S):
            new_token = new_secrets and not os.environ.get("PHOTOSERVE_ADMIN_TOKEN")
            print(banner(url, env["PHOTOSERVE_ADMIN_TOKEN"], new_token, data_dir), flush=True)
        elif driver.poll() is None:
            print("photoserve: the service did not become ready in time", file=sys.stderr)
            driver.send_signal(signal.SIGINT)
        return driver.wait()
    except StopRequested:
        return 0
    finally:
        stop(data_dir, driver, redis)


def _stop_on_signals(driver: subprocess.Popen, redis: EmbeddedRedis | None) -> None:
    """The first Ctrl-C / SIGTERM unwinds into the orderly stop; a second stops everything at
    once (waiting inside a handler would deadlock on Popen's wait lock)."""

    def now(*_args) -> None:
        print("photoserve: stopping now", file=sys.stderr, flush=True)
        children.kill_group(driver.pid)
        if redis is not None:
            redis.kill()

    def first(*_args) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, now)
        raise StopRequested

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, first)


def stop(data_dir: Path, driver: subprocess.Popen, redis: EmbeddedRedis | None) -> None:
    """Serve (the driver shuts it down on SIGINT), then whatever of Ray is left, then Redis."""
    if driver.poll() is None:
        driver.send_signal(signal.SIGINT)
    try:
        driver.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        driver.kill()
        driver.wait()
    children.kill_group(driver.pid)  # Ray's processes share the driver's group
    if redis is not None:
        redis.stop()
    instance.clean_up(data_dir)
    print("photoserve: stopped", flush=True)
