"""The deployment files, checked against the code and against Ray's own schemas.

configs/serve.yaml (GPU cluster) and configs/serve.cpu.yaml (laptop/CI), cluster.yaml (Ray
cluster launcher, AWS), deploy/kuberay/rayservice.yaml and the Grafana dashboard. No cluster
and no network: what `serve deploy`, `ray up` or `kubectl apply` would refuse, and the
mistakes they would take without a word (a misspelt key, a GPU share that never packs, a
replica no node can hold, a panel on a metric nobody exports).

    .venv/bin/python tests/test_deploy_configs.py   # copy configs/serve.yaml into the RayService
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray
import yaml
from ray.serve.config import AutoscalingConfig
from ray.serve.schema import DeploymentSchema, ServeApplicationSchema, ServeDeploySchema

ROOT = Path(__file__).resolve().parent.parent
SERVE_GPU = ROOT / "configs" / "serve.yaml"
SERVE_CPU = ROOT / "configs" / "serve.cpu.yaml"
CLUSTER = ROOT / "cluster.yaml"
RAYSERVICE = ROOT / "deploy" / "kuberay" / "rayservice.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "photoserve-dashboard.json"
RAY_DIR = Path(ray.__file__).parent

PROFILES = pytest.mark.parametrize("profile", [SERVE_GPU, SERVE_CPU], ids=lambda p: p.name)

# What a cluster needs on `ray start` of the RAY_SERVE_* that `photoserve run` sets: HAProxy,
# the throughput profile, and no gRPC between deployments (its 4 MB message cap fails large
# results). The runner's other two (log to stderr, control loop interval) are one-machine tweaks.
CLUSTER_SERVE_ENV = (
    "RAY_SERVE_ENABLE_HA_PROXY",
    "RAY_SERVE_THROUGHPUT_OPTIMIZED",
    "RAY_SERVE_USE_GRPC_BY_DEFAULT",
)
# `make run` and CI run the laptop profile on two cores
LAPTOP_CPUS = 2


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def application(config: dict) -> dict:
    (app,) = config["applications"]  # photoserve is one application
    return app


def deployments(config: dict) -> dict[str, dict]:
    return {d["name"]: d for d in application(config).get("deployments", [])}


@functools.cache
def code_deployments() -> dict:
    """The deployments of the application in code, named as Serve names them (the same
    builder `serve run` and the controller use, so two deployments of one class would show up
    as Class and Class_1)."""
    from ray.serve._private.build_app import build_app

    from serve_app.app import app

    return {d.name: d for d in build_app(app, name="photoserve").deployments}


@functools.cache
def operation_deployments() -> dict[str, str]:
    """Which deployment runs each registered operation's jobs."""
    from serve_app import operations

    return {op.name: op.deployment_name for op in operations.all_operations()}


def max_ongoing(name: str, dep: dict) -> int:
    return dep.get("max_ongoing_requests", code_deployments()[name].max_ongoing_requests)


def actor_resources(name: str, dep: dict) -> tuple[float, float]:
    """(num_cpus, num_gpus) of one replica; a config's ray_actor_options replaces the code's,
    and Serve gives a replica one CPU when nothing says otherwise."""
    options = dep.get("ray_actor_options") or code_deployments()[name].ray_actor_options or {}
    return float(options.get("num_cpus", 1)), float(options.get("num_gpus", 0))


def replica_range(dep: dict) -> tuple[int, int]:
    scaling = dep.get("autoscaling_config")
    if scaling:
        return scaling.get("min_replicas", 1), scaling["max_replicas"]
    replicas = dep.get("num_replicas", 1)
    return replicas, replicas


def batch_items(name: str, user_config: dict) -> int:
    """Requests one batch can hold. The Upscaler batches tiles and counts pixels: a batch
    holds max_batch_size / padded tile area tiles, and every small photo is one tile."""
    size = user_config["batching"]["max_batch_size"]
    if name != "Upscaler":
        return size
    tiles = user_config.get("tiles", {})
    padded = tiles.get("tile", 256) + 2 * tiles.get("tile_pad", 10)
    return size // padded**2


# --- Serve profiles -----------------------------------------------------------------------


@PROFILES
def test_profile_is_valid_for_serve(profile):
    ServeDeploySchema.model_validate(load_yaml(profile))


def _unknown(keys, model) -> set[str]:
    return set(keys) - set(model.model_fields)


