"""Start the whole service the way a user does (`photoserve run`) in a scratch data dir on a
free port, for benchmarks and end-to-end tests; stop it the way a terminal's Ctrl-C does
(SIGINT to its process group)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from serve_app.process import local_ray
from serve_app.process.embedded_redis import free_port

ROOT = Path(__file__).resolve().parent.parent


class ServiceFailed(RuntimeError):
    pass


@contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A folder for one benchmark run, removed after it: its weights and data are GBs."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class LocalService:
    data_dir: Path
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    startup_s: float = 0.0
    handles: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "run.log"

    def start(self, timeout_s: float = 240) -> LocalService:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSERVE_")}
        env.pop("REDIS_URL", None)
        env.update(
            PHOTOSERVE_DATA_DIR=str(self.data_dir),
            PHOTOSERVE_PORT=str(self.port),
            PHOTOSERVE_ADMIN_TOKEN=self.admin_token,
            PYTHONUNBUFFERED="1",
        )
        env.update(self.env)
        started = time.monotonic()
        with open(self.log_path, "w") as log:
            command = [sys.executable, "-m", "serve_app.process.cli", "run"]
            self.process = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,  # a terminal of its own: interrupt() is its Ctrl-C
            )
        self._wait_ready(timeout_s)
        self.startup_s = time.monotonic() - started
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceFailed("photoserve run exited:\n" + self.log_tail())
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise ServiceFailed("service not ready in time:\n" + self.log_tail())

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text()[-chars:] if self.log_path.exists() else ""

    def interrupt(self) -> None:
        """What Ctrl-C in its terminal does: SIGINT to the whole foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)

    def stop(self, timeout_s: float = 120) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.interrupt()
        return self.process.wait(timeout_s)

    def connect(self) -> None:
        """Attach this process to the service's Ray, for its deployment handles."""
        local_ray.connect(self.data_dir)

    def handle(self, deployment: str):
        """A DeploymentHandle into the application (after connect()), closed by disconnect()."""
        from ray import serve

        if deployment not in self.handles:
            self.handles[deployment] = serve.get_deployment_handle(deployment, "photoserve")
        return self.handles[deployment]

    def disconnect(self) -> None:
        """Close the handles first: their routers' metrics tasks would outlive Ray and log an
        error every half second."""
        import ray

        for handle in self.handles.values():
            handle.shutdown()
        self.handles.clear()
        ray.shutdown()

    def create_account(self, credits: int = 1000, plan: str = "enterprise") -> dict:
        response = httpx.post(
            f"{self.url}/admin/accounts",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            json={"credits": credits, "plan": plan},
        )
        response.raise_for_status()
        return response.json()
