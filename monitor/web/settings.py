"""The ``[web]`` section: where to listen, the token, and when the daemon counts as stale.

Checked in full when the config loads, each fault naming its key. Off the
loopback the page shows what monitor found to anyone who can reach it, so a
token is required there: literal, ``${VAR}`` or ``token_file``. The token is
left out of every repr and never repeated in a message.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from monitor.fields import Duration, Name, Section
from monitor.indirect import expand_env, read_beside

_LISTEN = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]+)):(?P<port>\d{1,5})")
MIN_TOKEN = 16
EXAMPLE = '"127.0.0.1:8080"'
STALE_AFTER = timedelta(minutes=1)   # no tick for this long: /healthz says the daemon is stuck


class WebSection(Section):
    """The ``[web]`` table, as written; ``read_web`` resolves it."""

    listen: Name | None = None
    token: Name | None = None
    token_file: Name | None = None
    stale_after: Duration = STALE_AFTER


@dataclass(frozen=True)
class WebConfig:
    host: str | None = None           # None: the page is off
    port: int = 8080
    token: str | None = field(default=None, repr=False)
    stale_after: timedelta = STALE_AFTER

    @property
    def enabled(self) -> bool:
        return self.host is not None

    @property
    def loopback(self) -> bool:
        return self.host is not None and is_loopback(self.host)

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if self.host and ":" in self.host else f"{self.host}:{self.port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_listen(value: str) -> tuple[str, int]:
    """'127.0.0.1:8080', '[::1]:8080' or 'localhost:8080' -> (host, port); ValueError with the reason."""
    found = _LISTEN.fullmatch(value.strip())
    if not found:
        raise ValueError(f"bad address {value!r}: use HOST:PORT, e.g. {EXAMPLE}")
    host, port = found["v6"] or found["host"], int(found["port"])
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"bad address {value!r}: the host must be an IP address or localhost, "
                             f"e.g. {EXAMPLE}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"bad address {value!r}: the port must be 1 to 65535")
    return host, port


def read_web(section: WebSection, environ: dict[str, str], folder: Path) -> tuple[WebConfig, list[str]]:
    """The section (already schema-checked: ``listen``, ``token``, ``token_file``, ``stale_after``) -> WebConfig."""
    problems: list[str] = []
    listen, token, token_file = section.listen, section.token, section.token_file
    host, port = None, 8080
    if listen is not None:
        try:
            host, port = parse_listen(listen)
        except ValueError as exc:
            problems.append(f"web.listen: {exc}")
    secret: str | None = None
    problem: str | None = None
    if token is not None and token_file is not None:
        problems.append("web.token_file: set 'token' or 'token_file', not both")
    elif token is not None:
        where = "web.token"
        secret, problem = expand_env(token, environ)
    elif token_file is not None:
        where = "web.token_file"
        text, problem = read_beside(token_file, folder)
        secret = text.strip() if text is not None else None
    if problem is not None:
        problems.append(f"{where}: {problem}")
    if secret is not None and len(secret) < MIN_TOKEN:
        problems.append(f"{where}: the token is too short ({len(secret)} characters): use at least {MIN_TOKEN}, "
                        "e.g. from `openssl rand -hex 16`")
        secret = None
    if host is not None and not is_loopback(host) and secret is None and not problems:
        problems.append(f"web.listen: {listen} is not a loopback address: anyone who can reach it would see the "
                        "page; set web.token (or web.token_file), or listen on 127.0.0.1")
    return WebConfig(host, port, secret or None, section.stale_after), problems