@PROFILES
def test_profile_has_no_misspelt_keys(profile):
    # Serve's schema ignores keys it does not know: `max_queued_request: 8` deploys fine and
    # bounds nothing.
    config = load_yaml(profile)
    assert not _unknown(config, ServeDeploySchema)
    assert not _unknown(application(config), ServeApplicationSchema)
    for name, dep in deployments(config).items():
        assert not _unknown(dep, DeploymentSchema), name
        assert not _unknown(dep.get("autoscaling_config") or {}, AutoscalingConfig), name


@PROFILES
def test_profile_names_exactly_the_deployments_in_code(profile):
    app = application(load_yaml(profile))
    assert app["import_path"] == "serve_app.app:app"
    assert set(deployments(load_yaml(profile))) == set(code_deployments())


@PROFILES
def test_user_configs_are_accepted_by_their_deployments(profile):
    # each deployment's reconfigure() reads its user_config through parse_config: a key it
    # rejects fails every replica at deploy time
    for name, dep in deployments(load_yaml(profile)).items():
        if "user_config" in dep:
            code_deployments()[name].func_or_class.parse_config(dep["user_config"])


@PROFILES
def test_max_ongoing_requests_can_fill_every_batch(profile):
    # A replica sees at most max_ongoing_requests requests at once: fewer than a batch holds
    # (times the batches it runs side by side) and the batch never fills.
    for name, dep in deployments(load_yaml(profile)).items():
        batching = (dep.get("user_config") or {}).get("batching")
        if not batching:
            continue
        needed = batch_items(name, dep["user_config"]) * batching.get("max_concurrent_batches", 1)
        assert max_ongoing(name, dep) >= needed, f"{name}: {needed} requests fill its batches"


def dispatcher_slots(config: dict) -> dict[str, int]:
    return (deployments(config)["Dispatcher"].get("user_config") or {}).get("slots") or {}


@PROFILES
def test_dispatcher_has_slots_for_every_operation(profile):
    # the dispatcher ignores an operation it does not know: a misspelt one keeps its default
    operations = set(operation_deployments())
    assert set(operation_deployments().values()) <= set(code_deployments())
    slots = dispatcher_slots(load_yaml(profile))
    assert set(slots) == operations
    assert all(isinstance(n, int) and n >= 1 for n in slots.values()), slots


@PROFILES
def test_slots_let_the_autoscaler_reach_max_replicas(profile):
    # Waiting jobs stay in Redis; only jobs holding a slot are ongoing requests, which is
    # what Serve scales on. Fewer slots than max_replicas x target and the top never comes.
    config = load_yaml(profile)
    deps, slots = deployments(config), dispatcher_slots(config)
    dispatchers = replica_range(deps["Dispatcher"])[0]
    for operation, name in operation_deployments().items():
        scaling = deps[name].get("autoscaling_config")
        if scaling:
            needed = scaling["max_replicas"] * scaling.get("target_ongoing_requests", 2)
            assert dispatchers * slots.get(operation, 0) >= needed, f"{operation} -> {name}"


def test_cluster_profile_bounds_every_queue():
    # without max_queued_requests a caller's handle queues without limit (Serve's -1)
    for name, dep in deployments(load_yaml(SERVE_GPU)).items():
        assert dep.get("max_queued_requests", -1) > 0, name


def gpu_deployments(config: dict) -> dict[str, tuple[float, float]]:
    shares = {name: actor_resources(name, dep) for name, dep in deployments(config).items()}
    return {name: res for name, res in shares.items() if res[1] > 0}


def test_gpu_shares_divide_a_gpu():
    # 0.3 would leave a tenth of every GPU that nothing can use
    shares = gpu_deployments(load_yaml(SERVE_GPU))
    assert shares
    for name, (_, gpus) in shares.items():
        assert 0 < gpus <= 1, name
        assert math.isclose(1 / gpus, round(1 / gpus)), f"{name}: {gpus} GPU"


def test_laptop_profile_fits_two_cores_and_no_gpu():
    # a replica asking for more than the machine has waits forever for a node
    config = load_yaml(SERVE_CPU)
    assert not gpu_deployments(config)
    cpus = sum(
        actor_resources(name, dep)[0] * replica_range(dep)[1]
        for name, dep in deployments(config).items()
    )
    assert cpus <= LAPTOP_CPUS


# --- placement: can the cluster hold every replica at max_replicas? -----------------------


@dataclass
class Node:
    cpus: float
    gpus: float

    def take(self, cpus: float, gpus: float) -> bool:
        if cpus > self.cpus + 1e-9 or gpus > self.gpus + 1e-9:
            return False
        self.cpus, self.gpus = self.cpus - cpus, self.gpus - gpus
        return True


