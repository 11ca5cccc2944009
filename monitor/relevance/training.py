"""Labelled articles -> examples -> a model; and how well a config judges a labelled file.

A labelled file is JSON Lines, one article a line, in the dev set's format:
``id``, ``lang``, ``title``, ``description`` (or ``text``), ``label``
(``relevant``, ``not_relevant``, or ``borderline``). Borderline items are never
scored. The guide gives that label to passing mentions, which the analyst does
not want alerted either, so training counts each as half a not-relevant
example (BORDERLINE_WEIGHT).

Evaluation judges each item exactly as ``check`` judges an article whose page
gives no more than its feed: the language detected from title and description
(the item's ``lang`` when detection is unsure), the keyword rules on title and
description, then the topics.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from monitor.errors import MonitorError
from monitor.language import LanguageDetector
from monitor.models import Article, Match
from monitor.relevance.assess import Assessor, Encode
from monitor.relevance.judge import Judge, Topic, View
from monitor.relevance.model import DEFAULT_C, DEFAULT_THRESHOLD, Examples, Model, train

LABELS = {"relevant": True, "not_relevant": False, "yes": True, "no": False}
# Half, not a full one: some borderline items are relevant to another reader. 5-fold on the dev set, at
# threshold 0.5: Dutch precision 0.87 -> 0.90 at the same recall; 0.3 and 0.7 do about as well (README).
BORDERLINE_WEIGHT = 0.5


class LabelsError(MonitorError):
    """A labelled file cannot be read. The message names the file and the line."""


@dataclass(frozen=True)
class Item:
    id: str
    lang: str | None
    title: str
    text: str
    relevant: bool
    source: str = ""            # the labelled file it came from (its name), for scores per file
    borderline: bool = False    # trained on as a passing mention (relevant False), never scored


def read_labels(path: Path, *, borderline: bool = False) -> list[Item]:
    """The items of a labelled file: the scored ones, and with ``borderline`` the borderline ones too."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LabelsError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsError(f"{path}: cannot read: {exc}") from None
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelsError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise LabelsError(f"{path}:{number}: each line must be a JSON object")
        label = row.get("label")
        if label == "borderline" and not borderline:
            continue
        if label not in LABELS and label != "borderline":
            raise LabelsError(f"{path}:{number}: label must be relevant, not_relevant or borderline, got {label!r}")
        title, text = row.get("title") or "", row.get("description") or row.get("text") or ""
        if not isinstance(title, str) or not isinstance(text, str):
            raise LabelsError(f"{path}:{number}: title and description must be strings")
        ident = str(row.get("id") or hashlib.sha1(f"{title}\n{text}".encode()).hexdigest()[:16])
        lang = row.get("lang") if isinstance(row.get("lang"), str) else None
        items.append(Item(ident, lang, title, text, LABELS.get(label, False), Path(path).name,
                          borderline=label == "borderline"))
    if not any(not item.borderline for item in items):
        raise LabelsError(f"{path}: no labelled items")
    return items


@dataclass
class Prepared:
    """Items with everything judging needs that does not depend on the model."""

    items: list[Item]
    languages: list[str | None]
    views: list[View]
    keyword_matches: list[list[Match]]
    examples: Examples


def prepare(items: Sequence[Item], judge: Judge, encode: Encode, detector: LanguageDetector) -> Prepared:
    languages, views, matches, signals = [], [], [], []
    for item in items:
        language = detector.detect(f"{item.title}\n{item.text}", item.lang)
        view = View.of(item.title, item.text, item.text)
        languages.append(language.code)
        views.append(view)
        matches.append(judge.ruleset.match(Article(item.title, item.text, language.code, language.confidence)))
        signals.append(judge.signals(view, language.code).values)
    vectors = encode([t for view in views for t in (view.text, view.title)]) if items else np.zeros((0, 512))
    rules = judge.keyword_rules
    examples = Examples(
        vectors[0::2].astype(np.float32), vectors[1::2].astype(np.float32),
        np.array(signals, dtype=np.float32).reshape(len(items), 3 * len(rules)), rules,
        np.array([item.relevant for item in items], dtype=bool),
        tuple(lang or item.lang or "" for item, lang in zip(items, languages)), tuple(item.id for item in items),
        np.array([BORDERLINE_WEIGHT if item.borderline else 1.0 for item in items]),
    )
    return Prepared(list(items), languages, views, matches, examples)


