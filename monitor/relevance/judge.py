"""Keywords and meaning together: which rules an article matches, and why. Pure: no I/O, no clock.

The keyword rules (monitor.rules) read the title and the whole text. A topic
reads what a feed says of an article, its title and lead (the feed's summary,
or the start of the text when the feed gives none), because that is what the
analyst reads first and what the labelled examples hold. Its score is

* with a trained model: the model's probability that the article is relevant,
  from the two embeddings (title and lead, title alone), how near they are to
  the topic's descriptions and to the labelled examples the model learned
  from, the keyword rules' signals on the same title and lead (which rules
  hold, how many terms occur in the title and in all, so that one passing
  mention weighs less than a headline), and the language;
* without one: the similarity of the article to the topic's descriptions and
  examples (cosine of the embeddings, 0..1).

A rule then decides by its ``mode``: ``keywords`` (its terms alone),
``topic`` (the topic's score alone), ``either`` or ``both`` (its terms, and
the topic as a veto against passing mentions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from monitor.models import Article, Match, Nearest, Relevance
from monitor.relevance.model import Anchors, Examples, Model
from monitor.rules.spec import Mode

if TYPE_CHECKING:
    from monitor.rules import RuleSet

LEAD_CHARS = 600            # the lead the topic reads: about two paragraphs of a feed's summary
MIN_SUMMARY = 40            # a feed summary shorter than this is no lead: the text's start is used
SIMILARITY_THRESHOLD = 0.35  # a topic without a model: how close to its descriptions an article must be
MAX_SENTENCES = 12          # sentences compared with the descriptions, for the evidence


@dataclass(frozen=True)
class View:
    """What a topic reads of an article."""

    title: str
    lead: str

    @classmethod
    def of(cls, title: str, summary: str, text: str) -> "View":
        title = " ".join(title.split())
        lead = summary if len(summary.strip()) >= MIN_SUMMARY else text
        lines = [" ".join(line.split()) for line in lead.splitlines()]
        lines = [line for line in lines if line]
        if lines and title and lines[0].casefold() == title.casefold():   # a page's text often opens with its title
            lines = lines[1:]
        return cls(title, _cut("\n".join(lines), LEAD_CHARS))

    @property
    def text(self) -> str:
        if not self.lead:
            return self.title
        joint = "" if not self.title or self.title[-1:] in ".!?。！？" else "."
        return f"{self.title}{joint} {' '.join(self.lead.split())}".strip()

    def sentences(self) -> list[str]:
        found = [s.strip() for line in self.lead.splitlines() for s in _SENTENCE.split(line) if len(s.strip()) > 12]
        return ([self.title] if self.title else []) + found[: MAX_SENTENCES - 1]


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'“‘«„(]?[A-Z0-9À-ÖØ-ÞĀ-ſА-Я])|(?<=[。！？])")


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    space = max(text.rfind(" ", 0, limit), text.rfind("\n", 0, limit))
    return text[: space if space > limit // 2 else limit]


@dataclass(frozen=True)
class Topic:
    name: str
    anchors: tuple[str, ...]        # what it is about: its descriptions, then its examples
    not_about: tuple[str, ...]      # what passing mentions are about instead
    model: Model | None
    threshold: float


@dataclass(frozen=True)
class RulePlan:
    name: str
    topic: str | None
    mode: Mode
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Signals:
    """Keyword-rule signals on an article's title and lead, three per rule (see model.design)."""

    values: np.ndarray

    @classmethod
    def of(cls, rules: Sequence[str], matches: Iterable[Match]) -> "Signals":
        values = np.zeros(3 * len(rules), dtype=np.float32)
        where = {name: i for i, name in enumerate(rules)}
        for match in matches:
            if match.rule in where:
                i = where[match.rule]
                values[3 * i:3 * i + 3] = (1.0, sum(h.field == "title" for h in match.hits), len(match.hits))
        return cls(values)


class Judge:
    """The rules and topics of a config, compiled. Shared by check, run, explain, backtest and evaluate."""

    def __init__(self, ruleset: "RuleSet", plans: Sequence[RulePlan], topics: Mapping[str, Topic]):
        self.ruleset = ruleset
        self.plans = tuple(plans)
        self.topics = dict(topics)
        self.keyword_rules = tuple(rule.name for rule in ruleset.rules)

    @property
    def semantic(self) -> bool:
        """Some rule may match without any of its words: every article must be scored."""
        return any(p.mode in (Mode.TOPIC, Mode.EITHER) for p in self.plans)

    @property
    def uses_topics(self) -> bool:
        return any(p.topic for p in self.plans)

    def signals(self, view: View, language: str | None) -> Signals:
        return Signals.of(self.keyword_rules, self.ruleset.match(Article(view.title, view.lead, language, 1.0)))

    def score(self, topic: Topic, text: np.ndarray, title: np.ndarray, signals: Signals, anchors: Anchors,
              language: str | None) -> float:
        if topic.model is not None:
            example = Examples(text[None, :], title[None, :], signals.values[None, :], self.keyword_rules,
                               np.zeros(1, bool), (language or "",), ("",), np.ones(1))
            return float(topic.model.scores(example, anchors)[0])
        if not len(anchors.about):
            return 0.0
        return float(max(0.0, (anchors.about @ text).max()))

    def decide(self, keyword_matches: Sequence[Match], relevance: Mapping[str, Relevance]) -> list[Match]:
        """The rules that match, in config order, each with its evidence."""
        by_rule = {m.rule: m for m in keyword_matches}
        out = []
        for plan in self.plans:
            words = by_rule.get(plan.name)
            judged = relevance.get(plan.topic) if plan.topic else None
            meaning = judged is not None and judged.passed
            if plan.mode is Mode.KEYWORDS:
                ok = words is not None
            elif plan.mode is Mode.TOPIC:
                ok = meaning
            elif plan.mode is Mode.EITHER:
                ok = words is not None or meaning
            else:
                ok = words is not None and meaning
            if ok:
                out.append(Match(plan.name, words.hits if words else (), judged))
        return out

    def channels_for(self, matches: Iterable[Match]) -> tuple[str, ...]:
        by_name = {plan.name: plan for plan in self.plans}
        return tuple(dict.fromkeys(ch for m in matches for ch in by_name[m.rule].channels))


def nearest(sentences: Sequence[str], vectors: np.ndarray, anchors: Sequence[str],
            anchor_vectors: np.ndarray) -> Nearest | None:
    """The (sentence, description) pair with the highest similarity."""
    if not len(sentences) or not len(anchors):
        return None
    similarity = vectors @ anchor_vectors.T
    i, j = (int(k) for k in np.unravel_index(int(np.argmax(similarity)), similarity.shape))
    return Nearest(sentences[i], anchors[j], float(similarity[i, j]))
