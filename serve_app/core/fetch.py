"""Fetch an `image_url` without becoming a proxy into the private network (SSRF guard).

The host is resolved once, every address is checked, and the connection goes to the checked
address (Host header and TLS server name kept), so a DNS answer cannot change between the
check and the request. Redirects are followed by hand and checked the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from contextlib import aclosing
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from serve_app.core.errors import ImageTooLarge, InvalidUrl, UrlFetchFailed, UrlNotAllowed


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UrlFetchFailed(f"The host {host!r} cannot be resolved.") from exc
    return sorted({info[4][0] for info in infos})


async def check_url(url: str, allow_private: bool, what: str = "image_url") -> tuple[str, str, int]:
    """(hostname, checked address, port) of an http(s) URL whose every address is public."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidUrl(f"{what} is not a valid URL.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidUrl(f"{what} must be an absolute http or https URL.")
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl(f"{what} must not carry credentials (user:password@).")
    addresses = await _resolve(parts.hostname, port)
    if not allow_private and not all(_is_public(a) for a in addresses):
        raise UrlNotAllowed(
            f"{what} points to a loopback, private or link-local address (an operator allows "
            "private targets with PHOTOSERVE_ALLOW_PRIVATE_URLS=1)."
        )
    return parts.hostname, addresses[0], port


async def pinned_request(
    client: httpx.AsyncClient, method: str, url: str, allow_private: bool, what: str, **kwargs
) -> httpx.Request:
    """A request that connects to the address that was checked, not to a fresh DNS answer."""
    hostname, address, port = await check_url(url, allow_private, what)
    headers = {"Host": urlsplit(url).netloc, **kwargs.pop("headers", {})}
    extensions = {"sni_hostname": hostname}
    return client.build_request(
        method, _pinned_url(url, address, port), headers=headers, extensions=extensions, **kwargs
    )


def _pinned_url(url: str, address: str, port: int) -> str:
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    return urlunsplit((parts.scheme, f"{host}:{port}", parts.path or "/", parts.query, ""))


async def fetch_image(
    url: str, *, max_bytes: int, timeout_s: float, max_redirects: int, allow_private: bool
) -> bytes:
    try:
        async with asyncio.timeout(timeout_s):
            return await _fetch(url, max_bytes, timeout_s, max_redirects, allow_private)
    except TimeoutError as exc:
        raise UrlFetchFailed(f"image_url did not answer within {timeout_s:g} s.") from exc


async def _fetch(url, max_bytes, timeout_s, max_redirects, allow_private) -> bytes:
    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False, verify=True) as client:
        for _ in range(max_redirects + 1):
            request = await pinned_request(
                client,
                "GET",
                url,
                allow_private,
                "image_url",
                headers={"User-Agent": "photoserve-fetch/1"},
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise UrlFetchFailed(f"image_url could not be read: {type(exc).__name__}.") from exc
            async with aclosing(response):
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise UrlFetchFailed(f"image_url answered HTTP {response.status_code}.")
                return await _read_capped(response, max_bytes)
    raise UrlFetchFailed("image_url redirected too many times.")


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ImageTooLarge(f"image_url is {declared} bytes; the limit is {max_bytes} bytes.")
    chunks, total = [], 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise ImageTooLarge(f"image_url is larger than the limit of {max_bytes} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)