@dataclass
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    wrong: list[str] = field(default_factory=list)

    def add(self, alerted: bool, relevant: bool) -> None:
        if alerted and relevant:
            self.tp += 1
        elif alerted:
            self.fp += 1
        elif relevant:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def count(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


def score(prepared: Prepared, judge: Judge, encode: Encode, only: Sequence[int] | None = None,
          scores: dict[str, Scores] | None = None) -> dict[str, Scores]:
    """Judge the prepared items (or those at ``only``) with ``judge``, counting per language; borderline
    items are not counted."""
    scores = {} if scores is None else scores
    index = [i for i in (range(len(prepared.items)) if only is None else only) if not prepared.items[i].borderline]
    assessor = Assessor(judge, encode=_Reuse(prepared, encode))
    verdicts = assessor.assess_many([prepared.views[i] for i in index], [prepared.keyword_matches[i] for i in index],
                                    [prepared.languages[i] for i in index], evidence=False)
    for i, (matches, relevance) in zip(index, verdicts):
        item = prepared.items[i]
        alerted = bool(matches)
        counted = scores.setdefault(_key(item, prepared.languages[i]), Scores())
        counted.add(alerted, item.relevant)
        if alerted != item.relevant:
            shown = max((r.score for r in relevance.values()), default=None)
            how = ", ".join(m.rule for m in matches) or "no rule"
            counted.wrong.append(
                f"{'false alert' if alerted else 'missed'} {item.id} [{how}"
                + (f"; score {shown:.2f}" if shown is not None else "") + f"]: {item.title[:100]}")
    return scores


def _key(item: Item, detected: str | None) -> str:
    """Scores are kept per language, and per file when the items come from several ("items.jsonl en")."""
    language = item.lang or detected or "??"
    return f"{item.source} {language}" if item.source else language


class _Reuse:
    """An encoder that answers from the prepared embeddings when it can (evaluation encodes once)."""

    def __init__(self, prepared: Prepared, encode: Encode):
        self._known = {}
        for view, text, title in zip(prepared.views, prepared.examples.text, prepared.examples.title):
            self._known[view.text] = text
            self._known[view.title] = title
        self._encode = encode

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._known]
        if missing:
            self._known.update(zip(missing, self._encode(missing)))
        return np.array([self._known[t] for t in texts], dtype=np.float32).reshape(len(texts), -1)


def folds(ids: Sequence[str], k: int) -> list[int]:
    """A stable fold for each id (by hash), the same on every run and every machine."""
    return [int(hashlib.sha1(i.encode("utf-8")).hexdigest(), 16) % k for i in ids]


def cross_validate(prepared: Prepared, judge: Judge, encode: Encode, k: int, topic: str) -> dict[str, Scores]:
    """Train ``topic``'s model on k-1 folds, score the held-out fold; k times. Borderline items are never
    scored, so every fold trains on all of them, as `monitor train` does."""
    current = judge.topics[topic]
    c, threshold = _settings_of(current)
    anchors = Assessor(judge, encode=encode).anchor_vectors()[topic]
    fold_of = folds(prepared.examples.ids, k)
    scores: dict[str, Scores] = {}
    passing = [item.borderline for item in prepared.items]
    for fold in range(k):
        train_on = [i for i, f in enumerate(fold_of) if f != fold or passing[i]]
        held_out = [i for i, f in enumerate(fold_of) if f == fold and not passing[i]]
        if not held_out:
            continue
        model = train(prepared.examples.subset(train_on), anchors, c=c, threshold=threshold, keep_base=False)
        score(prepared, with_model(judge, topic, model), encode, held_out, scores)
    return scores


def _settings_of(topic: Topic) -> tuple[float, float]:
    if topic.model is None:
        return DEFAULT_C, DEFAULT_THRESHOLD
    return float(topic.model.meta.get("c", DEFAULT_C)), topic.model.threshold


def with_model(judge: Judge, topic: str, model: Model) -> Judge:
    topics = dict(judge.topics)
    old = topics[topic]
    threshold = old.threshold if old.model is not None else model.threshold
    topics[topic] = replace(old, model=model, threshold=threshold)
    return Judge(judge.ruleset, judge.plans, topics)


def train_topic(judge: Judge, topic: str, parts: Iterable[Examples], encode: Encode, *,
                feedback: Examples | None = None, feedback_weight: float = 1.0, meta: dict[str, Any] | None = None,
                threshold: float | None = None) -> Model:
    """A new model for ``topic`` from labelled examples (kept in the file as its base) and feedback.
    ``threshold``: the one the config sets for the topic, recorded in the file; else the model's own."""
    current = judge.topics[topic]
    c, own = _settings_of(current)
    threshold = threshold or own
    anchors = Assessor(judge, encode=encode).anchor_vectors()[topic]
    meta = dict(meta or {}, anchors=[list(current.anchors), list(current.not_about)])
    base = _unique(Examples.join(list(parts), judge.keyword_rules))
    if feedback is not None:
        feedback = replace(feedback, weights=feedback.weights * feedback_weight)
    everything = Examples.join([base] + ([feedback] if feedback is not None else []), judge.keyword_rules)
    model = train(everything, anchors, c=c, threshold=threshold, meta=meta, keep_base=False)
    return replace(model, base=base)


def _unique(examples: Examples) -> Examples:
    """One example per id, the last one given."""
    last = {ident: i for i, ident in enumerate(examples.ids)}
    return examples.subset(sorted(last.values()))
