"""One pass of the work: a feed -> new entries -> articles -> matches -> outbox (-> monitor.delivery).

The pipeline runs the stages (monitor.stages) in order for each new entry of a feed:
read it, judge it, compose its alerts, record it. What is left here is deciding which
entries are worth reading at all, cheapest check first: a 304 ends a feed's work, a
known entry costs one index lookup, an old entry is recorded without being fetched,
and an article already seen through another feed is not read again (the same article
arriving through two feeds polled at once is read once: see ``_process``).

Feed parsing and page reading (the quick text, then extraction) run in worker
processes (monitor.workers, one per core); language detection and the sentence
encoder run in threads of this process, each loaded once, so the event loop keeps
fetching meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

from monitor import events as ev
from monitor.config import Settings
from monitor.delivery import DeliveryOutcome, Sender
from monitor.errors import FeedError, FetchError, WorkerError
from monitor.feed import Feed
from monitor.logs import kv
from monitor.models import ArticleStatus, DeliveryStatus, Entry
from monitor.stages.compose import Composer
from monitor.stages.judge import ArticleJudge
from monitor.stages.poll import FeedOutcome, FeedPoller
from monitor.stages.read import Reader
from monitor.stages.record import Recorder
from monitor.store import DeliveryRow, FeedState, Store
from monitor.workers import release_memory

__all__ = ["FeedOutcome", "PassReport", "Pipeline"]

log = logging.getLogger("monitor.pipeline")


@dataclass
class PassReport:
    feeds: list[FeedOutcome]
    delivery: DeliveryOutcome
    undelivered: list[DeliveryRow]
    waiting: list[FeedState] = field(default_factory=list)   # not due yet: left alone by this pass


@dataclass(frozen=True)
class Stages:
    poller: FeedPoller
    reader: Reader
    judge: ArticleJudge
    composer: Composer
    recorder: Recorder


class Pipeline:
    def __init__(self, settings: Settings, store: Store, stages: Stages, events: ev.Events):
        self.settings = settings
        self.store = store
        self.stages = stages
        self.events = events   # what happens is told as events: the log is one sink, the status page others
        self._reading: dict[str, asyncio.Event] = {}   # article URLs being read right now
        self._release_memory = release_memory()

    # feeds -----------------------------------------------------------------

    async def poll(self, feed: Feed, now: datetime, clock: Callable[[], datetime]) -> FeedOutcome:
        """Fetch one feed and process its new entries; never raises for a feed's own faults.
        ``now`` is when the poll starts; ``clock`` tells when a failed attempt ended: its backoff
        counts from then, or a 30 s timeout would leave the feed due again at once."""
        poller = self.stages.poller
        cache = self.store.feed_cache(feed.name)
        try:
            polled = await poller.fetch(feed, cache)
            new = alerted = 0
            if polled.parsed is not None:
                hint = feed.language or polled.parsed.language
                new, alerted, errors = await self._process_entries(feed, polled.parsed.entries, hint, now,
                                                                   first_look=polled.first_look)
                if errors:
                    return poller.failed(feed, now, clock(), cache.errors + 1,
                                         f"{len(errors)} entries could not be processed: {errors[0]!r}")
        except (FetchError, FeedError, WorkerError) as exc:
            return poller.failed(feed, now, clock(), cache.errors + 1, str(exc), getattr(exc, "retry_after", None),
                                 cause=getattr(exc, "reason", None))
        except asyncio.CancelledError:
            self.store.reschedule(feed.name, now)   # interrupted: due again at once
            raise
        outcome = poller.succeeded(polled, now, new=new, alerted=alerted)
        self._release_memory()   # the feed's pages are gone: give their memory back
        return outcome

    async def _process_entries(
        self, feed: Feed, entries: Sequence[Entry], hint: str | None, now: datetime, *, first_look: bool = False
    ) -> tuple[int, int, list[BaseException]]:
        """Process the entries not seen before; returns (new, alerted, errors). On a new feed's
        ``first_look`` they are what it held before monitor knew it: recorded as seen, not read.
        ``hint``: the language the feed declares."""
        unique = list({entry.key: entry for entry in entries}.values())
        known = self.store.known_entries(feed.name, [entry.key for entry in unique])
        new = [entry for entry in unique if entry.key not in known]
        for _ in new:
            self.events.emit(ev.EntryNew(feed.name))
        if first_look:
            for entry in new:
                self.stages.recorder.seen(entry, now, entry.published or now, ArticleStatus.FIRST_LOOK)
            return len(new), 0, []
        results = await asyncio.gather(*(self._process(entry, hint, now) for entry in new), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            if isinstance(error, asyncio.CancelledError):
                raise error
            log.error(kv("entry_failed", feed=feed.name, error=repr(error)), exc_info=error)
        return len(new), sum(r is True for r in results), errors

    async def _process(self, entry: Entry, hint: str | None, now: datetime) -> bool:
        """Read, judge and record one new entry. True when it produced alerts."""
        published = entry.published or now
        if published < now - self.settings.max_age:
            self.stages.recorder.seen(entry, now, published, ArticleStatus.TOO_OLD)
            return False
        if not entry.url:
            return await self._read_and_judge(entry, hint, now, published)
        # the same article may arrive through two feeds polled at once: read it once
        while (busy := self._reading.get(entry.url)) is not None:
            await busy.wait()
        if self.store.known_article(entry.url):
            self.stages.recorder.seen(entry, now, published, ArticleStatus.DUPLICATE)
            return False
        self._reading[entry.url] = done = asyncio.Event()
        try:
            return await self._read_and_judge(entry, hint, now, published)
        finally:
            del self._reading[entry.url]
            done.set()

    async def _read_and_judge(self, entry: Entry, hint: str | None, now: datetime, published: datetime) -> bool:
        stages = self.stages
        started = time.perf_counter()
        reading = await stages.reader.read(entry)
        self.events.emit(ev.ArticleRead(entry.feed, ev.Reading(reading.source), time.perf_counter() - started))
        judged = await stages.judge.judge(entry, reading, hint)
        alerts = stages.composer.alerts(entry, judged, published)
        stored = stages.recorder.judged(entry, now, published, reading, judged, alerts)
        return stored and bool(alerts)

    def prune(self, now: datetime) -> None:
        """Forget the texts older than ``keep_text`` (the articles' records stay)."""
        count = self.store.prune_text(now - self.settings.keep_text)
        if count:
            log.info(kv("texts_pruned", articles=count))

    # a whole pass ------------------------------------------------------------

    async def check(self, clock: Callable[[], datetime], sender: Sender, *, force: bool = False,
                    progress: Callable[[FeedOutcome, int], None] | None = None) -> PassReport:
        """``monitor check``: every feed that is due (every feed, with ``force``) once, then every
        pending alert. Due as for ``run``, so that backoff, Retry-After and the server's hints hold
        for a timer that runs ``check`` too. Feeds are not claimed: a pass that is killed leaves
        them due, and the next pass does their work."""
        now = clock()
        due = set(self.store.due_feeds(now))
        taken = [feed for feed in self.settings.feeds if force or feed.name in due]

        async def poll(feed: Feed) -> FeedOutcome:
            outcome = await self.poll(feed, now, clock)
            if progress is not None:
                progress(outcome, len(taken))
            return outcome

        outcomes = await asyncio.gather(*(poll(feed) for feed in taken))
        delivery = await sender.deliver(clock, everything=True)
        self.prune(clock())
        undelivered = (self.store.deliveries([DeliveryStatus.PENDING])
                       + self.store.deliveries([DeliveryStatus.DEAD], ids=delivery.dead))
        polled = {feed.name for feed in taken}   # by name: comparing 1,000 feeds with each other costs a second
        waiting = self.store.feed_states([f.name for f in self.settings.feeds if f.name not in polled])
        return PassReport(list(outcomes), delivery, sorted(undelivered, key=lambda row: row.id), waiting)
