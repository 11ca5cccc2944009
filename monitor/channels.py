"""Channels from the config: apprise URLs, their secrets, and where those come from.

A channel is ``name = "URL"`` or ``name = ["URL", ...]``. Two ways keep tokens
out of config.toml: ``${VAR}`` is replaced by an environment variable, and
``name_file = "path"`` reads the channel's URLs from a file, one per line
(systemd's ``LoadCredential=`` puts such files in ``$CREDENTIALS_DIRECTORY``).
apprise judges every URL when the config loads; error messages never repeat
a URL, and ``ChannelTarget.url`` is left out of every repr.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from monitor.indirect import ENV_REF, expand_env, read_beside

FILE_SUFFIX = "_file"


@dataclass(frozen=True)
class ChannelTarget:
    """One apprise URL. ``key`` names it in the database; ``label`` is the URL with secrets masked."""

    channel: str
    key: str
    label: str
    url: str = field(repr=False)


@dataclass
class Channels:
    targets: list[ChannelTarget] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    literal_secrets: bool = False     # a secret written in the config file itself


def channel_names(channels: Any) -> set[str]:
    if not isinstance(channels, dict):
        return set()
    return {name.removesuffix(FILE_SUFFIX) if name.endswith(FILE_SUFFIX) else name for name in channels}


def read_channels(channels: Any, environ: dict[str, str], folder: Path) -> Channels:
    result = Channels()
    if not isinstance(channels, dict) or not channels:
        return result
    import apprise  # imported here: it costs ~0.4 s and only channel checks need it

    for name, value in channels.items():
        sources: list[tuple[str, object, bool]]   # (key, URL as written, written in the config itself)
        if name.endswith(FILE_SUFFIX):
            channel = name.removesuffix(FILE_SUFFIX)
            if channel in channels:
                result.problems.append(f"channels.{name}: set '{channel}' or '{name}', not both")
                continue
            urls, problem = _urls_from_file(value, folder)
            if problem:
                result.problems.append(f"channels.{name}: {problem}")
                continue
            sources = [(f"channels.{name} line {n}", url, False) for n, url in urls]
        else:
            channel = name
            listed = [value] if isinstance(value, str) else value
            if not isinstance(listed, list):
                result.problems.append(f"channels.{name}: must be an apprise URL or a list of them")
                continue
            single = isinstance(value, str)
            sources = [(f"channels.{name}" + ("" if single else f"[{i}]"), url, True) for i, url in enumerate(listed)]
        if not sources:
            result.problems.append(f"channels.{name}: needs at least one apprise URL")
        for index, (key, url, literal) in enumerate(sources):
            if not isinstance(url, str):
                result.problems.append(f"{key}: must be an apprise URL (a string)")
                continue
            expanded, problem = expand_env(url, environ)
            if expanded is None:
                result.problems.append(f"{key}: {problem}")
                continue
            with _apprise_silenced():   # it would log a URL it cannot parse, token and all
                instance = apprise.Apprise.instantiate(expanded, suppress_exceptions=True)
            if not instance:
                scheme = expanded.split("://", 1)[0] if "://" in expanded else ""
                result.problems.append(
                    f"{key}: apprise does not accept this URL ({f'scheme {scheme!r}' if scheme else 'no scheme'})"
                )
                continue
            masked = mask_tokens(instance.url(privacy=True))
            label = without_defaults(masked, expanded)
            if literal and _holds_literal_secret(url, masked, instance.url(privacy=False)):
                result.literal_secrets = True
            result.targets.append(ChannelTarget(channel=channel, key=f"{channel}#{index}", label=label, url=expanded))
    return result


def _urls_from_file(value: Any, folder: Path) -> tuple[list[tuple[int, str]], str | None]:
    if not isinstance(value, str) or not value.strip():
        return [], "must be the path of a file holding apprise URLs"
    text, problem = read_beside(value, folder)
    if text is None:
        return [], problem
    urls = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")]
    return urls, None


_TOKENISH = re.compile(r"(?<![%\w])(?<!%[0-9A-Fa-f])(?=[^/?&=#@:%.]*\d)(?=[^/?&=#@:%.]*[A-Za-z])[^/?&=#@:%.]{8,}")


def mask_tokens(label: str) -> str:
    """apprise masks the secrets its plugins declare; a token in a path or a topic (json://host/TOKEN,
    ntfy://TOPIC) it leaves. Mask what looks like one: 8+ characters mixing letters and digits."""
    return _TOKENISH.sub(lambda m: f"{m.group()[0]}...{m.group()[-1]}", label)


def without_defaults(label: str, written: str) -> str:
    """The label without the query parameters apprise adds with their defaults (json:// gets
    ``method=POST&overflow=upstream&retry=0&...``): only those the user wrote stay."""
    try:
        parts, mine = urlsplit(label), {key.lower() for key, _ in parse_qsl(urlsplit(written).query)}
    except ValueError:
        return label
    if not parts.query:
        return label
    kept = "&".join(pair for pair in parts.query.split("&") if pair.split("=", 1)[0].lower() in mine)
    return urlunsplit(parts._replace(query=kept))


def _holds_literal_secret(raw: str, label: str, full: str) -> bool:
    """Whether the config file itself holds a secret of this URL (not only ${VARS})."""
    try:
        password = urlsplit(raw).password
    except ValueError:
        password = None
    if password and not ENV_REF.fullmatch(password):
        return True
    return not ENV_REF.search(raw) and label != full


@contextmanager
def _apprise_silenced() -> Iterator[None]:
    logger = logging.getLogger("apprise")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)
