"""A Ray worker setup hook for the laptop profile: what Serve binds on every interface listens
on loopback only. HAProxy's stats page and Prometheus exporter answer without any token; each
replica's inter-deployment gRPC server (`[::]:0`, unused here: handles go through Ray) checks
Ray's cluster token. Ray's own servers follow the node's address, loopback on one machine
(serve_app/process/runner.py), and the HTTP front end follows `http_options.host`."""

from __future__ import annotations

import sys

_BINDS = {
    "bind :{{ config.metrics_port }}": "bind 127.0.0.1:{{ config.metrics_port }}",
    "bind *:{{ config.stats_port }}": "bind 127.0.0.1:{{ config.stats_port }}",
}
_EVERY_INTERFACE = ("[::]:", "0.0.0.0:")


def setup() -> None:
    _haproxy_template()
    _replica_grpc_port()


def _haproxy_template() -> None:
    from ray.serve._private import haproxy_templates as templates

    text = templates.HAPROXY_CONFIG_TEMPLATE
    for wide, local in _BINDS.items():
        text = text.replace(wide, local)
    templates.HAPROXY_CONFIG_TEMPLATE = text
    manager = sys.modules.get("ray.serve._private.haproxy")
    if manager is not None:  # imported before this hook ran: it holds its own copy
        manager.HAPROXY_CONFIG_TEMPLATE = text


def on_loopback(address: str) -> str:
    for wide in _EVERY_INTERFACE:
        if address.startswith(wide):
            return "127.0.0.1:" + address[len(wide) :]
    return address


def _replica_grpc_port() -> None:
    from ray._common import tls_utils

    add_port = tls_utils.add_port_to_grpc_server

    def add_port_on_loopback(server, address):
        return add_port(server, on_loopback(address))

    tls_utils.add_port_to_grpc_server = add_port_on_loopback
    replica = sys.modules.get("ray.serve._private.replica")
    if replica is not None:  # imported before this hook ran: it holds its own reference
        replica.add_port_to_grpc_server = add_port_on_loopback
