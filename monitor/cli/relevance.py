"""feedback, train and evaluate: the commands of the relevance layer."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.common import (
    EXIT_FAILED,
    _config_option,
    _fail,
    _load,
    _open_store,
    cli,
    utcnow,
)
from monitor.errors import MonitorError


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
