"""The Ray driver `photoserve run` starts (python -m serve_app.process.launcher CONFIG): a
local Ray without the dashboard and without usage reporting, then Serve with the generated
profile's application, built in this process and deployed as `serve run` would. SIGINT
deletes the application (Serve stops its deployments in order: the ingress first, then the
dispatcher, which finishes or hands back its jobs, then the models), and the local Ray goes
with this process. If Serve gives up on a deployment while the application deploys, this
process says which and why in one line and exits 1; the runner then stops the rest.

Ray's processes share this process's group and die with it (Ray's own fate sharing); this
process dies with the runner (serve_app/process/children.py).
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import yaml

from serve_app import operations
from serve_app.core.catalog import Catalog
from serve_app.core.settings import get_settings
from serve_app.process import local_ray

LOOPBACK_HOOK = "serve_app.process.loopback.setup"
PROXY_TIMEOUT_S = 60
IDLE = {"min_replicas": 0, "initial_replicas": 0, "max_replicas": 1}


def usable(op: operations.Operation, catalog: Catalog) -> bool:
    groups = (catalog.for_operation(group) for group in op.models)
    return all(any(catalog.available(spec) for spec in specs) for specs in groups)


def unavailable_deployments(catalog: Catalog) -> set[str]:
    runs: dict[str, list[bool]] = {}
    for op in operations.all_operations():
        runs.setdefault(op.deployment_name, []).append(usable(op, catalog))
    return {name for name, ops in runs.items() if not any(ops)}


def scale_to_zero(config: dict, idle: set[str]) -> dict:
    for deployment in config["applications"][0].get("deployments", []):
        if deployment["name"] in idle:
            deployment.pop("num_replicas", None)
            deployment["autoscaling_config"] = {**deployment.get("autoscaling_config", {}), **IDLE}
    return config


def prepare(config_path: Path) -> dict:
    """The profile with idle deployments at zero (written back: what was deployed)."""
    settings = get_settings()
    catalog = Catalog.load(settings.models_file, settings.user_models_file, settings.weights)
    config = yaml.safe_load(config_path.read_text())
    idle = unavailable_deployments(catalog)
    config_path.write_text(yaml.safe_dump(scale_to_zero(config, idle), sort_keys=False))
    if idle:
        print(f"photoserve: no replica until their weights appear: {', '.join(sorted(idle))}")
    return config


def graph(application: dict):
    """The application's graph with the profile's options for each deployment."""
    from serve_app import app

    options = {d["name"]: without_name(d) for d in application.get("deployments", [])}
    return app.build(options=options)


def without_name(deployment: dict) -> dict:
    return {key: value for key, value in deployment.items() if key != "name"}


def deploy(config: dict, built: Future) -> None:
    """The profile's application, built here (while Ray started) and handed to Serve as it is
    - from the config file Serve would start a worker to import and build it first, 3 s of
    the start - while Serve's proxies start (waiting for them first cost another 2-3 s)."""
    import ray
    from ray.serve._private.build_app import build_app

    (application,) = config["applications"]
    client, proxies = start_serve(config)
    # what `serve.run` does (its "connecting to existing Serve" line would say otherwise)
    app = build_app(
        built.result(),
        name=application["name"],
        route_prefix=application.get("route_prefix", "/"),
        logging_config=config.get("logging_config"),
        default_runtime_env=ray.get_runtime_context().runtime_env,
    )
    client.deploy_applications(
        [app], wait_for_ingress_deployment_creation=False, wait_for_applications_running=False
    )
    ray.get(proxies, timeout=PROXY_TIMEOUT_S)


def start_serve(config: dict) -> tuple:
    """What `serve.start` does, without waiting for the proxies: (client, their readiness).
    Ray is pinned (pyproject.toml): these are its internals."""
    from ray.serve._private import api
    from ray.serve._private.client import ServeControllerClient
    from ray.serve.config import ControllerOptions
    from ray.serve.context import _set_global_client

    controller, proxies = api._create_controller_and_proxy_refs(
        config.get("http_options"),
        None,
        config.get("logging_config"),
        None,
        ControllerOptions(),
        config.get("proxy_location"),
    )
    client = ServeControllerClient(controller)
    _set_global_client(client)
    return client, proxies


def main(argv: list[str] | None = None) -> None:
    import ray
    from ray import serve

    config_path = Path((argv or sys.argv[1:])[0])
    config = prepare(config_path)
    # the graph imports and builds while Ray starts
    built = ThreadPoolExecutor(1).submit(graph, config["applications"][0])
    context = ray.init(
        namespace="serve",
        include_dashboard=False,
        runtime_env={"worker_process_setup_hook": LOOPBACK_HOOK},
    )
    # where this instance's Ray is, for tools that connect to it (with several on the
    # machine, `ray.init(address="auto")` may find another one)
    address_file = get_settings().data_dir / local_ray.ADDRESS_FILE
    address_file.write_text(context.address_info["gcs_address"])
    name = config["applications"][0]["name"]
    deploy(config, built)
    try:
        failed = deploy_failure(name)
        if failed:
            # the runner stops Ray and Redis, as after Ctrl-C
            print(f"photoserve: not started: {failed}", file=sys.stderr, flush=True)
            sys.exit(1)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        serve.delete(name)


def deploy_failure(name: str, poll_s: float = 1.0) -> str | None:
    """Waits while the application deploys: None once it runs; if Serve gives up on one of its
    deployments (a replica that cannot start, however often it is retried), which and why."""
    from ray import serve

    while True:
        status = serve.status().applications.get(name)
        state = status.status if status else None
        if state == "RUNNING":
            return None
        if state == "DEPLOY_FAILED":
            return failure_line(status)
        time.sleep(poll_s)


def failure_line(status) -> str:
    """The failed deployments and the last line of each one's error (the traceback's end),
    rather than Serve's page of it."""
    said = [
        f"{name} failed to start ({_last_line(deployment.message)})"
        for name, deployment in status.deployments.items()
        if deployment.status == "DEPLOY_FAILED"
    ]
    return "; ".join(said) or _last_line(status.message)


def _last_line(message: str) -> str:
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no reason given"


if __name__ == "__main__":
    main()
