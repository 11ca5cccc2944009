"""validate, explain and backtest: the commands that show what the config and its rules do."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor import config as config_module
from monitor.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    _assessor,
    _config_option,
    _duration,
    _fail,
    _load,
    _open_store,
    cli,
    utcnow,
)
from monitor.config import Settings
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.fetch import Response


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
    if settings.topics:
        click.echo(f"\ntopics ({len(settings.topics)}):")
    for topic in settings.topics:
        judged = settings.judge.topics[topic.name]
        scorer = f"model {topic.model.name}" if topic.model else "similarity to its descriptions"
        click.echo(f"  {topic.name}: {len(topic.about)} about, {len(topic.examples)} examples, "
                   f"{len(topic.not_about)} not about; {scorer}; threshold {judged.threshold:.2f}")
    click.echo(f"\nrules ({len(settings.rules)}):")
    for rule in settings.rules:
        parts = [f"{key}: {len(terms)} terms"
                 for key, terms in (("any", rule.any), ("all", rule.all), ("none", rule.none)) if terms]
        if rule.terms:
            count = sum(len(items) for items in rule.terms.values())
            parts.append(f"terms: {count} in {len(rule.terms)} languages ({', '.join(rule.terms)})")
        if rule.query:
            query = " ".join(rule.query.split())
            parts.insert(0, f"query: {query if len(query) <= 60 else query[:59] + '…'}")
        if rule.topic:
            parts.append(f"topic {rule.topic} ({rule.mode})")
        languages = ", ".join(rule.languages) or "all"
        channels = ", ".join(rule.channels) or "stdout"
        click.echo(f"  {rule.name}: {'; '.join(parts)}; languages: {languages}; channels: {channels}")
    click.echo(f"\nchannels ({len(settings.channels)}):")
    if not settings.targets:
        click.echo("  none: alerts are printed to standard output")
    for target in settings.targets:
        click.echo(f"  {target.channel}: {target.label}")


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


async def _fetch(settings: Settings, url: str) -> Response:
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


def _with_candidate(settings: Settings, model_path: Path, topic_name: str | None) -> Settings:
    from monitor.relevance import tools
    from monitor.relevance.model import load
    from monitor.relevance.training import with_model

    try:
        topic = tools.topic_of(settings, topic_name)
        model = load(model_path)
    except MonitorError as exc:
        _fail(EXIT_CONFIG, f"--model: {exc}")
    return settings.model_copy(update={"judge": with_model(settings.judge, topic, model)})
