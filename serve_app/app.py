"""The Ray Serve application: Ingress (FastAPI) + Dispatcher + one deployment per model family.

    serve run configs/serve.cpu.yaml      # import_path: serve_app.app:app

The graph is derived from the operation registry: every deployment an operation names is
bound once (with the handles of the deployments it `uses`), the Dispatcher gets one lane per
operation, the Ingress every model deployment's handle for /v1/models and /readyz. Model calls
go through DeploymentHandles; the deployments' model code imports torch inside the replicas
only, so building this graph needs no torch.
"""

from __future__ import annotations

import asyncio
import logging
import os

from ray import serve
from ray.serve.handle import DeploymentHandle

from serve_app import ingress, operations
from serve_app.api.deps import Fleet, use_fleet_status
from serve_app.core import logs
from serve_app.core.catalog import Catalog
from serve_app.core.runtime import Runtime
from serve_app.core.settings import get_settings
from serve_app.engine import maintenance
from serve_app.engine.backends import Lane
from serve_app.engine.dispatcher import Dispatcher
from serve_app.operations import Operation
from serve_app.operations._operation import deployment_class
from serve_app.webhooks.delivery import WebhookWorker

log = logging.getLogger("photoserve.app")
STATUS_TIMEOUT_S = 3.0


def lane(op: Operation, handles: dict[str, DeploymentHandle]) -> Lane:
    handle = handles[op.deployment_name]
    return Lane(op.backend(handle, op.method, handles), op.deadline_s, op.result)


@serve.deployment(
    name="Dispatcher",
    num_replicas=1,
    ray_actor_options={"num_cpus": 0.25},
    graceful_shutdown_timeout_s=30,
)
class DispatcherDeployment:
    """Runs jobs (Dispatcher), delivers webhooks (WebhookWorker) and keeps house."""

    def __init__(self, models: dict[str, DeploymentHandle]):
        settings = get_settings()
        logs.configure(settings.log_format, settings.log_level)
        self.rt = Runtime.create(settings)
        consumer = serve.get_replica_context().replica_id.unique_id
        lanes = {op.name: lane(op, models) for op in operations.all_operations()}
        self.dispatcher = Dispatcher(self.rt, lanes, consumer)
        base_url = settings.public_base_url or f"http://{settings.host}:{settings.port}"
        self.webhooks = WebhookWorker(self.rt, consumer, base_url, ingress.webhook_styles())
        loop = asyncio.get_running_loop()
        self.starting = loop.create_task(self._start())
        self.housekeeping = loop.create_task(self._keep_house([*lanes]))

    async def _start(self) -> None:
        # PHOTOSERVE_DISPATCH_ENABLED=0: accept jobs but run none (benchmarks of the gateway,
        # or a gateway-only node in front of a shared Redis)
        if self.rt.settings.dispatch_enabled:
            await self.dispatcher.start()
        await self.webhooks.start()

    async def _keep_house(self, operations: list[str]) -> None:
        while True:
            await asyncio.sleep(self.rt.settings.sweep_interval_s)
            streams = [self.rt.keys.stream(op) for op in operations] + [self.rt.keys.webhooks]
            await maintenance.run_once(self.rt, streams)

    @staticmethod
    def parse_config(user_config: dict) -> dict[str, int]:
        """`slots`: operation -> jobs in flight at once (configs/serve*.yaml)."""
        unknown = set(user_config or {}) - {"slots"}
        if unknown:
            raise ValueError(f"unknown Dispatcher user_config keys: {sorted(unknown)}")
        return {op: int(n) for op, n in ((user_config or {}).get("slots") or {}).items()}

    def reconfigure(self, user_config: dict) -> None:
        self.dispatcher.resize(self.parse_config(user_config))

    def check_health(self) -> None:
        if not self.starting.done():
            return
        if (
            self.starting.exception()
            or not self.dispatcher.healthy()
            or not self.webhooks.healthy()
        ):
            raise RuntimeError("dispatcher loops stopped")

    async def status(self) -> dict:
        return {
            "pid": os.getpid(),
            "in_flight": len(self.dispatcher.in_flight),
            "healthy": self.dispatcher.healthy(),
        }

    async def __del__(self):
        # Serve's graceful shutdown: stop reading, finish or hand back in-flight jobs.
        self.housekeeping.cancel()
        await self.dispatcher.stop()
        await self.webhooks.stop()
        await self.rt.close()


