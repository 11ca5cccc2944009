"""Pure rule matching: rules x article -> matches. No I/O, no clock.

Semantics (the README repeats them for users):

* A rule matches an article when its language test passes, at least one
  ``any`` term occurs (if ``any`` is given), every ``all`` term occurs and
  no ``none`` term occurs.
* ``languages``: the article's language must be one of them. An article
  whose language is unknown never passes a rule that lists languages.
* Terms are looked for in the title and the text, case-insensitively, as
  whole words or phrases on Unicode word boundaries. A hyphen is a boundary,
  so "H20-Chips" contains "H20". Inside a phrase, spaces and hyphens are
  equal: "export controls" finds "export-controls" and the reverse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from monitor.config import RuleConfig
from monitor.models import Article, Hit, Match

SNIPPET_CONTEXT = 60                    # characters either side of a hit
_JOINERS = "\\s\\-\u00ad\u2010-\u2015"  # whitespace, hyphen, soft hyphen, Unicode dashes
_SPLIT = re.compile(f"[{_JOINERS}]+")


def term_pattern(term: str) -> re.Pattern:
    words = [re.escape(word) for word in _SPLIT.split(term.strip()) if word]
    body = f"[{_JOINERS}]+".join(words)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class _Term:
    text: str
    pattern: re.Pattern

    def find(self, title: str, text: str) -> Hit | None:
        for field in (title, text):
            found = self.pattern.search(field)
            if found:
                return Hit(self.text, snippet(field, found.start(), found.end()))
        return None


@dataclass(frozen=True)
class CompiledRule:
    name: str
    any: tuple[_Term, ...]
    all: tuple[_Term, ...]
    none: tuple[_Term, ...]
    languages: frozenset[str]
    channels: tuple[str, ...]

    def match(self, article: Article) -> Match | None:
        if self.languages and article.language not in self.languages:
            return None
        title, text = article.title, article.text
        if any(term.find(title, text) for term in self.none):
            return None
        hits: list[Hit] = []
        for term in self.all:
            hit = term.find(title, text)
            if hit is None:
                return None
            hits.append(hit)
        if self.any:
            any_hits = [hit for hit in (term.find(title, text) for term in self.any) if hit]
            if not any_hits:
                return None
            hits = any_hits + hits
        return Match(self.name, tuple(hits))


class RuleSet:
    """The configured rules, compiled once when the config loads."""

    def __init__(self, rules: Sequence[RuleConfig]):
        self.rules = tuple(_compile(rule) for rule in rules)

    def match(self, article: Article) -> list[Match]:
        return [m for m in (rule.match(article) for rule in self.rules) if m is not None]

    def channels_for(self, matches: Iterable[Match]) -> tuple[str, ...]:
        by_name = {rule.name: rule for rule in self.rules}
        return tuple(dict.fromkeys(ch for m in matches for ch in by_name[m.rule].channels))


def _compile(rule: RuleConfig) -> CompiledRule:
    def terms(items: Iterable[str]) -> tuple[_Term, ...]:
        return tuple(_Term(t, term_pattern(t)) for t in dict.fromkeys(items))

    return CompiledRule(
        name=rule.name,
        any=terms(rule.any),
        all=terms(rule.all),
        none=terms(rule.none),
        languages=frozenset(rule.languages),
        channels=rule.channels,
    )


def snippet(text: str, start: int, end: int, context: int = SNIPPET_CONTEXT) -> str:
    """The hit with about ``context`` characters either side, cut at word boundaries."""
    left = max(0, start - context)
    right = min(len(text), end + context)
    if left > 0:
        space = text.find(" ", left, start)
        left = space + 1 if space != -1 else left
    if right < len(text):
        space = text.rfind(" ", end, right)
        right = space if space != -1 else right
    piece = " ".join(text[left:right].split())
    return ("…" if left > 0 else "") + piece + ("…" if right < len(text) else "")
