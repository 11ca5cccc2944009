"""The one HTTP client: aiohttp, with deadlines, size caps, conditional GET and an address policy.

Feed URLs come from the config and are trusted. Article links come from the
feeds and are not: unless ``private_networks`` is set, they go through a
guarded connection pool whose resolver refuses any address that is not
globally routable, checked when the connection is made, at every redirect
hop. The two pools are kept apart so that a connection opened to a trusted
private host is never reused for an untrusted link.

aiohttp's exceptions are translated here into monitor.errors.FetchError.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Callable, Mapping

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from monitor.errors import (
    BlockedAddress,
    ConnectionFailed,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    ResponseTooLarge,
    TooManyRedirects,
)

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, "
               "text/xml;q=0.8, */*;q=0.5")
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Limits:
    timeout: float = 30.0              # total deadline per request, redirects included
    connect_timeout: float = 10.0
    max_bytes: int = 10 * 1024 * 1024  # counted after decompression
    max_redirects: int = 5
    connections: int = 32              # all hosts together
    per_host: int = 4                  # politeness


@dataclass(frozen=True)
class Response:
    url: str                           # the final URL, after redirects
    status: int
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def charset(self) -> str | None:
        content_type = self.headers.get("content-type", "")
        for part in content_type.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                return value.strip("\"' ").lower()
        return None


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public(address: str) -> bool:
    """True for globally routable addresses; anything else (loopback, private, CGNAT...) is refused.
    IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are judged by it."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public(str(ip.ipv4_mapped))
        if int(ip) >> 32 == 0:   # IPv4-compatible (::a.b.c.d), also :: and ::1
            return is_public(str(ipaddress.IPv4Address(int(ip))))
        if ip in _NAT64:
            return is_public(str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
        if ip.sixtofour is not None and not is_public(str(ip.sixtofour)):
            return False
        if ip.teredo is not None and not is_public(str(ip.teredo[1])):
            return False
    return ip.is_global and not ip.is_multicast


class _GuardedResolver(ThreadedResolver):
    """Resolves like the system does, then refuses the name if any address is not allowed."""

    def __init__(self, allowed: Callable[[str], bool]):
        super().__init__()
        self.allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await super().resolve(host, port, family)
        for result in results:
            if not self.allowed(result["host"]):
                raise BlockedAddress(host, f"{host} resolves to non-public address {result['host']}")
        return results


class HttpClient:
    """Use as ``async with HttpClient(...) as client``; one per process."""

    def __init__(self, *, user_agent: str, private_networks: bool, limits: Limits = Limits(),
                 allowed: Callable[[str], bool] = is_public):
        self.user_agent = user_agent
        self.private_networks = private_networks
        self.limits = limits
        self.allowed = allowed   # the address policy for links: is_public, unless a test narrows it
        self._trusted: aiohttp.ClientSession | None = None
        self._guarded: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "HttpClient":
        self._trusted = self._session(resolver=None)
        self._guarded = self._trusted if self.private_networks else self._session(_GuardedResolver(self.allowed))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for session in {id(s): s for s in (self._trusted, self._guarded) if s}.values():
            await session.close()

    def _session(self, resolver: aiohttp.abc.AbstractResolver | None) -> aiohttp.ClientSession:
        """``resolver`` None: aiohttp's own (for the configured feeds, which are trusted)."""
        connector = aiohttp.TCPConnector(
            limit=self.limits.connections,
            limit_per_host=self.limits.per_host,
            resolver=resolver,
            ttl_dns_cache=60,
        )
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.limits.connect_timeout, sock_read=self.limits.timeout
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers={"User-Agent": self.user_agent},
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def get(
        self,
        url: str,
        *,
        trusted: bool,
        accept: str = PAGE_ACCEPT,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Response:
        """GET ``url``; a 304 comes back as a Response whose ``not_modified`` is True."""
        if self._trusted is None or self._guarded is None:
            raise RuntimeError("HttpClient used outside 'async with'")
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        guarded = not trusted and not self.private_networks
        session = self._guarded if guarded else self._trusted
        try:
            async with asyncio.timeout(self.limits.timeout):
                return await self._follow(session, url, headers, guarded)
        except TimeoutError:
            raise FetchTimeout(url, f"no complete response within {self.limits.timeout:g}s") from None

    async def _follow(self, session: aiohttp.ClientSession, url: str, headers: dict[str, str], guarded: bool
                      ) -> Response:
        current = url
        for _ in range(self.limits.max_redirects + 1):
            target = _checked_url(current, self.allowed if guarded else None)
            try:
                async with session.get(target, headers=headers, allow_redirects=False) as resp:
                    if resp.status in _REDIRECTS:
                        location = resp.headers.get("Location")
                        if not location:
                            raise HTTPStatusError(current, resp.status, "redirect without Location")
                        current = str(resp.url.join(URL(location)))
                        continue  # the redirect's own body is never read
                    if resp.status == 304:
                        return Response(str(resp.url), 304, _headers(resp), b"")
                    if not 200 <= resp.status < 300:
                        raise HTTPStatusError(current, resp.status, resp.reason or "",
                                              retry_after=resp.headers.get("Retry-After"))
                    body = await self._read_capped(resp, current)
                    return Response(str(resp.url), resp.status, _headers(resp), body)
            except FetchError:
                raise
            except aiohttp.ClientResponseError as exc:
                raise ConnectionFailed(current, f"bad response: {exc.message}") from None
            except aiohttp.ClientError as exc:
                raise ConnectionFailed(current, _describe_client_error(exc)) from None
            except (ValueError, UnicodeError) as exc:
                raise ConnectionFailed(current, f"invalid URL or response: {exc}") from None
        raise TooManyRedirects(url, f"more than {self.limits.max_redirects} redirects")

    async def _read_capped(self, resp: aiohttp.ClientResponse, url: str) -> bytes:
        cap = self.limits.max_bytes
        declared = resp.content_length
        if declared is not None and declared > cap and not resp.headers.get("Content-Encoding"):
            raise ResponseTooLarge(url, f"body of {declared} bytes is over the {cap}-byte cap")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > cap:
                raise ResponseTooLarge(url, f"body is over the {cap}-byte cap")
            chunks.append(chunk)
        return b"".join(chunks)


def _checked_url(url: str, allowed: Callable[[str], bool] | None) -> URL:
    """Refuse other schemes always, and literal addresses the policy refuses on guarded requests."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError) as exc:
        raise BlockedAddress(url, f"invalid URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise BlockedAddress(url, f"scheme {parsed.scheme or '(none)'!r} is not fetched")
    if not parsed.host:
        raise BlockedAddress(url, "URL has no host")
    if allowed is not None:
        host = parsed.host.strip("[]")
        literal = _ip_literal(host)
        if literal is not None and not allowed(literal):
            raise BlockedAddress(url, f"non-public address {host}")
    return parsed


def _ip_literal(host: str) -> str | None:
    """The address a literal host means, including legacy IPv4 forms such as 2130706433 or 0x7f.1."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def _headers(resp: aiohttp.ClientResponse) -> dict[str, str]:
    return {k.lower(): v for k, v in resp.headers.items()}


def _describe_client_error(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "TLS certificate not valid"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "host name does not resolve"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "broken or undecodable body"
    return f"{type(exc).__name__}: {exc}"
