"""Serve pickles the FastAPI app into the Ingress replica and re-analyses its routes there
(make_fastapi_class_based_view). A route that only works before that is a route that fails
in production: every submit route must still see `request` as the request, not a query
parameter."""

from __future__ import annotations

import pytest
import ray.cloudpickle as cloudpickle
from fastapi.testclient import TestClient
from ray.serve._private.http_util import make_fastapi_class_based_view

from serve_app import operations

NATIVE = [f"/v1/{name}" for name in operations.names()]
SUBMIT_ROUTES = [*NATIVE, *("/api" + path for path in NATIVE), "/api/upload/", "/api/uploadv2/"]


@pytest.fixture(scope="module")
def replica_app():
    from serve_app import ingress
    from serve_app.app import Ingress

    copy = cloudpickle.loads(cloudpickle.dumps(ingress.app))
    make_fastapi_class_based_view(copy, Ingress.func_or_class)
    return TestClient(copy, raise_server_exceptions=False)


@pytest.mark.parametrize("path", SUBMIT_ROUTES)
def test_routes_survive_the_trip_into_the_replica(replica_app, path):
    response = replica_app.post(path)
    assert "query." not in response.text, response.text
    assert response.status_code != 404
