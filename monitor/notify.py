"""Delivery through apprise: one Apprise object per target URL.

apprise's ``notify()`` returns one bool for every URL it was given, so each
target gets an Apprise object of its own: then we know which one failed.
The reason for a failure is taken from the log lines apprise returns with
the call's result, and scrubbed of the target's secrets before anyone sees it.

When no channel is configured, alerts go to standard output instead.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Sequence, TextIO
from urllib.parse import parse_qsl, unquote, urlsplit

from monitor.channels import ChannelTarget
from monitor.models import Delivery
from monitor.render import console_block

if TYPE_CHECKING:
    import apprise  # imported where it is used: it costs ~0.4 s

CONSOLE = "stdout"   # the channel and target used when no channel is configured


class _Scrubber(logging.Filter):
    """Takes the targets' secrets out of apprise's own log lines before any handler sees them."""

    def __init__(self, urls: Sequence[str]):
        super().__init__()
        self.urls = list(urls)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = message
        for url in self.urls:
            clean = scrub(clean, url)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class Notifier:
    def __init__(self, targets: Sequence[ChannelTarget], console: TextIO):
        self._targets = {t.key: t for t in targets}
        self._console = console
        self._apprise: dict[str, apprise.Apprise] = {}   # one Apprise object per target, made on first use
        self._scrubber = _Scrubber([t.url for t in targets])
        logging.getLogger("apprise").addFilter(self._scrubber)

    def close(self) -> None:
        logging.getLogger("apprise").removeFilter(self._scrubber)

    @property
    def channels(self) -> tuple[str, ...]:
        if not self._targets:
            return (CONSOLE,)
        return tuple(dict.fromkeys(t.channel for t in self._targets.values()))

    def targets_for(self, channel: str) -> tuple[str, ...]:
        if not self._targets:
            return (CONSOLE,) if channel == CONSOLE else ()
        return tuple(key for key, t in self._targets.items() if t.channel == channel)

    def every_target(self) -> dict[str, tuple[str, ...]]:
        """Channel -> its targets, for notices that go everywhere."""
        return {channel: self.targets_for(channel) for channel in self.channels}

    def label(self, key: str) -> str:
        """The masked URL of a target, for messages."""
        target = self._targets.get(key)
        return target.label if target else key

    def knows(self, key: str) -> bool:
        return key == CONSOLE if not self._targets else key in self._targets

    async def send(self, delivery: Delivery) -> str | None:
        """Send one delivery. Returns None on success, else the reason it failed."""
        if delivery.target == CONSOLE:
            self._console.write(console_block(delivery.title, delivery.body))
            self._console.flush()
            return None
        target = self._targets.get(delivery.target)
        if target is None:
            return f"target {delivery.target} is no longer in the config"
        return await asyncio.to_thread(self._send_blocking, target, delivery.title, delivery.body)

    def _send_blocking(self, target: ChannelTarget, title: str, body: str) -> str | None:
        import apprise

        instance = self._apprise.get(target.key)
        if instance is None:
            instance = apprise.Apprise(asset=apprise.AppriseAsset(app_id="monitor", app_desc="monitor news alerts"))
            instance.add(target.url)
            self._apprise[target.key] = instance
        try:
            result = instance.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
        except Exception as exc:  # apprise promises not to raise; a plugin bug must not stop the sender
            return scrub(f"apprise failed: {type(exc).__name__}: {exc}", target.url)
        if result:
            return None
        # the result carries this call's own log lines: the reason, whatever else runs at the same time
        reasons = [entry.message.strip() for entry in result.logs()
                   if str(entry.level).upper() in ("WARNING", "ERROR", "CRITICAL") and entry.message.strip()]
        return scrub(" ".join(reasons) or "apprise reported a failure", target.url)


class DryRun(Notifier):
    """``check --dry-run``: says what would be sent, to whom, and sends nothing."""

    async def send(self, delivery: Delivery) -> str | None:
        if delivery.target != CONSOLE and delivery.target not in self._targets:
            return f"target {delivery.target} is no longer in the config"
        where = ("standard output" if delivery.target == CONSOLE
                 else f"{delivery.channel} -> {self.label(delivery.target)}")
        self._console.write(f"would alert {where}: {delivery.title}\n")
        self._console.flush()
        return None


def scrub(text: str, url: str) -> str:
    """Remove the URL and anything secret-looking in it (passwords, tokens, keys) from ``text``."""
    secrets = {url}
    try:
        parts = urlsplit(url)
        secrets.update(p for p in (parts.password, parts.username) if p)
        secrets.update(unquote(seg) for seg in re.split(r"[/:@]", parts.netloc + parts.path) if len(seg) >= 8)
        secrets.update(value for _, value in parse_qsl(parts.query) if len(value) >= 8)
        if parts.hostname and "." in parts.hostname:
            secrets.discard(parts.hostname)   # a DNS name or address says where, not how to get in
    except ValueError:
        pass
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text
