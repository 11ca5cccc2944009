"""check and run: the commands that poll feeds and deliver alerts."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, TextIO

import click

from monitor.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    _assessor,
    _config_option,
    _fail,
    _interruptible,
    _load,
    _log_level,
    _open_store,
    _verbosity_option,
    _when,
    cli,
    utcnow,
)
from monitor.config import Settings
from monitor.models import DeliveryStatus, FeedStatus

if TYPE_CHECKING:
    from monitor.pipeline import FeedOutcome, PassReport
    from monitor.runtime import Runtime
    from monitor.store import Store


@asynccontextmanager
async def _runtime(settings: Settings, *, dry_run: bool = False, failures_reported: bool = False
                   ) -> AsyncIterator[Runtime]:
    """Open the store and the HTTP client, and assemble the runtime around them.
    ``dry_run``: the pass works on a copy of the database, and its notifier sends nothing.
    ``failures_reported``: the command reports failed feeds itself (monitor.runtime.assemble)."""
    if not dry_run:
        async with _assembled(settings, _open_store(settings), failures_reported=failures_reported) as runtime:
            yield runtime
        return
    from monitor.errors import StoreError
    from monitor.store import copy_database

    with tempfile.TemporaryDirectory(prefix="monitor-dry-run-") as folder:
        copy = Path(folder) / settings.database.name
        try:
            copy_database(settings.database, copy)
        except StoreError as exc:
            _fail(EXIT_CONFIG, f"{settings.path}: monitor.database: {exc}")
        store = _open_store(settings.model_copy(update={"database": copy}))
        async with _assembled(settings, store, dry_run=True, failures_reported=failures_reported) as runtime:
            yield runtime


@asynccontextmanager
async def _assembled(settings: Settings, store: Store, *, dry_run: bool = False, failures_reported: bool = False
                     ) -> AsyncIterator[Runtime]:
    from monitor.events import Events, LogSink
    from monitor.faults import CrashPoints
    from monitor.fetch import HttpClient, Limits
    from monitor.notify import DryRun, Notifier
    from monitor.runtime import assemble
    from monitor.tasks import worker_state
    from monitor.workers import CpuPool, default_size

    notifier = (DryRun if dry_run else Notifier)(settings.targets, sys.stdout)
    events = Events(LogSink())   # `run` adds the status page's sinks (monitor.web.server)
    try:
        store.sync_feeds(settings.feeds)
        limits = Limits(timeout=settings.timeout.total_seconds())
        setup = partial(worker_state, settings.ruleset.prefilter)
        async with HttpClient(user_agent=settings.user_agent, private_networks=settings.private_networks,
                              limits=limits) as client, CpuPool(default_size(), setup, events=events) as cpu:
            yield assemble(settings, store, client, notifier, cpu, assessor=_assessor(settings),
                           crash=CrashPoints(os.environ), events=events, failures_reported=failures_reported)
    finally:
        notifier.close()
        store.close()


@cli.command()
@_config_option
@_verbosity_option
@click.option("--force", is_flag=True, help="Poll every feed now, even those not due yet (backoff, Retry-After, ...).")
@click.option("--dry-run", is_flag=True, help="Show what would alert; send nothing and write nothing to the database.")
def check(config_path: Path | None, verbose: int, quiet: bool, force: bool, dry_run: bool) -> None:
    """Poll every feed that is due once, deliver pending alerts, exit.

    A feed is due when its interval has passed, and, after a failure, its
    backoff or the server's Retry-After; --force polls every feed now.
    Exit 0 when every feed was fetched and every alert delivered, 1 when a feed
    failed (or is still failing) or an alert is still undelivered, 2 when the config is wrong.
    --dry-run does the same work on a copy of the database, and prints the
    alerts it would send instead of sending them.
    """
    from monitor.logs import configure

    configure(_log_level(verbose, quiet, logging.WARNING))
    settings = _load(config_path)

    progress = _Progress(sys.stderr) if sys.stderr.isatty() and not quiet else None

    async def one_pass() -> tuple[PassReport, dict[int, str]]:
        async with _runtime(settings, dry_run=dry_run, failures_reported=True) as runtime:   # below, once
            try:
                report = await runtime.pipeline.check(utcnow, runtime.sender, force=force, progress=progress)
            finally:
                if progress is not None:
                    progress.clear()
            labels = {d.id: runtime.notifier.label(d.target) for d in report.undelivered}
            return report, labels

    report, labels = _interruptible(one_pass())
    failed = [f for f in report.feeds if not f.ok]
    causes = {f.cause for f in failed if f.cause is not None}   # a failed poll always has its cause
    if len(failed) > 1 and len(failed) == len(report.feeds) and len(causes) == 1:
        problems = [f"all {len(failed)} feeds failed: {_all_failed(causes.pop())}"]
    else:
        problems = [f'feed "{f.feed}" failed: {f.error}' for f in failed]
    problems += [f'feed "{w.name}" is failing: {w.last_error} ({w.errors} failure{"s" * (w.errors != 1)} in a row; '
                 f"next try {_when(w.next_check)}, or now with --force)" for w in report.waiting if w.errors]
    orphaned = {i for ids in report.delivery.orphaned.values() for i in ids}
    problems += [_orphans_line(channel, len(ids), channel in settings.channels)
                 for channel, ids in report.delivery.orphaned.items()]
    problems += [
        f'alert {d.id} for channel "{d.channel}" not delivered to {labels[d.id]}'
        f" (attempt {d.attempts}{', now a dead letter' if d.status is DeliveryStatus.DEAD else ''}): "
        f"{d.last_error or 'not sent yet'}"
        for d in report.undelivered if d.id not in orphaned
    ]
    for line in problems:
        click.echo(f"monitor: {line}", err=True)
    if not quiet:
        fetched = sum(f.status is FeedStatus.FETCHED for f in report.feeds)
        unchanged = sum(f.status is FeedStatus.UNCHANGED for f in report.feeds)
        waiting = (f", {len(report.waiting)} not due yet (the next at {_when(report.waiting[0].next_check)})"
                   if report.waiting else "")
        sent = (f"{report.delivery.sent} alerts would be sent; dry run: nothing sent, nothing written to "
                f"{settings.database}" if dry_run else
                f"{report.delivery.sent} alerts delivered, {len(report.undelivered)} undelivered")
        seen = sum(f.first_look for f in report.feeds)
        if seen:
            click.echo(f"monitor: {seen} entries that new feeds already held were recorded as seen, not alerted "
                       "(catch_up = true alerts them)", err=True)
        click.echo(
            f"monitor: {len(report.feeds) + len(report.waiting)} feeds: {fetched} fetched, {unchanged} not modified, "
            f"{len(report.feeds) - fetched - unchanged} failed{waiting}; "
            f"{sum(f.new for f in report.feeds)} new entries, {sum(f.alerts for f in report.feeds)} alerted; {sent}",
            err=True,
        )
    raise SystemExit(EXIT_FAILED if problems else EXIT_OK)


@cli.command()
@_config_option
@_verbosity_option
def run(config_path: Path | None, verbose: int, quiet: bool) -> None:
    """Poll every feed on its own interval until SIGTERM or SIGINT."""
    from monitor.daemon import Daemon
    from monitor.errors import ConfigError
    from monitor.logs import configure
    from monitor.systemd import Notify
    from monitor.web.server import serve

    configure(_log_level(verbose, quiet, logging.INFO))
    settings = _load(config_path)

    async def forever() -> None:
        async with _runtime(settings) as runtime, serve(settings, runtime, utcnow):
            await Daemon(runtime.pipeline, runtime.sender, utcnow, systemd=Notify(os.environ)).run()

    try:
        asyncio.run(forever())
    except ConfigError as exc:   # the [web] address cannot be had
        _fail(EXIT_CONFIG, f"config error in {exc}")


def _all_failed(cause: str) -> str:
    if cause == "host name does not resolve":
        return "host names do not resolve: is this machine offline?"
    return cause


class _Progress:
    """On a terminal: feeds done out of the total, and entries read, on one line that is rewritten."""

    def __init__(self, stream: TextIO):
        self.stream, self.done, self.read = stream, 0, 0

    def __call__(self, outcome: FeedOutcome, total: int) -> None:
        self.done += 1
        self.read += outcome.new
        self.stream.write(f"\r\033[Kmonitor: {self.done}/{total} feeds polled, {self.read} new entries read")
        self.stream.flush()

    def clear(self) -> None:
        if self.done:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _orphans_line(channel: str, count: int, still_there: bool) -> str:
    alerts = "1 undelivered alert" if count == 1 else f"{count} undelivered alerts"
    now_dead = "is now a dead letter" if count == 1 else "are now dead letters"
    where = (f'channel "{channel}" lost a URL from the config: {alerts} to it {now_dead}' if still_there else
             f'channel "{channel}" is no longer in the config: its {alerts} {now_dead}')
    return f"{where} (monitor alerts --status dead lists them; monitor retry queues them again)"
