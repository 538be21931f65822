"""The Ray driver `photoserve run` starts (python -m serve_app.process.launcher CONFIG): a
local Ray without the dashboard and without usage reporting, then Serve's own `serve run` on
the generated profile. SIGINT deletes the application (Serve stops its deployments in order:
the ingress first, then the dispatcher, which finishes or hands back its jobs, then the
models), and the local Ray goes with this process.

Ray's processes share this process's group and die with it (Ray's own fate sharing); this
process dies with the runner (serve_app/process/children.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml

from serve_app import operations
from serve_app.core.catalog import Catalog
from serve_app.core.settings import get_settings
from serve_app.process import local_ray

LOOPBACK_HOOK = "serve_app.process.loopback.setup"
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


def prepare(config_path: Path) -> str:
    """The profile with idle deployments at zero; returns the application's name."""
    settings = get_settings()
    catalog = Catalog.load(settings.models_file, settings.user_models_file, settings.weights)
    config = yaml.safe_load(config_path.read_text())
    idle = unavailable_deployments(catalog)
    config_path.write_text(yaml.safe_dump(scale_to_zero(config, idle), sort_keys=False))
    if idle:
        print(f"photoserve: no replica until their weights appear: {', '.join(sorted(idle))}")
    return config["applications"][0]["name"]


def main(argv: list[str] | None = None) -> None:
    import ray
    from ray import serve
    from ray.serve.scripts import run

    config = (argv or sys.argv[1:])[0]
    app = prepare(Path(config))
    context = ray.init(
        namespace="serve",
        include_dashboard=False,
        runtime_env={"worker_process_setup_hook": LOOPBACK_HOOK},
    )
    # where this instance's Ray is, for tools that connect to it (with several on the
    # machine, `ray.init(address="auto")` may find another one)
    address_file = get_settings().data_dir / local_ray.ADDRESS_FILE
    address_file.write_text(context.address_info["gcs_address"])
    run.main([config, "--non-blocking"], standalone_mode=False)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        serve.delete(app)


if __name__ == "__main__":
    main()