def unplaced(config: dict, nodes: list[Node]) -> list[str]:
    """First fit, largest GPU share first, on the cluster at its largest: the replicas that
    find no room. Tighter than Serve, which spreads replicas over nodes: a replica left over
    here would wait for a node there."""
    replicas = [
        (name, *actor_resources(name, dep))
        for name, dep in deployments(config).items()
        for _ in range(replica_range(dep)[1])
    ]
    replicas.sort(key=lambda r: (r[2], r[1]), reverse=True)
    return [name for name, cpus, gpus in replicas if not any(n.take(cpus, gpus) for n in nodes)]


# --- cluster.yaml (Ray cluster launcher) ---------------------------------------------------


@functools.cache
def cluster() -> dict:
    return load_yaml(CLUSTER)


def test_cluster_yaml_is_valid_for_the_cluster_launcher():
    from ray.autoscaler._private.util import prepare_config, validate_config

    schema = json.loads((RAY_DIR / "autoscaler" / "ray-schema.json").read_text())
    jsonschema.validate(cluster(), schema)
    # what `ray up` checks before it talks to AWS: defaults merged, head type, worker sums
    validate_config(prepare_config(json.loads(json.dumps(cluster()))))


def node_types() -> dict[str, dict]:
    return cluster()["available_node_types"]


def gpu_worker_types() -> dict[str, dict]:
    return {k: v for k, v in node_types().items() if v["resources"].get("GPU", 0) >= 1}


def test_cluster_head_is_cpu_only_and_gpu_workers_scale_from_zero():
    head = node_types()[cluster()["head_node_type"]]
    assert set(head["resources"]) == {"CPU"}
    assert gpu_worker_types()
    for name, worker in gpu_worker_types().items():
        assert worker["min_workers"] == 0, name
        assert worker["max_workers"] >= 1, name
    assert cluster()["idle_timeout_minutes"] > 0


def test_cluster_setup_installs_torch_then_the_project_with_models():
    commands = cluster()["setup_commands"]
    torch = next(i for i, c in enumerate(commands) if re.search(r"pip install .*\btorch==", c))
    project = next(
        i for i, c in enumerate(commands) if re.search(r"pip install .*\[[^\]]*\bmodels\b", c)
    )
    assert torch < project


DEPLOYS_SERVE_YAML = re.compile(r"serve (deploy|run) \S*configs/serve\.yaml")


def test_cluster_head_runs_the_autoscaler_and_deploys_serve_yaml():
    commands = cluster()["head_start_ray_commands"]
    start = next(i for i, c in enumerate(commands) if "ray start --head" in c)
    # without it no autoscaler runs on the head, and no GPU worker ever starts
    assert "--autoscaling-config=~/ray_bootstrap_config.yaml" in commands[start]
    deploy = next(i for i, c in enumerate(commands) if DEPLOYS_SERVE_YAML.search(c))
    assert start < deploy


@pytest.fixture
def runner_serve_env(monkeypatch) -> dict[str, str]:
    """The RAY_SERVE_* values `photoserve run` sets when the environment has none."""
    from serve_app.core.settings import Settings
    from serve_app.process import runner

    for name in list(os.environ):
        if name.startswith("RAY_SERVE_"):
            monkeypatch.delenv(name)
    secrets = {"key_secret": "k", "url_secret": "u", "admin_token": "a"}
    env = runner.environment(Settings(), Path("/tmp"), secrets, "redis://127.0.0.1:6379/0")
    assert set(CLUSTER_SERVE_ENV) <= set(env)
    return {name: env[name] for name in CLUSTER_SERVE_ENV}


def test_cluster_ray_start_has_the_env_photoserve_needs(runner_serve_env):
    starts = [
        c
        for key in ("head_start_ray_commands", "worker_start_ray_commands")
        for c in cluster()[key]
        if "ray start" in c
    ]
    assert len(starts) == 2
    for command in starts:
        for name, value in runner_serve_env.items():
            assert f"{name}={value}" in command.split(), name
        assert re.search(r"PHOTOSERVE_REDIS_URL\b", command)


def test_cluster_sizing_notes_match_serve_yaml():
    # "How to size it" lists each GPU deployment's share: it must say what serve.yaml says
    text = CLUSTER.read_text()
    for name, (cpus, gpus) in gpu_deployments(load_yaml(SERVE_GPU)).items():
        line = rf"^#\s+{name}\s+{gpus:g} GPU\s+{cpus:g} CPU$"
        assert re.search(line, text, re.MULTILINE), f"{name}: {gpus:g} GPU {cpus:g} CPU"


