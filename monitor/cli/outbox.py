"""alerts and retry: the commands that look at deliveries."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from monitor.cli import EXIT_CONFIG, EXIT_FAILED, _config_option, _fail, _interruptible, _load, _open_store, cli, utcnow


@cli.command()
@_config_option
@click.option("--status", "statuses", type=click.Choice(["pending", "sent", "dead"]), multiple=True,
              help="Only these statuses (repeatable). Default: all.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest first, at most this many.")
def alerts(config_path: Path | None, statuses: tuple[str, ...], limit: int) -> None:
    """List deliveries: pending, sent and dead (secrets masked)."""
    from monitor.store import STATUSES

    settings = _load(config_path)
    store = _open_store(settings, create=False)
    try:
        rows = store.deliveries(statuses or STATUSES, limit=limit)
    finally:
        store.close()
    labels = {t.key: t.label for t in settings.targets}
    if not rows:
        click.echo("no deliveries")
    for row in rows:
        created = datetime.fromtimestamp(row.created, timezone.utc).strftime("%Y-%m-%d %H:%M")
        status = click.style(row.status, fg={"pending": "yellow", "sent": "green", "dead": "red"}[row.status])
        click.echo(f"{row.id:>6}  {status:<7}  {created}  attempts {row.attempts}  "
                   f"{row.channel} -> {labels.get(row.target, row.target)}")
        click.echo(f"        {row.title}")
        if row.status != "sent" and row.last_error:
            click.echo(f"        last error: {row.last_error}")
        if row.status == "pending":
            due = datetime.fromtimestamp(row.next_attempt, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            click.echo(f"        next attempt: {due} UTC")


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
            if known[i] != "dead":
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

    async def send_all():
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
