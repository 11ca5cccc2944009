"""An article -> the rules it matches, with the encoder: the one place where judging meets embeddings.

The pipeline's judge stage (monitor.stages.judge) calls ``Assessor.assess``
(async: its encoder batches concurrent articles in a thread); ``explain``,
``backtest`` and ``evaluate`` call ``assess_many`` (one batch for all their
articles). Both score with ``_relevance`` and decide with ``Judge.decide``, so
an article is judged the same way everywhere.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Awaitable, Callable, Sequence

import numpy as np

from monitor.models import Article, Match, Relevance
from monitor.relevance.judge import Judge, Signals, Topic, View, nearest
from monitor.relevance.model import Anchors

Encode = Callable[[Sequence[str]], np.ndarray]
EncodeAsync = Callable[[Sequence[str]], Awaitable[np.ndarray]]


class Assessor:
    def __init__(self, judge: Judge, encode: Encode | None = None, encode_async: EncodeAsync | None = None):
        self.judge = judge
        self._encode = encode
        self._encode_async = encode_async
        self._anchors: dict[str, Anchors] = {}
        self._anchor_lock = asyncio.Lock() if encode_async else None

    # the pipeline ------------------------------------------------------------

    async def assess(self, view: View, keyword_matches: Sequence[Match], language: str | None,
                     *, no_terms: bool = False) -> list[Match]:
        """``no_terms``: no rule term occurs anywhere in the article (the prefilter said so), so the
        signals are zero without looking."""
        if not self.judge.uses_topics:
            return self.judge.decide(keyword_matches, {})
        assert self._encode_async is not None
        text, title = await self._encode_async([view.text, view.title])
        anchors = await self._anchor_vectors_async()
        signals = Signals(np.zeros(3 * len(self.judge.keyword_rules), np.float32)) if no_terms \
            else self.judge.signals(view, language)
        matches = self.judge.decide(keyword_matches, self._relevance(text, title, signals, anchors, language))
        if any(m.relevance for m in matches):
            sentences = view.sentences()
            vectors = await self._encode_async(sentences)
            matches = self._with_nearest(matches, sentences, vectors, anchors)
        return matches

    async def _anchor_vectors_async(self) -> dict[str, Anchors]:
        assert self._anchor_lock is not None and self._encode_async is not None
        async with self._anchor_lock:
            for name, topic in self.judge.topics.items():
                if name not in self._anchors:
                    vectors = await self._encode_async(list(topic.anchors + topic.not_about))
                    self._anchors[name] = _split(topic, vectors)
        return self._anchors

    # explain, backtest, evaluate -------------------------------------------------

    def assess_many(self, views: Sequence[View], keyword_matches: Sequence[Sequence[Match]],
                    languages: Sequence[str | None], *, evidence: bool = True
                    ) -> list[tuple[list[Match], dict[str, Relevance]]]:
        """Every article's matches, and every topic's verdict on it (passed or not)."""
        if not self.judge.uses_topics:
            return [(self.judge.decide(m, {}), {}) for m in keyword_matches]
        assert self._encode is not None
        anchors = self.anchor_vectors()
        vectors = self._encode([t for view in views for t in (view.text, view.title)])
        out = []
        for i, (view, matches, language) in enumerate(zip(views, keyword_matches, languages)):
            relevance = self._relevance(vectors[2 * i], vectors[2 * i + 1], self.judge.signals(view, language), anchors,
                                        language)
            decided = self.judge.decide(matches, relevance)
            if evidence:
                sentences = view.sentences()
                sentence_vectors = self._encode(sentences)
                decided = self._with_nearest(decided, sentences, sentence_vectors, anchors)
                relevance = {name: replace(r, nearest=nearest(sentences, sentence_vectors,
                                                              self.judge.topics[name].anchors, anchors[name].about))
                             for name, r in relevance.items()}
            out.append((decided, relevance))
        return out

    def assess_article(self, article: Article, summary: str = "") -> tuple[list[Match], dict[str, Relevance]]:
        """One article judged as the pipeline would: keywords on its text, topics on its title and lead."""
        view = View.of(article.title, summary, article.text)
        return self.assess_many([view], [self.judge.ruleset.match(article)], [article.language])[0]

    def anchor_vectors(self) -> dict[str, Anchors]:
        assert self._encode is not None
        for name, topic in self.judge.topics.items():
            if name not in self._anchors:
                self._anchors[name] = _split(topic, self._encode(list(topic.anchors + topic.not_about)))
        return self._anchors

    # shared ------------------------------------------------------------------

    def _relevance(self, text: np.ndarray, title: np.ndarray, signals: Signals,
                   anchors: dict[str, Anchors], language: str | None) -> dict[str, Relevance]:
        return {
            name: Relevance(name, self.judge.score(topic, text, title, signals, anchors[name], language),
                            topic.threshold, topic.model is not None)
            for name, topic in self.judge.topics.items()
        }

    def _with_nearest(self, matches: list[Match], sentences: list[str], vectors: np.ndarray,
                      anchors: dict[str, Anchors]) -> list[Match]:
        out = []
        for match in matches:
            if match.relevance is not None:
                topic = self.judge.topics[match.relevance.topic]
                found = nearest(sentences, vectors, topic.anchors, anchors[topic.name].about)
                match = replace(match, relevance=replace(match.relevance, nearest=found))
            out.append(match)
        return out


def _split(topic: Topic, vectors: np.ndarray) -> Anchors:
    count = len(topic.anchors)
    return Anchors(vectors[:count], vectors[count:])
