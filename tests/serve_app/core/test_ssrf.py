"""The SSRF corpus: every spelling of loopback, private, link-local and cloud-metadata
addresses, non-http schemes, credentials in the URL, redirects to forbidden targets and a DNS
answer that changes between the check and the connection, against the fetcher and through
every URL the server takes (image_url natively and on PicWish and ProductAI, webhook URLs).
A listener on the forbidden address counts the connections that reached it: none may."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from loadtest.photos import photo_bytes
from serve_app.core import fetch
from serve_app.core.errors import InvalidUrl, UrlFetchFailed, UrlNotAllowed
from serve_app.process.embedded_redis import free_port
from tests.helpers.http import assert_error

IMAGE = photo_bytes(size=32)
REFUSED = (UrlNotAllowed, InvalidUrl, UrlFetchFailed)  # all documented 400s


class Listener:
    """A server on a forbidden address that counts who reached it (and answers a photo)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.reached = 0
        self.servers: list[asyncio.Server] = []

    async def _answer(self, reader, writer) -> None:
        self.reached += 1
        await reader.read(1024)
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(IMAGE)}\r\n\r\n".encode()
        writer.write(head + IMAGE)
        await writer.drain()
        writer.close()

    async def start(self, hosts=("127.0.0.1", "::1")) -> Listener:
        for host in hosts:
            try:
                self.servers.append(await asyncio.start_server(self._answer, host, self.port))
            except OSError:  # no IPv6 loopback here
                continue
        return self

    async def stop(self) -> None:
        for server in self.servers:
            server.close()


@pytest.fixture
async def forbidden() -> AsyncIterator[Listener]:
    listener = await Listener().start()
    yield listener
    await listener.stop()


def spellings(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/a.png",
        f"http://2130706433:{port}/a.png",  # decimal
        f"http://0x7f000001:{port}/a.png",  # hex
        f"http://0177.0.0.1:{port}/a.png",  # octal
        f"http://127.1:{port}/a.png",  # short
        f"http://0.0.0.0:{port}/a.png",
        f"http://0:{port}/a.png",
        f"http://[::1]:{port}/a.png",
        f"http://[::ffff:127.0.0.1]:{port}/a.png",
        f"http://[::ffff:7f00:1]:{port}/a.png",
        f"http://localhost:{port}/a.png",
        f"http://LocalHost.:{port}/a.png",
        f"http://user:secret@127.0.0.1:{port}/a.png",
        f"https://127.0.0.1:{port}/a.png",
    ]


ELSEWHERE = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://10.0.0.1/a.png",
    "http://172.16.0.1/a.png",
    "http://192.168.1.1/a.png",
    "http://100.64.0.1/a.png",  # carrier-grade NAT
    "http://[fe80::1]/a.png",
    "http://[fd00::1]/a.png",
    "http://224.0.0.1/a.png",
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/_x",
    "ftp://127.0.0.1/a.png",
    "dict://127.0.0.1:11211/stat",
    "//127.0.0.1/a.png",
    "http:///a.png",
]


async def get(url: str) -> bytes:
    return await fetch.fetch_image(
        url, max_bytes=1_000_000, timeout_s=3, max_redirects=3, allow_private=False
    )


async def test_every_spelling_is_refused_and_nothing_connects(forbidden):
    for url in spellings(forbidden.port) + ELSEWHERE:
        with pytest.raises(REFUSED):
            await get(url)
    assert forbidden.reached == 0


async def test_the_listener_does_count(forbidden):
    data = await fetch.fetch_image(
        f"http://127.0.0.1:{forbidden.port}/a.png",
        max_bytes=1_000_000,
        timeout_s=3,
        max_redirects=0,
        allow_private=True,
    )
    assert data == IMAGE and forbidden.reached == 1


@asynccontextmanager
async def public_redirector(location: str):
    """A server on 127.0.0.2 that the test's address check treats as public, redirecting."""
    hits = []

    async def answer(reader, writer):
        hits.append(await reader.read(1024))
        writer.write(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    port = free_port()
    server = await asyncio.start_server(answer, "127.0.0.2", port)
    try:
        yield f"http://127.0.0.2:{port}/start", hits
    finally:
        server.close()


@pytest.fixture
def public_127_0_0_2(monkeypatch):
    checked = fetch._is_public
    monkeypatch.setattr(fetch, "_is_public", lambda a: a == "127.0.0.2" or checked(a))


async def test_redirects_to_forbidden_targets_are_refused(forbidden, public_127_0_0_2):
    for target in spellings(forbidden.port)[:9] + ELSEWHERE[:3]:
        async with public_redirector(target) as (start, hits):
            with pytest.raises(REFUSED):
                await get(start)
        assert hits, "the first, public hop was followed"
    assert forbidden.reached == 0


async def test_a_dns_answer_that_changes_after_the_check_is_not_used(
    forbidden, public_127_0_0_2, monkeypatch
):
    """A resolver the test controls: the check sees a public address, any later lookup the
    forbidden one. The connection goes to the checked address, so the second answer is
    never used."""
    answers = []

    async def rebinding(host: str, port: int) -> list[str]:
        answers.append(host)
        return ["127.0.0.2"] if len(answers) == 1 else ["127.0.0.1"]

    monkeypatch.setattr(fetch, "_resolve", rebinding)
    real_getaddrinfo = socket.getaddrinfo

    def refuse_lookups(host, *args, **kwargs):  # a client that resolved again would land here
        if host == "rebind.test":
            return real_getaddrinfo("127.0.0.1", *args, **kwargs)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookups)
    async with public_redirector("/image") as (start, hits):
        port = start.split(":")[2].split("/")[0]
        with pytest.raises(REFUSED):
            await get(f"http://rebind.test:{port}/start")
    assert hits and hits[0].startswith(b"GET /start")  # reached the checked address
    assert forbidden.reached == 0


@pytest.fixture
def settings(redis_server, tmp_path, weights_dir):
    from tests.helpers.runtime import make_settings

    return make_settings(redis_server, tmp_path, weights_dir)


async def test_every_way_in_refuses_them(client, auth, forbidden):
    corpus = spellings(forbidden.port)[:10]
    for url in corpus:
        native = await client.post("/v1/upscale", headers=auth, json={"image_url": url})
        assert native.json()["error"] in ("url_not_allowed", "invalid_url"), url
        hook = await client.put("/v1/webhook", headers=auth, json={"url": url})
        assert hook.json()["error"] in ("url_not_allowed", "invalid_url"), url
        picwish = await client.post(
            "/api/tasks/visual/scale", headers=auth, data={"image_url": url, "sync": "1"}
        )
        assert picwish.status_code == 400 and "url" in picwish.text.lower(), url
        product = await client.post(
            "/v1/api/generate",
            headers=auth,
            json={"model": "nanobanana", "prompt": "x", "image_url": url},
        )
        assert product.status_code in (400, 422) or product.json().get("status") != "OK", url
    assert_error(
        await client.post("/v1/upscale", headers=auth, json={"image_url": "file:///etc/passwd"}),
        400,
        "invalid_url",
    )
    assert forbidden.reached == 0
