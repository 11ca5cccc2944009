"""The analyst's side of relevance: ``monitor feedback``, ``monitor train`` and ``monitor evaluate``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from monitor.errors import MonitorError
from monitor.language import LanguageDetector
from monitor.relevance import training
from monitor.relevance.assess import Encode
from monitor.relevance.encoder import Encoder
from monitor.relevance.judge import Judge, View
from monitor.relevance.model import Examples, Model, empty_examples, save, trained_ids

if TYPE_CHECKING:
    from monitor.config import Settings
    from monitor.store import Store, StoredArticle

FEEDBACK_WEIGHT = 5.0   # one judgement of the analyst's counts as much as five labelled examples


class RelevanceError(MonitorError):
    """A relevance command cannot do what was asked (a one-line reason)."""


def topic_of(settings: "Settings", name: str | None) -> str:
    names = [topic.name for topic in settings.topics]
    if name is not None:
        if name not in names:
            raise RelevanceError(f"--topic: no topic {name!r} in the config (topics: {', '.join(names) or 'none'})")
        return name
    if len(names) == 1:
        return names[0]
    if not names:
        raise RelevanceError("the config has no [[topics]]: add one (see README, Relevance)")
    raise RelevanceError(f"the config has several topics ({', '.join(names)}): name one with --topic")


def record_feedback(store: "Store", ref: str, relevant: bool, now: datetime) -> tuple["StoredArticle", bool]:
    article = store.find_article(ref)
    if article is None:
        raise RelevanceError(f"no article {ref!r} in {store.path}: give an article id or link, "
                             "as `monitor alerts` or an alert shows it")
    return article, store.record_feedback(article.id, relevant, now)


def feedback_examples(store: "Store", judge: Judge, encode: Encode, detector: LanguageDetector) -> Examples:
    """The analyst's judgements as examples, each article read as the pipeline read it."""
    from monitor.stages.read import read_kept

    items = []
    for article, relevant in store.feedback():
        text = article.text if article.text is not None else read_kept(article.page, article.url).text
        view = View.of(article.title, article.summary, text or "")
        items.append(training.Item(f"feedback:{article.url}", article.language, view.title, view.lead, relevant))
    if not items:
        return empty_examples(judge.keyword_rules)
    return training.prepare(items, judge, encode, detector).examples


def train(settings: "Settings", store: "Store | None", labels: Sequence[Path], *, topic: str, fresh: bool,
          output: Path | None, now: datetime) -> tuple[Model, Path, list[str]]:
    judge: Judge = settings.judge
    config = next(t for t in settings.topics if t.name == topic)
    target = output or config.model
    if target is None:
        raise RelevanceError(f"topic {topic!r} has no 'model' file in the config: give --output PATH")
    encoder, detector = Encoder(), LanguageDetector()
    parts: list[Examples] = []
    notes = []
    if not fresh and config.model is not None and config.model.exists():
        from monitor.relevance.model import load

        base = load(config.model, with_base=True).base
        if base is not None and len(base):
            parts.append(base)
            notes.append(f"kept {len(base):,} labelled examples from {config.model}")
    for path in labels:
        items = training.read_labels(path, borderline=True)
        parts.append(training.prepare(items, judge, encoder.encode, detector).examples)
        passing = sum(item.borderline for item in items)
        said = f"read {len(items):,} labelled items from {path}"
        if passing:
            said += f" ({passing:,} borderline: each counts as {training.BORDERLINE_WEIGHT:g} of a not-relevant one)"
        notes.append(said)
    feedback = feedback_examples(store, judge, encoder.encode, detector) if store is not None else None
    if feedback is not None:
        notes.append(f"{len(feedback):,} judgements of yours from the database (each counts {FEEDBACK_WEIGHT:g}x)")
    if not parts and (feedback is None or not len(feedback)):
        raise RelevanceError("nothing to train on: give --labels FILE.jsonl, or judge alerts with `monitor feedback`")
    try:
        model = training.train_topic(judge, topic, parts, encoder.encode, feedback=feedback,
                                     feedback_weight=FEEDBACK_WEIGHT, threshold=config.threshold,
                                     meta={"topic": topic, "trained": now.isoformat(timespec="seconds")})
    except MonitorError as exc:
        raise RelevanceError(str(exc)) from None
    save(model, target)
    return model, target, notes


def evaluate(settings: "Settings", labels: Sequence[Path], *, k: int | None, topic: str | None
             ) -> tuple[dict[str, training.Scores], list[str]]:
    judge: Judge = settings.judge
    encoder = Encoder()
    # cross-validation trains, and trains on borderline items as `monitor train` does; none is scored
    items = [item for path in labels for item in training.read_labels(path, borderline=k is not None)]
    prepared = training.prepare(items, judge, encoder.encode, LanguageDetector())
    notes = []
    if k is None:
        ids = {item.id for item in items}
        for config in settings.topics:
            if config.model is not None and judge.topics[config.name].model is not None:
                seen = len(ids & trained_ids(config.model))
                if seen:
                    notes.append(f"{seen:,} of these {len(ids):,} items were in the training data of topic "
                                 f"{config.name!r}: the figures flatter it; --cross-validate K scores fairly")
        return training.score(prepared, judge, encoder.encode), notes
    if k < 2:
        raise RelevanceError("--cross-validate: give 2 folds or more")
    name = topic_of(settings, topic)
    notes.append(f"{k}-fold cross-validation: topic {name!r} trained on {k - 1} folds of these items "
                 "(and on every borderline one), scored on the fold left out")
    return training.cross_validate(prepared, judge, encoder.encode, k, name), notes


def render_scores(scores: dict[str, training.Scores], misses: bool) -> list[str]:
    """One table per labelled file (keys "file lang"), or one table when the keys are bare languages."""
    files: dict[str, dict[str, training.Scores]] = {}
    for key, value in scores.items():
        source, _, language = key.rpartition(" ")
        files.setdefault(source, {})[language] = value
    lines: list[str] = []
    everything = training.Scores()
    for source, by_language in files.items():
        if len(files) > 1:
            lines += ([""] if lines else []) + [source]
        lines.append(f"{'lang':<6}{'items':>7}{'relevant':>10}{'alerts':>8}{'precision':>11}{'recall':>8}{'F1':>7}")
        total = training.Scores()
        for language in sorted(by_language, key=lambda code: (-by_language[code].count, code)):
            s = by_language[language]
            _add(total, s)
            lines.append(_row(language, s))
        lines.append(_row("all", total))
        _add(everything, total)
    if len(files) > 1:
        lines += ["", _row("total", everything)]
    if misses:
        lines += [""] + (everything.wrong or ["no wrong verdicts"])
    return lines


def _add(total: training.Scores, s: training.Scores) -> None:
    for name in ("tp", "fp", "fn", "tn"):
        setattr(total, name, getattr(total, name) + getattr(s, name))
    total.wrong += s.wrong


def _row(name: str, s: training.Scores) -> str:
    return (f"{name:<6}{s.count:>7}{s.tp + s.fn:>10}{s.tp + s.fp:>8}{s.precision:>11.3f}{s.recall:>8.3f}"
            f"{s.f1:>7.3f}")

