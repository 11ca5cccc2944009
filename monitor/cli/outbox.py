"""alerts and retry: the commands that look at deliveries."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from monitor.cli import EXIT_CONFIG, _config_option, _fail, _load, _open_store, cli, utcnow


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
