"""Tools for the person writing rules: ``monitor explain`` and ``monitor backtest``.

``explain`` reads one page (a URL or a file), takes its main text and its
language as the pipeline would, and shows each topic's score with the
sentence nearest to it, and every rule's verdict: the matched terms
highlighted in context, or the clause that failed. ``backtest`` runs the
current rules and topics (or a candidate model) again over the texts kept in
the database (``keep_text``) and shows, per rule, what would now alert that
did not, and what no longer would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import click

from monitor.language import Language
from monitor.models import Article, Hit, Match, Relevance
from monitor.relevance.assess import Assessor
from monitor.relevance.judge import RulePlan, View
from monitor.rules import Mode, Verdict
from monitor.stages.read import Languages, detection_text, read_document, read_kept
from monitor.store import Store, StoredArticle


@dataclass
class Reading:
    source: str
    title: str
    text: str
    language: Language
    how: str            # how the language was decided
    size: int


def read(body: bytes, source: str, *, charset: str | None = None, forced_language: str | None = None) -> Reading:
    """What the rules would see of a page (or of a plain-text file), read as the pipeline reads it."""
    document = read_document(body, source, charset)
    title, text = document.title, document.text
    if forced_language:
        return Reading(source, title, text, Language(forced_language, 1.0, False), "given with --language", len(body))
    language = Languages().detect(detection_text(title, text), document.declared)
    if language.detected:
        how = f"detected, confidence {language.confidence:.2f}"
    elif language.code:
        how = f"from <html lang>; detection unsure ({language.confidence:.2f})"
    else:
        how = f"unknown: detection unsure ({language.confidence:.2f}) and no <html lang>"
    return Reading(source, title, text, language, how, len(body))


@dataclass
class Explanation:
    verdicts: dict[str, Verdict]          # the keyword side of each rule that has terms
    matches: list[Match]                  # what check would alert
    relevance: dict[str, Relevance]       # each topic's verdict, passed or not
    plans: list[RulePlan]


def explain(assessor: Assessor, reading: Reading, only: str | None = None) -> Explanation:
    judge = assessor.judge
    article = Article(reading.title, reading.text, reading.language.code, reading.language.confidence)
    matches, relevance = assessor.assess_article(article)
    verdicts = {v.rule: v for v in judge.ruleset.explain(article)}
    plans = [plan for plan in judge.plans if only is None or plan.name == only]
    return Explanation(verdicts, matches, relevance, plans)


def render_explanation(reading: Reading, explanation: Explanation, color: bool) -> list[str]:
    style = click.style if color else (lambda text, **_: text)
    lines = [
        f"Source:   {reading.source} ({reading.size:,} bytes)",
        f"Title:    {reading.title or '(none)'}",
        f"Language: {reading.language.code or 'unknown'} ({reading.how})",
        f"Text:     {len(reading.text):,} characters" + ("" if reading.text else " (no main text found)"),
        "",
    ]
    topics = {plan.topic for plan in explanation.plans if plan.topic}
    for name in sorted(topics):
        relevance = explanation.relevance.get(name)
        if relevance is None:
            continue
        verdict = ">=" if relevance.passed else "<"
        how = "model" if relevance.model else "similarity to its descriptions"
        lines.append(style(f"TOPIC    {name}: score {relevance.score:.2f} {verdict} threshold "
                           f"{relevance.threshold:.2f} ({how})", fg="green" if relevance.passed else "red", bold=True))
        if relevance.nearest is not None:
            near = relevance.nearest
            lines.append(f'    nearest sentence: "{near.sentence}"')
            lines.append(f'    nearest description: "{near.anchor}" (similarity {near.similarity:.2f})')
    if topics:
        lines.append("")
    matched = {m.rule: m for m in explanation.matches}
    for plan in explanation.plans:
        terms = explanation.verdicts.get(plan.name)
        topic = explanation.relevance.get(plan.topic) if plan.topic else None
        decided = _how(plan, terms, topic)
        if plan.name in matched:
            lines.append(style(f"MATCH    {plan.name}{decided}", fg="green", bold=True))
            lines += [f"    {_highlight(hit, color)}" for hit in matched[plan.name].hits]
        else:
            lines.append(style(f"no match {plan.name}{decided}", fg="red", bold=True))
            if terms is not None:
                lines += [f"    {_shortened(reason)}" for reason in terms.reasons]
    return lines


def _shortened(reason: str, limit: int = 240) -> str:
    """A reason that quotes a long clause keeps its start and its verdict (the end), not the whole clause."""
    if len(reason) <= limit:
        return reason
    return f"{reason[:limit - 80].rstrip()} … {reason[-70:].lstrip()}"


def _how(plan: RulePlan, verdict: Verdict | None, relevance: Relevance | None) -> str:
    """How the rule's mode combined its terms and its topic, in a few words."""
    words = verdict is not None and verdict.matched
    meaning = relevance is not None and relevance.passed
    if plan.mode is Mode.KEYWORDS:
        return ""
    if plan.mode is Mode.TOPIC:
        return f" (topic {plan.topic} alone)"
    if plan.mode is Mode.EITHER:
        return (f" (its terms or topic {plan.topic}: terms {'yes' if words else 'no'}, "
                f"topic {'yes' if meaning else 'no'})")
    if words and not meaning:
        return f" (its terms occur, but topic {plan.topic} says no: a passing mention)"
    return f" (its terms and topic {plan.topic}: terms {'yes' if words else 'no'}, topic {'yes' if meaning else 'no'})"


