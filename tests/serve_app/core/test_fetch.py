"""image_url fetching: loopback/private targets refused, size and time capped."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from loadtest.photos import photo_bytes
from serve_app.core.errors import ImageTooLarge, InvalidUrl, UrlFetchFailed, UrlNotAllowed
from serve_app.core.fetch import _is_public, fetch_image

IMAGE = photo_bytes(size=32)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/image.png":
            self._send(200, IMAGE)
        elif self.path == "/big":
            self._send(200, b"x" * 50_000)
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/image.png")
            self.end_headers()
        elif self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
        elif self.path == "/slow":
            threading.Event().wait(3)
            self._send(200, IMAGE)
        else:
            self._send(404, b"nope")

    def _send(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def fetch(url, **overrides):
    options = dict(max_bytes=10_000, timeout_s=2.0, max_redirects=3, allow_private=True)
    options.update(overrides)
    return fetch_image(url, **options)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("224.0.0.1", False),
    ],
)
def test_public_address_check(address, public):
    assert _is_public(address) is public


async def test_loopback_is_refused_by_default(server):
    with pytest.raises(UrlNotAllowed):
        await fetch(f"{server}/image.png", allow_private=False)


async def test_localhost_name_is_refused_by_default():
    with pytest.raises(UrlNotAllowed):
        await fetch("http://localhost:9/x.png", allow_private=False)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/a.png", "file:///etc/passwd", "not a url", "http:///x"]
)
async def test_only_http_urls(url):
    with pytest.raises(InvalidUrl):
        await fetch(url)


async def test_fetch_and_follow_redirect_when_private_allowed(server):
    assert await fetch(f"{server}/image.png") == IMAGE
    assert await fetch(f"{server}/redirect") == IMAGE


async def test_redirect_loop_stops(server):
    with pytest.raises(UrlFetchFailed, match="redirected"):
        await fetch(f"{server}/loop")


async def test_size_cap(server):
    with pytest.raises(ImageTooLarge):
        await fetch(f"{server}/big")


async def test_time_cap(server):
    started = asyncio.get_running_loop().time()
    with pytest.raises(UrlFetchFailed, match="did not answer"):
        await fetch(f"{server}/slow", timeout_s=0.5)
    assert asyncio.get_running_loop().time() - started < 2.5


async def test_http_error_status(server):
    with pytest.raises(UrlFetchFailed, match="404"):
        await fetch(f"{server}/missing")


async def test_unresolvable_host():
    with pytest.raises(UrlFetchFailed):
        await fetch("http://no-such-host.invalid/x.png")
