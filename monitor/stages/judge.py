"""Judge an article: a PageReading -> the article as the rules saw it, and the rules it matches.

The judging itself is monitor.relevance.Assessor's, the same for explain and backtest; this stage
decides what the judge is given: a page no rule term occurs in is judged by its topics alone, on the
title and the feed's summary, and its language is detected only if it is to be alerted.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor import events as ev
from monitor import tasks
from monitor.models import Article, Entry, Match
from monitor.relevance.assess import Assessor
from monitor.relevance.judge import View
from monitor.stages.read import Languages, detection_text


@dataclass(frozen=True)
class Judged:
    article: Article          # what the rules read: the page's text, or the title and lead of a page skipped
    matches: list[Match]
    skipped: bool             # no rule term occurs anywhere in the page: it was not extracted


class ArticleJudge:
    def __init__(self, assessor: Assessor, languages: Languages, events: ev.Events):
        self.assessor = assessor
        self.languages = languages
        self.events = events

    async def judge(self, entry: Entry, reading: tasks.PageReading, hint: str | None) -> Judged:
        """``hint``: the language the feed declares (the page's own comes with the reading)."""
        judge = self.assessor.judge
        view = View.of(entry.title, entry.summary, reading.text)
        if reading.source == tasks.SKIPPED:
            article = Article(entry.title, view.lead, None, 0.0)
            if not judge.semantic:   # every rule needs a term, and none occurs: nothing can match
                return Judged(article, [], skipped=True)
            # the topics read the title and the feed's summary; the language matters only for an alert
            matches = await self.assessor.assess(view, [], None, no_terms=True)
            if matches:
                language = await self.languages.detect_async(view.text, hint, reading.page_language)
                article = Article(entry.title, view.lead, language.code, language.confidence)
            return Judged(article, matches, skipped=True)
        language = await self.languages.detect_async(detection_text(entry.title, reading.text), hint,
                                                     reading.page_language)
        article = Article(entry.title, reading.text, language.code, language.confidence)
        with self.events.timed(ev.Stage.MATCH):
            keyword_matches = judge.ruleset.match(article)
        matches = await self.assessor.assess(view, keyword_matches, language.code)
        return Judged(article, matches, skipped=False)