def deployment_models(catalog: Catalog, runs: dict[str, str], deployment: str) -> list[str]:
    """The catalog's models of the operations a deployment runs."""
    ops = [op for op in operations.all_operations() if runs.get(op.name) == deployment]
    groups = {group for op in ops for group in op.models}
    return [spec.name for spec in catalog.specs.values() if spec.operation in groups]


def replica_counts(app_name: str) -> dict[str, int]:
    """Deployment -> replicas in any state (starting ones count: they are not scaled to 0)."""
    app = serve.status().applications.get(app_name)
    if app is None:
        return {}
    return {name: sum(d.replica_states.values()) for name, d in app.deployments.items()}


@serve.deployment(name="Ingress", max_ongoing_requests=1000)
@serve.ingress(ingress.app)
class Ingress:
    def __init__(self, models: dict[str, DeploymentHandle], dispatcher: DeploymentHandle):
        settings = get_settings()
        logs.configure(settings.log_format, settings.log_level)
        self.catalog = Catalog.load(
            settings.models_file, settings.user_models_file, settings.weights
        )
        self.models = models
        self.dispatcher = dispatcher
        self.runs = {op.name: op.deployment_name for op in operations.all_operations()}
        self.app_name = serve.get_replica_context().app_name
        use_fleet_status(self.fleet)

    async def fleet(self) -> Fleet:
        """Which models the model deployments have loaded; a deployment scaled to zero is not
        asked (that would start a replica): its models are reported idle (None)."""
        try:
            counts = await asyncio.to_thread(replica_counts, self.app_name)
        except Exception:
            log.warning("serve status unavailable", exc_info=True)
            counts = {}
        found = Fleet({}, {}, self.runs)
        await asyncio.gather(*(self._ask(name, counts.get(name), found) for name in self.models))
        return found

    async def _ask(self, name: str, replicas: int | None, found: Fleet) -> None:
        if replicas == 0:
            found.deployments[name] = "idle"
            found.models.update(dict.fromkeys(deployment_models(self.catalog, self.runs, name)))
            return
        try:
            status = await asyncio.wait_for(self.models[name].status.remote(), STATUS_TIMEOUT_S)
        except Exception:
            log.warning("%s status unavailable", name, exc_info=True)
            found.deployments[name] = "down"
            return
        found.deployments[name] = "up"
        found.models.update(dict.fromkeys(status["missing"], False))
        found.models.update(dict.fromkeys(status["loaded"], True))


def bind_models(options: dict[str, dict]) -> dict[str, object]:
    """One bound deployment per class the operations name, after those it `uses`."""
    classes = {}
    for op in operations.all_operations():
        deployment = deployment_class(op.deployment)
        classes[deployment.name] = deployment
    bound: dict[str, object] = {}

    def bind(name: str) -> object:
        if name not in bound:
            uses = getattr(classes[name].func_or_class, "uses", ())
            chosen = configured(classes[name], options)
            bound[name] = chosen.bind(*(bind(other) for other in uses))
        return bound[name]

    for name in classes:
        bind(name)
    return bound


def configured(deployment: serve.Deployment, options: dict[str, dict]) -> serve.Deployment:
    """The deployment with a profile's options for it (what Serve does to a config's)."""
    chosen = options.get(deployment.name)
    return deployment.options(**chosen) if chosen else deployment


def build(args: dict | None = None, options: dict[str, dict] | None = None):
    """The graph; `options`: deployment name -> a profile's options (Serve's config file
    fields), when it is deployed from Python rather than from the config."""
    options = options or {}
    models = bind_models(options)
    dispatcher = configured(DispatcherDeployment, options).bind(models)
    return configured(Ingress, options).bind(models=models, dispatcher=dispatcher)


def __getattr__(name: str):
    # `serve run serve_app.app:app` reads `app`; the replicas that only need this module's
    # classes (Dispatcher, Ingress) do not build the graph on import
    if name == "app":
        return build()
    raise AttributeError(name)
