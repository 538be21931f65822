"""What every single-model deployment shares: settings and logs, the catalog, the device it
was given, and the first model of its operation whose weights are on disk (the others, and
why they are not loaded, are reported by `status`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, ClassVar

import ray

from deployments.common import memory
from serve_app.core import logs
from serve_app.core.catalog import Catalog, ModelSpec
from serve_app.core.settings import get_settings

log = logging.getLogger("photoserve.replica")


class ModelNotLoaded(RuntimeError):
    """Asked for a model this replica has no weights for."""


def replica_resources() -> tuple[float, float]:
    """(CPUs, GPUs) Serve gave this replica. No CPU among them is num_cpus 0, a replica on
    the shared cores (the laptop profile), which gets every core (device.cpu_threads)."""
    if not ray.is_initialized():  # direct use in tests: asking the context would start Ray
        return float(os.cpu_count() or 1), 0.0
    try:
        assigned = ray.get_runtime_context().get_assigned_resources()
    except Exception:  # not inside Ray (direct use in tests)
        return float(os.cpu_count() or 1), 0.0
    return float(assigned.get("CPU", 0.0)), float(assigned.get("GPU", 0.0))


def setup() -> tuple[Catalog, Any]:
    """Logs, the model catalog and the device this replica was given."""
    from deployments.common import device

    settings = get_settings()
    logs.configure(settings.log_format, settings.log_level)
    memory.one_arena()
    catalog = Catalog.load(settings.models_file, settings.user_models_file, settings.weights)
    return catalog, device.configure(*replica_resources())


class ModelReplica(memory.Measured):
    operation: ClassVar[str]

    def __init__(self) -> None:
        self.catalog, self.device = setup()
        self.missing: dict[str, str] = {}
        self.network_name: str | None = None
        self.network = self._load_first()
        # memory a job took comes back once the replica is idle (deployments/common/memory.py)
        self.jobs = memory.Jobs(self.release)
        self.jobs.give_back()

    def release(self) -> None:
        """Cached device memory back to the device (CUDA); the heap is trimmed after."""
        if self.device.kind == "cuda":
            import torch

            torch.cuda.empty_cache()

    def load(self, spec: ModelSpec, path: Path) -> Any:
        raise NotImplementedError

    @staticmethod
    def parse_config(user_config: dict[str, Any]) -> Any:
        """The deployment's user_config, checked (override where there is something to tune:
        the config tests and every reconfigure read it through here)."""
        if user_config:
            raise ValueError(f"no user_config keys are accepted; got {sorted(user_config)}")
        return None

    def unusable(self, spec: ModelSpec) -> str | None:
        """Why a model with weights on disk still cannot be loaded here, if it cannot."""
        return None

    def _load_first(self) -> Any:
        for spec in self.catalog.for_operation(self.operation):
            path = spec.weights_path(self.catalog.weights_dir)
            problem = None if self.catalog.available(spec) else f"weights not found: {path}"
            problem = problem or self.unusable(spec)
            if problem:
                self.missing[spec.name] = problem
                continue
            self.network_name = spec.name
            log.info("%s: loading %s on %s", self.operation, spec.name, self.device)
            return self.load(spec, path)
        return None

    def require_network(self) -> Any:
        if self.network is None:
            raise ModelNotLoaded(f"no {self.operation} weights are loaded on this replica")
        return self.network

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "loaded": [self.network_name] if self.network is not None else [],
            "missing": self.missing,
            "device": self.device.kind,
            "threads": self.device.threads,
            **memory.figures(),
        }
