"""Tools for the person writing rules: ``monitor explain`` and ``monitor backtest``.

``explain`` reads one page (a URL or a file), takes its main text and its
language as the pipeline would, and shows every rule's verdict: the matched
terms highlighted in context, or the clause that failed. ``backtest`` runs the
current rules again over the texts kept in the database (``keep_text``) and
shows, per rule, what would now alert that did not, and what no longer would.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import click

from monitor.extract import extract_text, headline, page_language
from monitor.language import Language, LanguageDetector
from monitor.models import Article, Hit
from monitor.rules import RuleSet, Verdict
from monitor.store import Store, StoredArticle
from monitor.text import tidy

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


@dataclass
class Reading:
    source: str
    title: str
    text: str
    language: Language
    how: str            # how the language was decided
    size: int


def read(body: bytes, source: str, *, charset: str | None = None, forced_language: str | None = None) -> Reading:
    """What the rules would see of a page (or of a plain-text file)."""
    if b"<" in body[:4096]:
        text = extract_text(body, source, charset)
        # the title the pipeline would see is the feed's: the headline, not the <title> with its site name
        title = headline(body, source, charset)
        found = None if title else _TITLE.search(body[:200_000])
        title = title or (tidy(html.unescape(found.group(1).decode(charset or "utf-8", "replace"))) if found else "")
        declared = page_language(body)
    else:
        text, title, declared = tidy(body.decode(charset or "utf-8", "replace")), "", None
    if forced_language:
        return Reading(source, title, text, Language(forced_language, 1.0, False), "given with --language", len(body))
    language = LanguageDetector().detect(f"{title}\n{text}", declared)
    if language.detected:
        how = f"detected, confidence {language.confidence:.2f}"
    elif language.code:
        how = f"from <html lang>; detection unsure ({language.confidence:.2f})"
    else:
        how = f"unknown: detection unsure ({language.confidence:.2f}) and no <html lang>"
    return Reading(source, title, text, language, how, len(body))


def explain(rules: RuleSet, reading: Reading, only: str | None = None) -> list[Verdict]:
    article = Article(reading.title, reading.text, reading.language.code, reading.language.confidence)
    return [v for v in rules.explain(article) if only is None or v.rule == only]


def render_explanation(reading: Reading, verdicts: list[Verdict], color: bool) -> list[str]:
    style = click.style if color else (lambda text, **_: text)
    lines = [
        f"Source:   {reading.source} ({reading.size:,} bytes)",
        f"Title:    {reading.title or '(none)'}",
        f"Language: {reading.language.code or 'unknown'} ({reading.how})",
        f"Text:     {len(reading.text):,} characters" + ("" if reading.text else " (no main text found)"),
        "",
    ]
    for verdict in verdicts:
        if verdict.matched:
            lines.append(style(f"MATCH    {verdict.rule}", fg="green", bold=True))
            lines += [f"    {_highlight(hit, color)}" for hit in verdict.hits]
        else:
            lines.append(style(f"no match {verdict.rule}", fg="red", bold=True))
            lines += [f"    {reason}" for reason in verdict.reasons]
    return lines


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


def backtest(store: Store, rules: RuleSet, since: datetime, only: str | None = None) -> tuple[int, list[RuleChange]]:
    articles = store.stored_articles(since)
    names = [r.name for r in rules.rules] + sorted({r for a in articles for r in a.rules} - {r.name for r in rules.rules})
    changes = {name: RuleChange(name) for name in names if only is None or name == only}
    detector = None
    for stored in articles:
        if stored.text is None:   # not extracted when it came in (no rule could match then): extract now
            detector = detector or LanguageDetector()
            text = extract_text(stored.page, stored.url) if stored.page else ""
            language = detector.detect(f"{stored.title}\n{text}", page_language(stored.page or b""))
            article = Article(stored.title, text, language.code, language.confidence)
        else:
            article = Article(stored.title, stored.text, stored.language, stored.language_confidence)
        now = {m.rule for m in rules.match(article)}
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
