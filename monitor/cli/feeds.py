"""feeds: how each feed is doing, from what the passes left in the database."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from monitor.cli.common import _config_option, _load, _open_store, cli, utcnow


@cli.command()
@_config_option
def feeds(config_path: Path | None) -> None:
    """A table of every feed: last poll, HTTP status, entries, failures in a row, next poll."""
    settings = _load(config_path)
    store = _open_store(settings, create=False)
    try:
        states = {state.name: state for state in store.feed_overview()}
    finally:
        store.close()
    now = utcnow().timestamp()
    rows = [("FEED", "LAST POLL", "STATUS", "ENTRIES", "FAILURES", "NEXT POLL")]
    errors: dict[str, str] = {}
    for feed in settings.feeds:
        state = states.get(feed.name)
        if state is None or state.last_checked is None:
            rows.append((feed.name, "never", "-", str(state.entries if state else 0), "0",
                         _next(state.next_check if state else 0.0, now)))
            continue
        rows.append((feed.name, _stamp(state.last_checked), state.last_status or "-", str(state.entries),
                     str(state.errors), _next(state.next_check, now)))
        if state.errors and state.last_error:
            errors[feed.name] = state.last_error
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if row[0] in errors:
            click.echo(f"  last error: {errors[row[0]]}")
    if not settings.feeds:
        click.echo("no feeds in the config")


def _stamp(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _next(stamp: float, now: float) -> str:
    if stamp <= now:
        return "due now"
    return f"{_stamp(stamp)} (in {_span(stamp - now)})"


def _span(seconds: float) -> str:
    for unit, size, above in (("d", 86400, 172800), ("h", 3600, 7200), ("m", 60, 120)):
        if seconds >= above:
            return f"{round(seconds / size)}{unit}"
    return f"{max(1, round(seconds))}s"