def _highlight(hit: Hit, color: bool) -> str:
    start, end = hit.mark or (0, 0)
    term = hit.snippet[start:end]
    marked = click.style(term, fg="yellow", bold=True, underline=True) if color else f"[{term}]"
    return f'"{hit.term}" in {hit.field}: {hit.snippet[:start]}{marked}{hit.snippet[end:]}'


@dataclass
class RuleChange:
    rule: str
    now: int = 0                                                 # articles it matches now
    gained: list[StoredArticle] = field(default_factory=list)    # would now alert, did not before
    lost: list[StoredArticle] = field(default_factory=list)      # alerted before, would not now


def backtest(store: Store, assessor: Assessor, since: datetime, only: str | None = None
             ) -> tuple[int, list[RuleChange]]:
    articles = store.stored_articles(since)
    judge = assessor.judge
    planned = [p.name for p in judge.plans]
    names = planned + sorted({r for a in articles for r in a.rules} - set(planned))
    changes = {name: RuleChange(name) for name in names if only is None or name == only}
    languages = Languages()
    read = []
    for stored in articles:
        if stored.text is None:   # not extracted when it came in (no rule could match then): extract now
            document = read_kept(stored.page, stored.url)
            language = languages.detect(detection_text(stored.title, document.text), document.declared)
            read.append(Article(stored.title, document.text, language.code, language.confidence))
        else:
            read.append(Article(stored.title, stored.text, stored.language, stored.language_confidence))
    verdicts = assessor.assess_many(
        [View.of(stored.title, stored.summary, article.text) for stored, article in zip(articles, read)],
        [judge.ruleset.match(article) for article in read], [article.language for article in read], evidence=False)
    for stored, (matches, _) in zip(articles, verdicts):
        now = {m.rule for m in matches}
        for name, change in changes.items():
            change.now += name in now
            if name in now and name not in stored.rules:
                change.gained.append(stored)
            elif name in stored.rules and name not in now:
                change.lost.append(stored)
    return len(articles), list(changes.values())


def render_backtest(count: int, since: datetime, changes: list[RuleChange], color: bool) -> list[str]:
    style = click.style if color else (lambda text, **_: text)
    lines = [f"{count:,} articles kept since {since:%Y-%m-%d %H:%M} UTC", ""]
    for change in changes:
        if not change.gained and not change.lost:
            lines.append(f"{change.rule}: no change ({change.now} matching)")
            continue
        lines.append(style(f"{change.rule}: +{len(change.gained)} would now alert, "
                           f"-{len(change.lost)} would no longer alert ({change.now} matching)", bold=True))
        for sign, articles, fg in (("+", change.gained, "green"), ("-", change.lost, "red")):
            for article in articles:
                when = datetime.fromtimestamp(article.published, timezone.utc)
                lines.append(style(f"  {sign} {when:%Y-%m-%d}  {article.language or '--'}  {article.title}", fg=fg))
                lines.append(f"      {article.url}")
    return lines


def load_source(source: str) -> tuple[bytes, str] | None:
    """A local file's bytes and its file: URL, or None if ``source`` is not a file."""
    path = Path(source).expanduser()
    if path.is_file():
        return path.read_bytes(), path.resolve().as_uri()
    return None
