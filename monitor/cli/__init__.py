"""The command line. Errors become messages and exit codes here, and only here.

common holds the click group and the helpers the commands share; the commands live in
run (check, run), rules (validate, explain, backtest), relevance (feedback, train, evaluate),
outbox (alerts, retry), feeds (feeds), health (healthcheck) and starter (init); importing them registers them
on the group.

Exit codes: 0 all well; 1 a feed failed or an alert is still undelivered
(one line each says which and why); 2 the config or the usage is wrong.
"""

from __future__ import annotations

import os
import sys

import click

from monitor.cli import feeds, health, outbox, relevance, rules, run, starter  # noqa: F401  (they register the commands)
from monitor.cli.common import EXIT_FAILED, cli
from monitor.errors import MonitorError

__all__ = ["cli", "main"]


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
