"""healthcheck: is `monitor run` well? For a container's HEALTHCHECK or a systemd timer.

It asks the database, not the daemon: a daemon whose loop is stuck, or
stopped, cannot answer for itself, but the heartbeat it stopped writing says
so. The same verdict as /healthz (monitor.health).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from monitor.cli.common import EXIT_FAILED, EXIT_OK, _config_option, _fail, _load, cli, utcnow
from monitor.errors import StoreError


@cli.command()
@_config_option
def healthcheck(config_path: Path | None) -> None:
    """Exit 0 when `monitor run` ticked recently and the database takes writes; else 1, with the reason.

    "Recently" is `[web] stale_after` (default 1m).
    """
    from monitor.health import Verdict, verdict
    from monitor.store import Store

    settings = _load(config_path, models=False)   # the topics' models are not needed to judge health
    try:
        store = Store(settings.database, create=False)
    except StoreError as exc:
        _fail(EXIT_FAILED, f"unhealthy: {exc}")
    try:
        beat = store.heartbeat()
        error = None
        try:
            store.probe_write()
        except StoreError as exc:
            error = str(exc)
    except StoreError as exc:
        _fail(EXIT_FAILED, f"unhealthy: {exc}")
    finally:
        store.close()
    last = datetime.fromtimestamp(beat.ticked, timezone.utc) if beat else None
    found = verdict(last, utcnow(), settings.web.stale_after, write_error=error)
    if beat is None and error is None:
        found = Verdict(False, f"no heartbeat in {settings.database}: is `monitor run` running on it?")
    if not found.ok:
        _fail(EXIT_FAILED, f"unhealthy: {found.reason}")
    click.echo(f"monitor: healthy: {found.reason}")
    raise SystemExit(EXIT_OK)