def test_cluster_can_hold_every_replica_at_max():
    head = node_types()[cluster()["head_node_type"]]["resources"]
    nodes = [Node(head["CPU"], head.get("GPU", 0))]
    for name, worker in node_types().items():
        if name != cluster()["head_node_type"]:
            res = worker["resources"]
            nodes += [Node(res["CPU"], res.get("GPU", 0)) for _ in range(worker["max_workers"])]
    nodes = nodes[: 1 + cluster()["max_workers"]]
    assert not unplaced(load_yaml(SERVE_GPU), nodes)


# --- deploy/kuberay/rayservice.yaml ---------------------------------------------------------


@functools.cache
def rayservice() -> dict:
    return load_yaml(RAYSERVICE)


def ray_cluster() -> dict:
    return rayservice()["spec"]["rayClusterConfig"]


def containers(group: dict) -> list[dict]:
    return group["template"]["spec"]["containers"]


def gpu_limit(container: dict) -> int:
    return int(container.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0))


def gpu_groups() -> list[dict]:
    return [
        g for g in ray_cluster()["workerGroupSpecs"] if any(gpu_limit(c) for c in containers(g))
    ]


def all_groups() -> list[dict]:
    return [ray_cluster()["headGroupSpec"], *ray_cluster()["workerGroupSpecs"]]


def test_rayservice_shape():
    doc = rayservice()
    assert (doc["apiVersion"], doc["kind"]) == ("ray.io/v1", "RayService")
    assert isinstance(doc["metadata"]["name"], str)
    assert isinstance(doc["spec"]["serveConfigV2"], str)
    # the image's Ray must be the project's pin (pyproject: ray[serve]==...)
    assert ray_cluster()["rayVersion"] == ray.__version__
    assert ray_cluster()["enableInTreeAutoscaling"] is True
    for group in all_groups():
        # KubeRay's CRD takes strings only: `num-cpus: 8` is refused by kubectl apply
        assert all(isinstance(v, str) for v in group.get("rayStartParams", {}).values())
        assert containers(group) and all(c.get("image") for c in containers(group))
    assert not any(gpu_limit(c) for c in containers(ray_cluster()["headGroupSpec"]))
    assert gpu_groups()
    for group in gpu_groups():
        assert group["minReplicas"] == 0
        assert isinstance(group["maxReplicas"], int) and group["maxReplicas"] >= 1
        for container in containers(group):
            limits, requests = container["resources"]["limits"], container["resources"]["requests"]
            # extended resources: Kubernetes needs requests equal to limits (or absent)
            assert requests.get("nvidia.com/gpu", limits["nvidia.com/gpu"]) == gpu_limit(container)


def test_rayservice_serves_configs_serve_yaml():
    served = yaml.safe_load(rayservice()["spec"]["serveConfigV2"])
    assert served == load_yaml(SERVE_GPU), "run: .venv/bin/python tests/test_deploy_configs.py"


SECRET_ENV = re.compile(r"PHOTOSERVE_(REDIS_URL|ADMIN_TOKEN|KEY_SECRET|URL_SECRET)$")


def test_rayservice_env_has_serve_settings_and_secrets_from_a_secret(runner_serve_env):
    for group in all_groups():
        for container in containers(group):
            env = {e["name"]: e for e in container.get("env", [])}
            for name, value in runner_serve_env.items():
                assert env[name].get("value") == value, name
            assert "PHOTOSERVE_REDIS_URL" in env
            for name, entry in env.items():
                if SECRET_ENV.match(name):
                    # a secret written into the manifest ends up in git and in `kubectl get`
                    ref = entry.get("valueFrom", {}).get("secretKeyRef", {})
                    assert ref.get("name") and ref.get("key") and "value" not in entry, name


def ray_node(group: dict) -> Node:
    params = group.get("rayStartParams", {})
    limits = containers(group)[0]["resources"]["limits"]
    cpus = float(params.get("num-cpus", limits["cpu"]))
    gpus = float(params.get("num-gpus", gpu_limit(containers(group)[0])))
    return Node(cpus, gpus)


def test_rayservice_gpu_count_matches_the_pod_limit():
    for group in gpu_groups():
        assert ray_node(group).gpus == gpu_limit(containers(group)[0])


def test_rayservice_can_hold_every_replica_at_max():
    nodes = [ray_node(ray_cluster()["headGroupSpec"])]
    for group in ray_cluster()["workerGroupSpecs"]:
        nodes += [ray_node(group) for _ in range(group["maxReplicas"])]
    assert not unplaced(load_yaml(SERVE_GPU), nodes)


