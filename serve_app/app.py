"""The Ray Serve application: Ingress (FastAPI) + Dispatcher + one deployment per model family.

    serve run configs/serve.cpu.yaml      # import_path: serve_app.app:app

Model calls go through DeploymentHandles; the deployments' model code imports torch inside
the replicas only, so building this graph needs no torch.
"""

from __future__ import annotations

import asyncio
import logging
import os

from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.background.background_remover import BackgroundRemover
from deployments.erase.eraser import Eraser
from deployments.faces.face_restorer import FaceRestorer
from deployments.inpaint.inpainter import Inpainter
from deployments.segment.segmenter import Segmenter
from deployments.upscale.upscaler import Upscaler
from serve_app.api.deps import use_model_status
from serve_app.core import logs
from serve_app.core.catalog import Catalog
from serve_app.core.runtime import Runtime
from serve_app.core.settings import get_settings
from serve_app.engine import maintenance
from serve_app.engine.backends import (
    EnhanceHandleBackend,
    FaceHandleBackend,
    MaskedHandleBackend,
    MaskResultHandleBackend,
    UpscaleHandleBackend,
)
from serve_app.engine.dispatcher import Dispatcher
from serve_app.ingress import app as fastapi_app
from serve_app.webhooks.delivery import WebhookWorker

log = logging.getLogger("photoserve.app")
STATUS_TIMEOUT_S = 3.0
# the catalog operations each model deployment serves: a deployment scaled to zero is not
# asked for its status (that would start a replica); its models are reported idle (None)
DEPLOYMENT_OPERATIONS = {
    "Upscaler": ("upscale",),
    "FaceRestorer": ("restore-face", "face-detect"),
    "BackgroundRemover": ("remove-background",),
    "Segmenter": ("segment",),
    "Eraser": ("erase-object",),
    "Inpainter": ("inpaint",),
}


def replica_counts(app_name: str) -> dict[str, int]:
    """Deployment -> replicas in any state (starting ones count: they are not scaled to 0)."""
    app = serve.status().applications.get(app_name)
    if app is None:
        return {}
    return {name: sum(d.replica_states.values()) for name, d in app.deployments.items()}


def idle_models(catalog: Catalog, counts: dict[str, int]) -> dict[str, None]:
    idle = [
        op for name, ops in DEPLOYMENT_OPERATIONS.items() if counts.get(name) == 0 for op in ops
    ]
    return {spec.name: None for spec in catalog.specs.values() if spec.operation in idle}


def make_backends(models: dict[str, DeploymentHandle]) -> dict:
    """operation -> how the dispatcher reaches its model deployment(s)."""
    segmenter = models["Segmenter"]
    return {
        "upscale": UpscaleHandleBackend(models["Upscaler"]),
        "restore-face": FaceHandleBackend(models["FaceRestorer"]),
        "remove-background": MaskResultHandleBackend(
            models["BackgroundRemover"], always_mask=False
        ),
        "segment": MaskResultHandleBackend(segmenter, always_mask=True),
        "erase-object": MaskedHandleBackend(models["Eraser"], segmenter),
        "inpaint": MaskedHandleBackend(models["Inpainter"], segmenter),
        "enhance": EnhanceHandleBackend(models["Upscaler"]),
    }


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
        backends = make_backends(models)
        self.dispatcher = Dispatcher(self.rt, backends, consumer)
        base_url = settings.public_base_url or f"http://{settings.host}:{settings.port}"
        self.webhooks = WebhookWorker(self.rt, consumer, base_url)
        loop = asyncio.get_running_loop()
        self.starting = loop.create_task(self._start())
        self.housekeeping = loop.create_task(self._keep_house([*backends]))

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

    def reconfigure(self, user_config: dict) -> None:
        """`slots`: operation -> jobs in flight at once (configs/serve*.yaml)."""
        self.dispatcher.resize((user_config or {}).get("slots") or {})

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


@serve.deployment(name="Ingress", max_ongoing_requests=1000)
@serve.ingress(fastapi_app)
class Ingress:
    def __init__(self, models: list[DeploymentHandle], dispatcher: DeploymentHandle):
        settings = get_settings()
        logs.configure(settings.log_format, settings.log_level)
        self.models = models
        self.dispatcher = dispatcher
        self.catalog = Catalog.load(
            settings.models_file, settings.user_models_file, settings.weights
        )
        self.app_name = serve.get_replica_context().app_name
        use_model_status(self.model_status)

    async def model_status(self) -> dict[str, bool | None]:
        """Which models the model deployments have loaded (False: listed but missing; None:
        its deployment is scaled to zero and loads it on the next request)."""
        try:
            counts = await asyncio.to_thread(replica_counts, self.app_name)
        except Exception:
            log.warning("serve status unavailable", exc_info=True)
            counts = {}
        loaded: dict[str, bool | None] = idle_models(self.catalog, counts)
        for handle in self.models:
            if counts.get(handle.deployment_name) == 0:
                continue
            try:
                status = await asyncio.wait_for(handle.status.remote(), STATUS_TIMEOUT_S)
            except Exception:
                log.warning("%s status unavailable", handle.deployment_name, exc_info=True)
                continue
            loaded.update(dict.fromkeys(status["missing"], False))
            loaded.update(dict.fromkeys(status["loaded"], True))
        return loaded


def build(args: dict | None = None):
    upscaler = Upscaler.bind()
    models = {
        "Upscaler": upscaler,
        "FaceRestorer": FaceRestorer.bind(upscaler),
        "BackgroundRemover": BackgroundRemover.bind(),
        "Segmenter": Segmenter.bind(),
        "Eraser": Eraser.bind(),
        "Inpainter": Inpainter.bind(),
    }
    dispatcher = DispatcherDeployment.bind(models)
    return Ingress.bind(models=list(models.values()), dispatcher=dispatcher)


app = build()
