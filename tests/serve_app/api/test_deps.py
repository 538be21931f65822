"""Who is calling: the client address behind the local proxy."""

from __future__ import annotations


def test_the_client_address_behind_the_local_proxy():
    from starlette.requests import Request

    from serve_app.api.deps import client_ip

    def request(peer: str, forwarded: str | None) -> Request:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        return Request({"type": "http", "client": (peer, 1234), "headers": headers})

    assert client_ip(request("127.0.0.1", "6.6.6.6, 203.0.113.7")) == "203.0.113.7"
    assert client_ip(request("127.0.0.1", None)) == "127.0.0.1"
    assert client_ip(request("198.51.100.2", "203.0.113.7")) == "198.51.100.2"  # not our proxy
