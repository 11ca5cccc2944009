"""One pass of the work: a feed -> new entries -> articles -> matches -> outbox (-> monitor.delivery).

This is the only module that joins I/O (HTTP, the store, apprise) with the
pure steps (feed parsing, extraction, rules, rendering). Cheap checks come
first: a 304 ends a feed's work, a known entry costs one index lookup, an
old entry is recorded without being fetched, and an article already seen
through another feed is not read again.

Feed parsing and page reading (the quick text, then extraction) run in
worker processes (one per core); language detection and the sentence
encoder run in threads of this process, each loaded once, so the event loop
keeps fetching meanwhile. An article is judged by monitor.relevance: the
keyword rules on its text, its topics on its title and lead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from monitor import events as ev
from monitor import tasks
from monitor.config import FeedConfig, Settings
from monitor.delivery import DeliveryOutcome, Sender
from monitor.errors import BlockedAddress, FeedError, FetchError
from monitor.extract import MAX_PAGE_BYTES
from monitor.faults import NO_CRASH, CrashPoints
from monitor.feeds import ParsedFeed
from monitor.fetch import FEED_ACCEPT, HttpClient
from monitor.language import Language, LanguageDetector
from monitor.logs import kv
from monitor.models import Alert, Article, Entry
from monitor.notify import Notifier
from monitor.relevance.assess import Assessor
from monitor.relevance.judge import View
from monitor.render import alert_text, feed_down_text, feed_up_text
from monitor.schedule import next_poll_after_failure, next_poll_after_success, poll_offset
from monitor.store import DeliveryRow, FeedState, Store
from monitor.workers import CpuPool, WorkerError, release_memory

log = logging.getLogger("monitor.pipeline")

@dataclass
class FeedOutcome:
    feed: str
    ok: bool
    status: str                 # "200", "304" or "error"
    error: str | None = None
    new: int = 0                # entries never seen before
    alerts: int = 0             # articles that produced alerts
    first_look: int = 0         # entries a new feed already held: recorded as seen, not alerted
    cause: str | None = None    # the error without the URL: the same for feeds that fail alike


@dataclass
class PassReport:
    feeds: list[FeedOutcome]
    delivery: DeliveryOutcome
    undelivered: list[DeliveryRow]
    waiting: list[FeedState] = field(default_factory=list)   # not due yet: left alone by this pass


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: HttpClient,
        notifier: Notifier,
        cpu: CpuPool,
        *,
        assessor: Assessor | None = None,
        rng: random.Random | None = None,
        crash: CrashPoints = NO_CRASH,
        failure_level: int = logging.WARNING,
        events: ev.Events | None = None,
    ):
        self.settings = settings
        self.failure_level = failure_level   # check reports failed feeds itself, once: its log line is info
        self.store = store
        self.events = events or ev.logging_only()   # what happens is told as events: the log is one sink
        self.client = client
        self.notifier = notifier
        self.cpu = cpu
        self.rules = settings.ruleset
        self.judge = settings.judge
        self.assessor = assessor or Assessor(self.judge)   # with the encoder when topics are used (cli._runtime)
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.crash = crash
        self.sender = Sender(store, notifier, owner, attempts=settings.delivery_attempts,
                             max_age=settings.delivery_max_age, rng=rng, crash=crash,
                             events=self.events)
        self._reading: dict[str, asyncio.Event] = {}   # article URLs being read right now
        self._detector: LanguageDetector | None = None  # made when first needed
        self._detector_lock = asyncio.Lock()
        # pages fetched and not yet read are held in memory: let only a few be on their way at once
        self._reading_slots = asyncio.Semaphore(2 * cpu.size + 2)
        self._release_memory = release_memory()
        self._refusals_told: set[str] = set()   # feeds whose refused links were warned about once

    # feeds -----------------------------------------------------------------

    async def poll(self, feed: FeedConfig, now: datetime, clock: Callable[[], datetime]) -> FeedOutcome:
        """Fetch one feed and process its new entries; never raises for a feed's own faults.
        ``now`` is when the poll starts; ``clock`` tells when a failed attempt ended: its backoff
        counts from then, or a 30 s timeout would leave the feed due again at once."""
        cache = self.store.feed_cache(feed.name)
        try:
            response = await self.client.get(
                feed.url, trusted=True, accept=FEED_ACCEPT, etag=cache.etag, last_modified=cache.last_modified
            )
            parsed = None
            new = alerted = 0
            first_look = cache.first_polled is None and not feed.catch_up
            if not response.not_modified:
                parsed = await self.cpu.run(tasks.parse, feed.name, response.body, response.url,
                                            response.headers.get("content-type"),
                                            timeout=self.settings.extract_timeout.total_seconds())
                if parsed.declarations_removed:
                    log.warning(kv("feed_declarations_removed", feed=feed.name,
                                   reason="DOCTYPE or ENTITY declarations (entity expansion) taken out"))
                new, alerted, errors = await self._process_entries(feed, parsed, now, first_look=first_look)
                if errors:
                    return self._failed(feed, now, clock(), cache.errors + 1,
                                        f"{len(errors)} entries could not be processed: {errors[0]!r}")
        except (FetchError, FeedError, WorkerError) as exc:
            return self._failed(feed, now, clock(), cache.errors + 1, str(exc), getattr(exc, "retry_after", None),
                                cause=getattr(exc, "reason", None))
        except asyncio.CancelledError:
            self.store.reschedule(feed.name, now)   # interrupted: due again at once
            raise
        next_check = next_poll_after_success(
            now, feed.interval, cache_control=response.headers.get("cache-control"),
            ttl=parsed.ttl if parsed else None,
        ) + poll_offset(feed.name, feed.interval)
        # the validators are saved only once every entry is stored: a crash before
        # this point means the next poll gets the full feed again, not a 304
        recovered = self.store.record_success(
            feed.name, now, next_check, status=str(response.status), recovered=self._feed_up(feed, now),
            etag=response.etag, last_modified=response.last_modified, cache=parsed is not None,
        )
        if recovered:
            self.events.emit(ev.FeedRecovered(feed.name))
        self._release_memory()   # the feed's pages are gone: give their memory back
        self.events.emit(ev.FeedPolled(feed.name, response.status, len(parsed.entries) if parsed else None,
                                       new, alerted, next_check))
        if first_look and new:
            log.info(kv("feed_first_look", feed=feed.name, entries=new,
                        hint="a new feed: what it holds is recorded as seen; catch_up = true alerts it"))
        return FeedOutcome(feed.name, True, str(response.status), new=new, alerts=alerted,
                           first_look=new if first_look else 0)

    def _failed(self, feed: FeedConfig, now: datetime, ended: datetime, errors: int, reason: str,
                retry_after: str | None = None, *, cause: str | None = None) -> FeedOutcome:
        s = self.settings
        next_check = next_poll_after_failure(ended, feed.interval, errors, s.backoff_max,
                                             retry_after=retry_after) + poll_offset(feed.name, feed.interval)
        title, body = feed_down_text(feed=feed.name, url=feed.url, failures=max(errors, s.notice_after),
                                     error=reason, retry_at=next_check)
        count = self.store.record_failure(feed.name, now, next_check, error=reason, notice_after=s.notice_after,
                                          notice=self._to_everyone(title, body))
        self.events.emit(ev.FeedFailed(feed.name, count, reason, next_check, self.failure_level))
        return FeedOutcome(feed.name, False, "error", reason, cause=cause or reason)

    def _feed_up(self, feed: FeedConfig, now: datetime) -> list[Alert]:
        title, body = feed_up_text(feed=feed.name, url=feed.url, now=now)
        return self._to_everyone(title, body)

    def _to_everyone(self, title: str, body: str) -> list[Alert]:
        return [Alert(channel, title, body, targets) for channel, targets in self.notifier.every_target().items()
                if targets]

    async def _process_entries(
        self, feed: FeedConfig, parsed: ParsedFeed, now: datetime, *, first_look: bool = False
    ) -> tuple[int, int, list[BaseException]]:
        """Process the entries not seen before; returns (new, alerted, errors). On a new feed's
        ``first_look`` they are what it held before monitor knew it: recorded as seen, not read."""
        unique = list({entry.key: entry for entry in parsed.entries}.values())
        known = self.store.known_entries(feed.name, [entry.key for entry in unique])
        new = [entry for entry in unique if entry.key not in known]
        for _ in new:
            self.events.emit(ev.EntryNew(feed.name))
        if first_look:
            for entry in new:
                self.store.record_entry(entry, now, entry.published or now, status="first_look")
            return len(new), 0, []
        hint = feed.language or parsed.language
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
            self.store.record_entry(entry, now, published, status="too_old")
            return False
        if not entry.url:
            return await self._judge(entry, hint, now, published)
        # the same article may arrive through two feeds polled at once: read it once
        while (busy := self._reading.get(entry.url)) is not None:
            await busy.wait()
        if self.store.known_article(entry.url):
            self.store.record_entry(entry, now, published, status="duplicate")
            return False
        self._reading[entry.url] = done = asyncio.Event()
        try:
            return await self._judge(entry, hint, now, published)
        finally:
            del self._reading[entry.url]
            done.set()

    async def _judge(self, entry: Entry, hint: str | None, now: datetime, published: datetime) -> bool:
        started = time.perf_counter()
        reading = await self._read(entry)
        self.events.emit(ev.ArticleRead(entry.feed, ev.Reading(reading.source), time.perf_counter() - started))
        skipped = reading.source == tasks.SKIPPED   # no rule term occurs anywhere in the page
        if skipped and not self.judge.semantic:     # and no rule can match without one: keep it for backtest, done
            self.store.record_entry(entry, now, published, status="no_match", kept_page=reading.kept)
            return False
        view = View.of(entry.title, entry.summary, reading.text)
        if skipped:
            # the topics read the title and the feed's summary; the language matters only for an alert
            article = Article(entry.title, view.lead, None, 0.0)
            matches = await self.assessor.assess(view, [], None, no_terms=True)
            if matches:
                language = await self._language(view.text, hint, reading.page_language)
                article = Article(entry.title, view.lead, language.code, language.confidence)
        else:
            language = await self._language(f"{entry.title}\n{reading.text}", hint, reading.page_language)
            article = Article(entry.title, reading.text, language.code, language.confidence)
            matches = await self.assessor.assess(view, self.rules.match(article), language.code)
        alerts = []
        if matches:
            title, body = alert_text(
                title=entry.title, url=entry.url, feed=entry.feed, article=article, published=published, matches=matches
            )
            for channel in self.judge.channels_for(matches) or self.notifier.channels:
                targets = self.notifier.targets_for(channel)
                if targets:
                    alerts.append(Alert(channel, title, body, targets))
        score = max((m.relevance.score for m in matches if m.relevance), default=None)
        stored = self.store.record_entry(
            entry, now, published, status="matched" if matches else "no_match",
            article=article if not skipped or matches else None, text_source=None if skipped else reading.source,
            matches=matches, alerts=alerts, kept_text=None if skipped else reading.kept,
            kept_page=reading.kept if skipped else None, score=score,
        )
        if stored and alerts:
            self.crash.reached("after_match")
        if stored and matches:
            self.events.emit(ev.ArticleMatched(entry.feed, entry.url, article.language,
                                               tuple(m.rule for m in matches)))
        for alert in alerts if stored else ():
            self.events.emit(ev.AlertQueued(entry.feed, alert.channel))
        return stored and bool(alerts)

    async def _read(self, entry: Entry) -> tasks.PageReading:
        """The page's main text, or the feed's own text when the page cannot be fetched, is too big,
        takes too long to extract, or yields less than the feed; or SKIPPED when no rule can match."""
        if entry.url:
            try:
                async with self._reading_slots:
                    page = await self.client.get(entry.url, trusted=False)
                    if len(page.body) > MAX_PAGE_BYTES:
                        log.info(kv("page_too_large", feed=entry.feed, url=entry.url, bytes=len(page.body)))
                    else:
                        return await self.cpu.run(tasks.read_page, page.body, page.url, page.charset, entry.title,
                                                  entry.summary, timeout=self.settings.extract_timeout.total_seconds())
            except BlockedAddress as exc:   # a user's setting, not a fault: said once per feed, not per link
                told = entry.feed in self._refusals_told
                self._refusals_told.add(entry.feed)
                (log.info if told else log.warning)(kv(
                    "page_not_fetched", feed=entry.feed, url=entry.url, error=exc.reason,
                    hint=None if told else "private_networks = true lets monitor fetch such links; "
                                           "meanwhile the feed's summary is used"))
            except FetchError as exc:
                log.info(kv("page_not_fetched", feed=entry.feed, url=entry.url, error=exc.reason))
            except WorkerError as exc:
                log.warning(kv("page_not_extracted", feed=entry.feed, url=entry.url, error=str(exc)))
        return tasks.PageReading(tasks.FEED, entry.summary, zlib.compress(entry.summary.encode("utf-8"), 6), None)

    async def _language(self, text: str, *fallbacks: str | None) -> Language:
        """Detected here, not in the workers: the language profiles (~19 MB) are held once."""
        async with self._detector_lock:
            if self._detector is None:
                self._detector = await asyncio.to_thread(LanguageDetector)
        return await asyncio.to_thread(self._detector.detect, text, *fallbacks)

    def prune(self, now: datetime) -> None:
        """Forget the texts older than ``keep_text`` (the articles' records stay)."""
        count = self.store.prune_text(now - self.settings.keep_text)
        if count:
            log.info(kv("texts_pruned", articles=count))

    # a whole pass ------------------------------------------------------------

    async def check(self, clock: Callable[[], datetime], *, force: bool = False,
                    progress: Callable[[FeedOutcome, int], None] | None = None) -> PassReport:
        """``monitor check``: every feed that is due (every feed, with ``force``) once, then every
        pending alert. Due as for ``run``, so that backoff, Retry-After and the server's hints hold
        for a timer that runs ``check`` too. Feeds are not claimed: a pass that is killed leaves
        them due, and the next pass does their work."""
        now = clock()
        due = set(self.store.due_feeds(now))
        taken = [feed for feed in self.settings.feeds if force or feed.name in due]

        async def poll(feed: FeedConfig) -> FeedOutcome:
            outcome = await self.poll(feed, now, clock)
            if progress is not None:
                progress(outcome, len(taken))
            return outcome

        outcomes = await asyncio.gather(*(poll(feed) for feed in taken))
        delivery = await self.sender.deliver(clock, everything=True)
        self.prune(clock())
        undelivered = self.store.deliveries(["pending"]) + self.store.deliveries(["dead"], ids=delivery.dead)
        waiting = self.store.feed_states([f.name for f in self.settings.feeds if f not in taken])
        return PassReport(list(outcomes), delivery, sorted(undelivered, key=lambda row: row.id), waiting)
