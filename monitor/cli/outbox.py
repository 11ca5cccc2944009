"""alerts and retry: the commands that look at deliveries."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from monitor.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    _config_option,
    _fail,
    _interruptible,
    _load,
    _open_store,
    cli,
    utcnow,
)
from monitor.models import DeliveryStatus


@cli.command()
@_config_option
@click.option("--status", "statuses", type=click.Choice([s.value for s in DeliveryStatus]), multiple=True,
              help="Only alerts with a delivery in these statuses (repeatable). Default: all.")
@click.option("--rule", "rule_name", help="Only alerts for articles that matched this rule.")
@click.option("--feed", "feed_name", help="Only alerts for articles from this feed.")
@click.option("--since", help="Only alerts written this long ago or less (e.g. 2d, 6h).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="Newest first, at most this many.")
def alerts(config_path: Path | None, statuses: tuple[str, ...], rule_name: str | None, feed_name: str | None,
           since: str | None, limit: int) -> None:
    """List alerts, one line each: article, feed, rules, and each delivery's state (secrets masked)."""
    from monitor import config as config_module
    from monitor.store import STATUSES

    settings = _load(config_path)
    start = None
    if since is not None:
        try:
            start = utcnow() - config_module.parse_duration(since)
        except ValueError as exc:
            _fail(EXIT_CONFIG, f"--since: {exc}")
    store = _open_store(settings, create=False)
    try:
        wanted = tuple(DeliveryStatus(s) for s in statuses) or STATUSES
        rows = store.alert_rows(wanted, rule=rule_name, feed=feed_name, since=start, limit=limit)
    finally:
        store.close()
    labels = {t.key: t.label for t in settings.targets}
    if not rows:
        click.echo("no deliveries")
    colours = {DeliveryStatus.PENDING: "yellow", DeliveryStatus.SENT: "green", DeliveryStatus.DEAD: "red"}
    for row in rows:
        created = datetime.fromtimestamp(row.created, timezone.utc).strftime("%Y-%m-%d %H:%M")
        about = " ".join(part for part in (
            row.feed or {"feed_down": "(feed failing)", "feed_up": "(feed back)"}.get(row.kind, "-"),
            row.title, row.url, f"rules: {', '.join(row.rules)}" if row.rules else None) if part)
        states = ", ".join(f"#{d.id} {click.style(d.status, fg=colours[d.status])} {labels.get(d.target, d.target)}"
                           for d in row.deliveries)
        click.echo(f"{created}  {about}  ->  {row.channel}: {states}")
        for d in row.deliveries:
            if d.status is not DeliveryStatus.SENT and d.last_error:
                attempts = f"{d.attempts} attempt{'s' * (d.attempts != 1)}"
                click.echo(f"    #{d.id} after {attempts}, last error: {d.last_error}")
            if d.status is DeliveryStatus.PENDING:
                due = datetime.fromtimestamp(d.next_attempt, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
                click.echo(f"    #{d.id} next attempt: {due} UTC")


@cli.command()
@_config_option
@click.argument("ids", nargs=-1, type=int)
def retry(config_path: Path | None, ids: tuple[int, ...]) -> None:
    """Put dead deliveries (all, or the IDS given) back in the queue."""
    from monitor.store import STATUSES

    settings = _load(config_path)
    store = _open_store(settings, create=False)
    try:
        known = {row.id: row.status for row in store.deliveries(STATUSES, ids=ids)} if ids else {}
        unknown = [str(i) for i in dict.fromkeys(ids) if i not in known]
        if unknown:
            _fail(EXIT_CONFIG, f"no delivery with id {', '.join(unknown)} in {settings.database} "
                               "(monitor alerts lists them)")
        for i in dict.fromkeys(ids):
            if known[i] is not DeliveryStatus.DEAD:
                click.echo(f"delivery {i} is {known[i]}, not dead: left as it is")
        count = store.retry_dead(utcnow(), ids)
    finally:
        store.close()
    click.echo(f"{count} dead deliveries queued again" + ("" if count else " (none were dead)"))


@cli.command(name="test")
@_config_option
@click.argument("channel", required=False)
def test_channels(config_path: Path | None, channel: str | None) -> None:
    """Send a test message to each target of CHANNEL (default: every channel) and say how each went."""
    import asyncio
    import logging
    import sys

    from monitor.logs import configure
    from monitor.models import Delivery
    from monitor.notify import Notifier

    configure(logging.CRITICAL)   # apprise's reasons are captured with each result, not printed
    settings = _load(config_path)
    if not settings.targets:
        click.echo("no channels in the config: alerts are printed to standard output, nothing to test")
        return
    if channel is not None and channel not in settings.channels:
        _fail(EXIT_CONFIG, f"no channel named {channel!r} in {settings.path} "
                           f"(channels: {', '.join(settings.channels)})")
    targets = [t for t in settings.targets if channel is None or t.channel == channel]
    now = utcnow()
    title = "monitor: test message"
    body = (f"A test from monitor ({now:%Y-%m-%d %H:%M} UTC): alerts for this channel will arrive here.")

    async def send_all() -> list[str | None]:
        notifier = Notifier(settings.targets, sys.stdout)
        try:
            return await asyncio.gather(*(notifier.send(Delivery(0, t.channel, t.key, title, body, 1, now.timestamp()))
                                          for t in targets))
        finally:
            notifier.close()

    failed = 0
    for target, error in zip(targets, _interruptible(send_all())):
        failed += error is not None
        click.echo(f"{target.channel} -> {target.label}: " + ("sent" if error is None else f"failed: {error}"))
    if failed:
        _fail(EXIT_FAILED, f"{failed} of {len(targets)} targets failed")
