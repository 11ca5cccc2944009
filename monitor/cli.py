"""The command line. Errors become messages and exit codes here, and only here.

Exit codes: 0 all well; 1 a feed failed or an alert is still undelivered
(one line each says which and why); 2 the config or the usage is wrong.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator

import click

from monitor import config as config_module
from monitor.config import Settings
from monitor.errors import ConfigError, MonitorError, StoreError

if TYPE_CHECKING:
    from monitor.pipeline import Pipeline
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


@asynccontextmanager
async def _runtime(settings: Settings) -> AsyncIterator[Pipeline]:
    """Open the store and the HTTP client, and build the pipeline around them."""
    from monitor.faults import CrashPoints
    from monitor.fetch import HttpClient, Limits
    from monitor.notify import Notifier
    from monitor.pipeline import Pipeline
    from monitor.tasks import worker_state
    from monitor.workers import CpuPool, default_size

    store = _open_store(settings)
    notifier = Notifier(settings.targets, sys.stdout)
    try:
        store.sync_feeds(settings.feeds)
        limits = Limits(timeout=settings.timeout.total_seconds())
        async with HttpClient(user_agent=settings.user_agent, private_networks=settings.private_networks,
                              limits=limits) as client, CpuPool(default_size(), partial(worker_state, settings.ruleset.prefilter)) as cpu:
            yield Pipeline(settings, store, client, notifier, cpu, assessor=_assessor(settings),
                           crash=CrashPoints(os.environ))
    finally:
        notifier.close()
        store.close()


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


@cli.command()
@_config_option
@_verbosity_option
@click.option("--force", is_flag=True, help="Poll every feed now, even those not due yet (backoff, Retry-After, ...).")
def check(config_path: Path | None, verbose: int, quiet: bool, force: bool) -> None:
    """Poll every feed that is due once, deliver pending alerts, exit.

    A feed is due when its interval has passed, and, after a failure, its
    backoff or the server's Retry-After; --force polls every feed now.
    Exit 0 when every feed was fetched and every alert delivered, 1 when a feed
    failed (or is still failing) or an alert is still undelivered, 2 when the config is wrong.
    """
    from monitor.logs import configure

    configure(_log_level(verbose, quiet, logging.WARNING))
    settings = _load(config_path)

    async def one_pass():
        async with _runtime(settings) as pipeline:
            report = await pipeline.check(utcnow, force=force)
            labels = {d.id: pipeline.notifier.label(d.target) for d in report.undelivered}
            return report, labels

    report, labels = _interruptible(one_pass())
    problems = [f'feed "{f.feed}" failed: {f.error}' for f in report.feeds if not f.ok]
    problems += [f'feed "{w.name}" is failing: {w.last_error} ({w.errors} failure{"s" * (w.errors != 1)} in a row; '
                 f"next try {_when(w.next_check)}, or now with --force)" for w in report.waiting if w.errors]
    orphaned = {i for ids in report.delivery.orphaned.values() for i in ids}
    problems += [_orphans_line(channel, len(ids), channel in settings.channels)
                 for channel, ids in report.delivery.orphaned.items()]
    problems += [
        f'alert {d.id} for channel "{d.channel}" not delivered to {labels[d.id]}'
        f" (attempt {d.attempts}{', now a dead letter' if d.status == 'dead' else ''}): {d.last_error or 'not sent yet'}"
        for d in report.undelivered if d.id not in orphaned
    ]
    for line in problems:
        click.echo(f"monitor: {line}", err=True)
    if not quiet:
        fetched = sum(f.status not in ("304", "error") for f in report.feeds)
        unchanged = sum(f.status == "304" for f in report.feeds)
        waiting = (f", {len(report.waiting)} not due yet (the next at {_when(report.waiting[0].next_check)})"
                   if report.waiting else "")
        click.echo(
            f"monitor: {len(report.feeds) + len(report.waiting)} feeds: {fetched} fetched, {unchanged} not modified, "
            f"{len(report.feeds) - fetched - unchanged} failed{waiting}; "
            f"{sum(f.new for f in report.feeds)} new entries, {sum(f.alerts for f in report.feeds)} alerted; "
            f"{report.delivery.sent} alerts delivered, {len(report.undelivered)} undelivered",
            err=True,
        )
    raise SystemExit(EXIT_FAILED if problems else EXIT_OK)


@cli.command()
@_config_option
@_verbosity_option
def run(config_path: Path | None, verbose: int, quiet: bool) -> None:
    """Poll every feed on its own interval until SIGTERM or SIGINT."""
    from monitor.daemon import Daemon
    from monitor.logs import configure
    from monitor.systemd import Notify

    configure(_log_level(verbose, quiet, logging.INFO))
    settings = _load(config_path)

    async def forever():
        async with _runtime(settings) as pipeline:
            await Daemon(pipeline, utcnow, systemd=Notify(os.environ)).run()

    asyncio.run(forever())


@cli.command()
@_config_option
def validate(config_path: Path | None) -> None:
    """Check the config and print what it sets up (secrets masked)."""
    settings = _load(config_path)
    click.echo(f"{settings.path}: OK")
    click.echo(f"database: {settings.database}")
    click.echo(
        f"defaults: interval {_duration(settings.interval)}, max_age {_duration(settings.max_age)}, "
        f"timeout {_duration(settings.timeout)}, private_networks {str(settings.private_networks).lower()}"
    )
    click.echo(f"\nfeeds ({len(settings.feeds)}):")
    width = max((len(f.name) for f in settings.feeds), default=0)
    for feed in settings.feeds:
        click.echo(f"  {feed.name:<{width}}  every {_duration(feed.interval):<4} {feed.language or '--'}  {feed.url}")
    click.echo(f"\nrules ({len(settings.rules)}):")
    for rule in settings.rules:
        parts = [f"{key}: {len(terms)} terms" for key, terms in (("any", rule.any), ("all", rule.all), ("none", rule.none)) if terms]
        if rule.terms:
            count = sum(len(items) for items in rule.terms.values())
            parts.append(f"terms: {count} in {len(rule.terms)} languages ({', '.join(rule.terms)})")
        if rule.query:
            query = " ".join(rule.query.split())
            parts.insert(0, f"query: {query if len(query) <= 60 else query[:59] + '…'}")
        languages = ", ".join(rule.languages) or "all"
        channels = ", ".join(rule.channels) or "stdout"
        click.echo(f"  {rule.name}: {'; '.join(parts)}; languages: {languages}; channels: {channels}")
    click.echo(f"\nchannels ({len(settings.channels)}):")
    if not settings.targets:
        click.echo("  none: alerts are printed to standard output")
    for target in settings.targets:
        click.echo(f"  {target.channel}: {target.label}")


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


def _color(choice: bool | None) -> bool:
    return sys.stdout.isatty() if choice is None else choice


def _known_rule(settings: Settings, name: str | None) -> None:
    names = [rule.name for rule in settings.rules]
    if name is not None and name not in names:
        _fail(EXIT_CONFIG, f"no rule named {name!r} in {settings.path} (rules: {', '.join(names) or 'none'})")


@cli.command()
@_config_option
@click.argument("source")
@click.option("--rule", "rule_name", help="Only this rule.")
@click.option("--language", type=click.STRING, help="Take the article to be in this language (ISO 639-1).")
@click.option("--color/--no-color", default=None, help="Colour. Default: on a terminal only.")
def explain(config_path: Path | None, source: str, rule_name: str | None, language: str | None,
            color: bool | None) -> None:
    """Show how the rules judge one page: SOURCE is a URL or a file (HTML or plain text)."""
    from monitor import ruletools

    settings = _load(config_path)
    _known_rule(settings, rule_name)
    if language is not None and not re.fullmatch(r"[a-z]{2}", language):
        _fail(EXIT_CONFIG, f"--language: {language!r} is not a bare ISO 639-1 code such as 'en'")
    charset = None
    loaded = ruletools.load_source(source)
    if loaded is None:
        if not source.startswith(("http://", "https://")):
            _fail(EXIT_CONFIG, f"{source}: no such file, and not an http(s) URL")
        response = asyncio.run(_fetch(settings, source))
        loaded, charset = (response.body, response.url), response.charset
    reading = ruletools.read(loaded[0], loaded[1], charset=charset, forced_language=language)
    explanation = ruletools.explain(_assessor(settings), reading, rule_name)
    for line in ruletools.render_explanation(reading, explanation, _color(color)):
        click.echo(line, color=_color(color))


async def _fetch(settings: Settings, url: str):
    from monitor.errors import FetchError
    from monitor.fetch import HttpClient, Limits

    async with HttpClient(user_agent=settings.user_agent, private_networks=True,
                          limits=Limits(timeout=settings.timeout.total_seconds())) as client:
        try:
            return await client.get(url, trusted=True)
        except FetchError as exc:
            _fail(EXIT_FAILED, f"cannot fetch {url}: {exc.reason}")


@cli.command()
@_config_option
@click.option("--rule", "rule_name", help="Only this rule.")
@click.option("--since", default="30d", show_default=True, help="Articles first seen this long ago or less.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Try this model file (from `monitor train --output`) instead of the topic's own.")
@click.option("--topic", "topic_name", help="With --model: the topic it is for. Default: the only one.")
@click.option("--color/--no-color", default=None, help="Colour. Default: on a terminal only.")
def backtest(config_path: Path | None, rule_name: str | None, since: str, model_path: Path | None,
             topic_name: str | None, color: bool | None) -> None:
    """Run the current rules and topics over the articles kept in the database: what would change?"""
    from monitor import ruletools

    settings = _load(config_path)
    if model_path is not None:
        settings = _with_candidate(settings, model_path, topic_name)
    names = {rule.name for rule in settings.rules}
    try:
        period = config_module.parse_duration(since)
    except ValueError as exc:
        _fail(EXIT_CONFIG, f"--since: {exc}")
    start = utcnow() - period
    store = _open_store(settings, create=False)
    try:
        count, changes = ruletools.backtest(store, _assessor(settings), start, rule_name)
    finally:
        store.close()
    if rule_name is not None and rule_name not in names and not changes:
        _known_rule(settings, rule_name)
    for line in ruletools.render_backtest(count, start, changes, _color(color)):
        click.echo(line, color=_color(color))


@cli.command()
@_config_option
@click.argument("article")
@click.argument("verdict", type=click.Choice(["yes", "no"]))
def feedback(config_path: Path | None, article: str, verdict: str) -> None:
    """Say whether an article was relevant to you: ARTICLE is its id or link, VERDICT yes or no.

    Kept in the database; `monitor train` learns from it.
    """
    from monitor.relevance.tools import RelevanceError, record_feedback

    settings = _load(config_path)
    store = _open_store(settings, create=False)
    try:
        found, replaced = record_feedback(store, article, verdict == "yes", utcnow())
    except RelevanceError as exc:
        _fail(EXIT_FAILED, str(exc))
    finally:
        store.close()
    word = "relevant" if verdict == "yes" else "not relevant"
    click.echo(f"article {found.id} ({found.title[:80] or found.url}): {word}"
               + (" (replaces your earlier verdict)" if replaced else "") + "; `monitor train` learns from it")


@cli.command()
@_config_option
@click.option("--labels", "labels", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A labelled JSON Lines file to learn from (repeatable).")
@click.option("--topic", "topic_name", help="The topic to train. Default: the only one.")
@click.option("--fresh", is_flag=True, help="Forget the examples the current model was trained on.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the model here. Default: the topic's 'model' file.")
def train(config_path: Path | None, labels: tuple[Path, ...], topic_name: str | None, fresh: bool,
          output: Path | None) -> None:
    """Train a topic's relevance model on labelled files and your feedback.

    Without --fresh, the examples the current model learned from are kept.
    Try a model before it goes live: `train --output new.npz`, then
    `backtest --model new.npz`.
    """
    from monitor.relevance import tools

    settings = _load(config_path, models=False)   # the model file may be missing or broken: it is rewritten
    try:
        topic = tools.topic_of(settings, topic_name)
        store = _open_store(settings) if settings.database.exists() else None
        try:
            model, path, notes = tools.train(settings, store, labels, topic=topic, fresh=fresh, output=output,
                                             now=utcnow())
        finally:
            if store is not None:
                store.close()
    except MonitorError as exc:
        _fail(EXIT_FAILED, str(exc))
    for note in notes:
        click.echo(note)
    languages = ", ".join(f"{lang} {n}" for lang, n in model.meta.get("languages", {}).items())
    click.echo(f"trained topic {topic!r} on {model.meta['examples']:,} examples ({model.meta['relevant']:,} "
               f"relevant; {languages}); threshold {model.threshold:.2f}; written to {path}")


@cli.command()
@_config_option
@click.option("--labels", "labels", multiple=True, required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="A labelled JSON Lines file (repeatable).")
@click.option("--cross-validate", "folds", type=int, default=None, metavar="K",
              help="Train on K-1 folds of the items, score the fold left out, K times.")
@click.option("--topic", "topic_name", help="With --cross-validate: the topic to train. Default: the only one.")
@click.option("--misses", is_flag=True, help="List every wrong verdict.")
def evaluate(config_path: Path | None, labels: tuple[Path, ...], folds: int | None, topic_name: str | None,
             misses: bool) -> None:
    """Precision, recall and F1 per language of the config (and its models) on labelled items."""
    from monitor.relevance import tools

    settings = _load(config_path)
    try:
        scores, notes = tools.evaluate(settings, labels, k=folds, topic=topic_name)
    except MonitorError as exc:
        _fail(EXIT_FAILED, str(exc))
    for note in notes:
        click.echo(note)
    for line in tools.render_scores(scores, misses):
        click.echo(line)


def _with_candidate(settings: Settings, model_path: Path, topic_name: str | None) -> Settings:
    from dataclasses import replace

    from monitor.relevance import tools
    from monitor.relevance.model import load
    from monitor.relevance.training import with_model

    try:
        topic = tools.topic_of(settings, topic_name)
        model = load(model_path)
    except MonitorError as exc:
        _fail(EXIT_CONFIG, f"--model: {exc}")
    return replace(settings, judge=with_model(settings.judge, topic, model))
def _orphans_line(channel: str, count: int, still_there: bool) -> str:
    alerts = "1 undelivered alert" if count == 1 else f"{count} undelivered alerts"
    now_dead = "is now a dead letter" if count == 1 else "are now dead letters"
    where = (f'channel "{channel}" lost a URL from the config: {alerts} to it {now_dead}' if still_there else
             f'channel "{channel}" is no longer in the config: its {alerts} {now_dead}')
    return f"{where} (monitor alerts --status dead lists them; monitor retry queues them again)"


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(delta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


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
