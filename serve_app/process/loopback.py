"""A Ray worker setup hook for the laptop profile: HAProxy's stats page and Prometheus
exporter, which Serve binds on every interface with no authentication, listen on loopback
only (the HTTP front end follows `http_options.host` already). Ray's own ports require its
cluster token; these two do not."""

from __future__ import annotations

_BINDS = {
    "bind :{{ config.metrics_port }}": "bind 127.0.0.1:{{ config.metrics_port }}",
    "bind *:{{ config.stats_port }}": "bind 127.0.0.1:{{ config.stats_port }}",
}


def setup() -> None:
    import sys

    from ray.serve._private import haproxy_templates as templates

    text = templates.HAPROXY_CONFIG_TEMPLATE
    for wide, local in _BINDS.items():
        text = text.replace(wide, local)
    templates.HAPROXY_CONFIG_TEMPLATE = text
    manager = sys.modules.get("ray.serve._private.haproxy")
    if manager is not None:  # imported before this hook ran: it holds its own copy
        manager.HAPROXY_CONFIG_TEMPLATE = text
