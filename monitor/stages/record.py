"""Record an entry: the entry, its article, its matches and its alerts, in one transaction.

The last stage: once it returns, the entry is known and its alerts are in the outbox.
"""

from __future__ import annotations

from datetime import datetime

from monitor import events as ev
from monitor import tasks
from monitor.faults import CrashPoints
from monitor.models import Alert, ArticleStatus, Entry
from monitor.stages.judge import Judged
from monitor.store import Store


class Recorder:
    def __init__(self, store: Store, crash: CrashPoints, events: ev.Events):
        self.store = store
        self.crash = crash
        self.events = events

    def seen(self, entry: Entry, now: datetime, published: datetime, status: ArticleStatus) -> None:
        """An entry not read (too old, a duplicate, or what a new feed held): recorded as seen."""
        self.store.record_entry(entry, now, published, status=status)

    def judged(self, entry: Entry, now: datetime, published: datetime, reading: tasks.PageReading,
               judged: Judged, alerts: list[Alert]) -> bool:
        """An entry read and judged. False when another process recorded it first."""
        matches = judged.matches
        skipped = judged.skipped
        score = max((m.relevance.score for m in matches if m.relevance), default=None)
        stored = self.store.record_entry(
            entry, now, published, status=ArticleStatus.MATCHED if matches else ArticleStatus.NO_MATCH,
            article=judged.article if not skipped or matches else None,
            text_source=None if skipped else reading.source,
            matches=matches, alerts=alerts, kept_text=None if skipped else reading.kept,
            kept_page=reading.kept if skipped else None, score=score,
        )
        if stored and alerts:
            self.crash.reached("after_match")
        if stored and matches:
            self.events.emit(ev.ArticleMatched(entry.feed, entry.url, judged.article.language,
                                               tuple(m.rule for m in matches)))
        for alert in alerts if stored else ():
            self.events.emit(ev.AlertQueued(entry.feed, alert.channel))
        return stored
