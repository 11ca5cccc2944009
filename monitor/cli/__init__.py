"""The command line. Errors become messages and exit codes here, and only here.

This module holds the click group and the helpers the commands share; the commands live in
run (check, run), rules (validate, explain, backtest), relevance (feedback, train, evaluate)
and outbox (alerts, retry).

Exit codes: 0 all well; 1 a feed failed or an alert is still undelivered
(one line each says which and why); 2 the config or the usage is wrong.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor import config as config_module
from monitor.config import Settings
from monitor.errors import ConfigError, MonitorError, StoreError

if TYPE_CHECKING:
    from monitor.store import Store

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
EXIT_INTERRUPTED = 130   # 128 + SIGINT, as shells report a command stopped by Ctrl-C


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _config_option(func):
    return click.option(
        "--config", "-c", "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Config file. Default: $MONITOR_CONFIG, else ./config.toml.",
    )(func)


def _verbosity_option(func):
    func = click.option("--verbose", "-v", count=True, help="More log output (-v info, -vv debug).")(func)
    return click.option("--quiet", "-q", is_flag=True, help="Only errors on stderr.")(func)


def _load(config_path: Path | None, *, models: bool = True) -> Settings:
    path = config_path or config_module.default_config_path()
    try:
        settings = config_module.load(path, models=models)
    except ConfigError as exc:
        _fail(EXIT_CONFIG, f"config error in {exc}" if len(exc.problems) == 1 else
              f"{len(exc.problems)} config errors:\n{exc}")
    for warning in settings.warnings:
        click.echo(f"monitor: warning: {warning}", err=True)
    return settings


def _fail(code: int, message: str) -> None:
    click.echo(f"monitor: {message}", err=True)
    raise SystemExit(code)


def _interruptible(work):
    """``asyncio.run(work)``, with Ctrl-C as KeyboardInterrupt once the work has been cancelled.

    asyncio.run's own Ctrl-C handler needs the main thread to wake up, and a signal that lands
    on one of the helper threads (worker starts, language detection) left it asleep in epoll
    until the next event, tens of seconds later; the loop's signal handler wakes it at once."""
    interrupted = []

    async def guarded():
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        loop.add_signal_handler(signal.SIGINT, lambda: interrupted.append(True) or task.cancel())
        try:
            return await work
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise


def _log_level(verbose: int, quiet: bool, default: int) -> int:
    if quiet:
        return logging.ERROR
    return {0: default, 1: logging.INFO}.get(verbose, logging.DEBUG)


def _assessor(settings: Settings):
    """The judge, with the sentence encoder when a topic needs it (loaded on first use, in this process)."""
    from monitor.relevance.assess import Assessor

    if not settings.judge.uses_topics:
        return Assessor(settings.judge)
    from monitor.relevance.encoder import BatchEncoder, Encoder

    encoder = Encoder()
    return Assessor(settings.judge, encode=encoder.encode, encode_async=BatchEncoder(encoder).encode)


def _open_store(settings: Settings, *, create: bool = True) -> "Store":
    """``create=False`` for the commands that only look at what passes left (alerts, retry, backtest)."""
    from monitor.store import Store

    try:
        return Store(settings.database, create=create)
    except StoreError as exc:
        _fail(EXIT_CONFIG, f"{settings.path}: monitor.database: {exc}")


class _Commands(click.Group):
    def invoke(self, ctx: click.Context):
        # click would print "Aborted!" and exit 1, which for check means "a feed failed"
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\nmonitor: interrupted", err=True)
            raise SystemExit(EXIT_INTERRUPTED) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="monitor", prog_name="monitor")
def cli() -> None:
    """monitor: multilingual news monitoring and alerting.

    It polls news feeds, reads every new article, matches it against your
    keyword and language rules, and alerts you once per relevant article.
    """


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(delta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# the commands register themselves on ``cli`` (imported last: they import the helpers above)
from monitor.cli import feeds, health, outbox, relevance, rules, run, starter  # noqa: E402,F401


def main() -> None:
    try:
        cli.main(prog_name="monitor")
    except MonitorError as exc:
        click.echo(f"monitor: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    except Exception as exc:  # a bug: say so in one line; the traceback only when asked
        if os.environ.get("MONITOR_DEBUG"):
            raise
        click.echo(f"monitor: internal error: {type(exc).__name__}: {exc} (set MONITOR_DEBUG=1 for details)", err=True)
        sys.exit(EXIT_FAILED)
