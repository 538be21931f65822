"""The one-machine Ray `photoserve run` starts: its node's address is loopback (as Ray does on
macOS), so its servers and agents listen on 127.0.0.1 only. On Linux Ray otherwise takes the
machine's network address and binds every interface, where three of its Prometheus exporters
answer without the cluster's token. Tools attaching to that Ray (benchmarks, tests) must see
the node the same way, or they look for it at the network address."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ADDRESS_FILE = "ray.address"
ENVIRONMENT = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def address(data_dir: Path) -> str:
    """The GCS address of the Ray a run on `data_dir` started (written by its driver; "auto"
    may find another photoserve's)."""
    return (data_dir / ADDRESS_FILE).read_text().strip()


def connect(data_dir: Path) -> None:
    """Attach this process to that Ray as a driver, in Serve's namespace."""
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    # connecting by address sends the local cluster's token only when told
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    import ray
    from ray._raylet import Config

    # Ray reads both when first imported, maybe before this: tell it again, as it does itself
    sys.modules["ray._private.ray_constants"].ENABLE_RAY_CLUSTER = False
    Config.initialize("")
    ray.init(address=address(data_dir), namespace="serve", log_to_driver=False)
