"""Outgoing HTTP for webhooks and chat robots: timeouts, no redirects, a capped answer, no private targets.

A subscription's URL is chosen by an app admin, and the server posts to it: left
unguarded, that lets anyone who can make a webhook probe the server's own network
(SSRF). So a target must be http(s), and every address its host resolves to must
be a public one, unless the operator allows private targets
(`OPSLOOM_OUTBOUND_ALLOW_PRIVATE`, for an intranet ERP or a test receiver).
The check runs when the URL is saved (a literal address) and again before every
request (names can resolve differently later).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

MAX_ANSWER_BYTES = 64 * 1024  # what is read of a receiver's answer; the rest is dropped
KEPT_ANSWER_CHARS = 2000  # what the delivery log keeps of it


class OutboundRefused(Exception):
    """The target may not be called at all; retrying will not help."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    duration_ms: int

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")[:KEPT_ANSWER_CHARS]


def url_problem(url: object, allow_private: bool) -> str | None:
    """What is wrong with a target URL as written (None: nothing), before any name is resolved."""
    if not isinstance(url, str) or len(url) > 2000:
        return "give an http(s) URL of at most 2000 characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "give an http(s) URL with a host, e.g. https://example.com/hooks/opsloom"
    if parts.username or parts.password:
        return "must not carry a user name or password; put credentials in the secret"
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return None  # a name: checked when it is resolved
    if not allow_private and not address.is_global:
        return "is a private, loopback or reserved address; the server may only call public addresses"
    return None


async def check_target(url: str, allow_private: bool) -> None:
    """Refuse a URL whose host resolves to any non-public address (unless allowed)."""
    problem = url_problem(url, allow_private)
    if problem:
        raise OutboundRefused(f"{url}: {problem}")
    if allow_private:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise OutboundRefused(f"{parts.hostname} does not resolve: {error}") from None
    for *_, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0])
        if not address.is_global:
            raise OutboundRefused(f"{parts.hostname} resolves to {address}, which is not a public address")


class Outbound:
    """One HTTP client for a worker's round: sends JSON, never follows redirects."""

    def __init__(self, *, allow_private: bool, timeout: float) -> None:
        self.allow_private = allow_private
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"User-Agent": "Opsloom-Webhooks/1"},
            trust_env=False,  # a proxy from the environment would bypass the address check
        )

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        return await self.request("POST", url, body, headers)

    async def request(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        """One request (an automation's HTTP call may use any method); the target is checked first."""
        await check_target(url, self.allow_private)
        started = time.perf_counter()
        async with self._client.stream(method, url, content=body or None, headers=headers) as response:
            read = bytearray()
            async for chunk in response.aiter_bytes():
                read += chunk[: MAX_ANSWER_BYTES - len(read)]
                if len(read) >= MAX_ANSWER_BYTES:
                    break
        return Answer(response.status_code, bytes(read), int((time.perf_counter() - started) * 1000))

    async def close(self) -> None:
        await self._client.aclose()