def sync_rayservice() -> None:
    """Copy configs/serve.yaml, comments and all, into the RayService's serveConfigV2."""
    text = RAYSERVICE.read_text()
    marker = "  serveConfigV2: |\n"
    start = text.index(marker) + len(marker)
    end = text.index("  rayClusterConfig:\n", start)
    block = textwrap.indent(SERVE_GPU.read_text(), "    ")
    RAYSERVICE.write_text(text[:start] + block + text[end:])


# --- deploy/grafana/photoserve-dashboard.json ---------------------------------------------

# what /metrics exports (serve_app/metrics.py): kind and labels
PHOTOSERVE_METRICS = {
    "photoserve_jobs_total": ("counter", {"operation", "status"}),
    "photoserve_queue_depth": ("gauge", {"operation"}),
    "photoserve_jobs_running": ("gauge", {"operation"}),
    "photoserve_queue_oldest_age_seconds": ("gauge", {"operation"}),
    "photoserve_job_queue_wait_seconds": ("histogram", {"operation"}),
    "photoserve_job_processing_seconds": ("histogram", {"operation"}),
    "photoserve_batch_size": ("histogram", {"deployment"}),
    "photoserve_credits_total": ("counter", {"movement"}),
    "photoserve_webhook_deliveries_total": ("counter", {"outcome"}),
    "photoserve_rate_limited_total": ("counter", {"tier"}),
}
METRIC = re.compile(r"\b((?:photoserve|ray|autoscaler)_[a-z0-9_]+)")
LABEL_MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")


def exported_series() -> dict[str, set[str]]:
    """Series name -> labels, histograms as their _bucket, _sum and _count."""
    series = {}
    for name, (kind, labels) in PHOTOSERVE_METRICS.items():
        if kind == "histogram":
            series[name + "_bucket"] = labels | {"le"}
            series[name + "_sum"] = series[name + "_count"] = labels
        else:
            series[name] = labels
    return series


@functools.cache
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def graph_panels() -> list[dict]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def exprs() -> list[str]:
    return [t["expr"] for p in graph_panels() for t in p["targets"]]


def test_declared_metrics_are_what_serve_app_exports():
    from serve_app.core import metrics

    exported = {f"photoserve_{name}": kind for name, (kind, _) in metrics.HELP.items()}
    assert exported == {name: kind for name, (kind, _) in PHOTOSERVE_METRICS.items()}


def test_dashboard_imports_with_a_prometheus_input():
    board = dashboard()
    assert board["schemaVersion"] >= 36
    inputs = {i["name"]: i for i in board["__inputs"]}
    assert inputs["DS_PROMETHEUS"]["type"] == "datasource"
    assert inputs["DS_PROMETHEUS"]["pluginId"] == "prometheus"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert all(0 < p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in board["panels"])


def test_every_panel_queries_prometheus():
    assert graph_panels()
    for panel in graph_panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
        assert panel["targets"], panel["title"]
        assert all(t.get("expr", "").strip() for t in panel["targets"]), panel["title"]


def test_dashboard_uses_only_exported_photoserve_metrics_and_labels():
    series = exported_series()
    used = set()
    for expr in exprs():
        names = {m for m in METRIC.findall(expr) if m.startswith("photoserve_")}
        if not names:
            continue
        assert names <= set(series), expr
        used |= names
        labels = set(LABEL_MATCHER.findall(expr))
        for group in GROUPING.findall(expr):
            labels |= {label.strip() for label in group.split(",") if label.strip()}
        assert labels <= set().union(*(series[n] for n in names)), expr
    # and every exported metric is on the board
    assert {re.sub(r"_(bucket|sum|count)$", "", n) for n in used} == set(PHOTOSERVE_METRICS)


@functools.cache
def ray_metric_sources() -> tuple[str, str]:
    """Ray's own Grafana panels (full exported names) and Serve's metric definitions (names
    without the `ray_` prefix and the _total / _bucket suffixes)."""
    panels = RAY_DIR / "dashboard" / "modules" / "metrics" / "dashboards"
    serve = RAY_DIR / "serve" / "_private"
    read = lambda folder: "\n".join(p.read_text() for p in sorted(folder.glob("*.py")))  # noqa: E731
    return read(panels), read(serve)


def test_dashboard_ray_metrics_exist_in_this_ray():
    panels, serve = ray_metric_sources()
    for expr in exprs():
        for name in METRIC.findall(expr):
            if name.startswith("photoserve_"):
                continue
            base = re.sub(r"_(total|bucket|sum|count)$", "", name).removeprefix("ray_")
            assert name in panels or f'"{base}"' in serve, name


if __name__ == "__main__":
    sync_rayservice()
    print(f"{RAYSERVICE.relative_to(ROOT)}: serveConfigV2 = {SERVE_GPU.relative_to(ROOT)}")
