"""One pass of the work: a feed -> new entries -> articles -> matches -> outbox -> delivery.

This is the only module that joins I/O (HTTP, the store, apprise) with the
pure steps (feed parsing, extraction, rules, rendering). Cheap checks come
first: a 304 ends a feed's work, a known entry costs one index lookup, an
old entry is recorded without being fetched, and an article already seen
through another feed is not read again.

Extraction and language detection run in worker processes (one per core),
feed parsing in a thread, so the event loop keeps fetching meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from monitor.config import FeedConfig, Settings
from monitor.errors import FeedError, FetchError
from monitor.extract import EXTRACT_TIMEOUT, MAX_PAGE_BYTES, Language, read_page, read_summary
from monitor.feeds import ParsedFeed, parse_feed
from monitor.fetch import FEED_ACCEPT, HttpClient
from monitor.logs import kv
from monitor.models import Alert, Article, Entry
from monitor.notify import Notifier
from monitor.render import alert_text
from monitor.rules import RuleSet
from monitor.store import Store, Undelivered
from monitor.workers import CpuPool, WorkerError

log = logging.getLogger("monitor.pipeline")

DELIVERY_LEASE = timedelta(minutes=5)     # a claim older than this is taken to be a crashed sender's
RETRY_FIRST = timedelta(seconds=30)       # first retry of a failed delivery, then doubling...
RETRY_MAX = timedelta(hours=1)            # ...up to this


@dataclass
class FeedOutcome:
    feed: str
    ok: bool
    status: str                 # "200", "304" or "error"
    error: str | None = None
    new: int = 0                # entries never seen before
    alerts: int = 0             # articles that produced alerts


@dataclass
class DeliveryOutcome:
    sent: int = 0
    failed: list[str] = field(default_factory=list)


@dataclass
class PassReport:
    feeds: list[FeedOutcome]
    delivery: DeliveryOutcome
    undelivered: list[Undelivered]


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: HttpClient,
        notifier: Notifier,
        cpu: CpuPool,
        *,
        rng: random.Random | None = None,
    ):
        self.settings = settings
        self.store = store
        self.client = client
        self.notifier = notifier
        self.cpu = cpu
        self.rules = RuleSet(settings.rules)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._rng = rng or random.Random()
        self._reading: dict[str, asyncio.Event] = {}   # article URLs being read right now

    # feeds -----------------------------------------------------------------

    async def poll(self, feed: FeedConfig, now: datetime) -> FeedOutcome:
        """Fetch one feed and process its new entries; never raises for a feed's own faults."""
        cache = self.store.feed_cache(feed.name)
        try:
            response = await self.client.get(
                feed.url, trusted=True, accept=FEED_ACCEPT, etag=cache.etag, last_modified=cache.last_modified
            )
            if response.not_modified:
                self.store.record_poll(feed.name, now, now + feed.interval, status="304")
                log.info(kv("feed_polled", feed=feed.name, status=304))
                return FeedOutcome(feed.name, True, "304")
            parsed = await asyncio.to_thread(
                parse_feed, feed.name, response.body, response.url, response.headers.get("content-type")
            )
        except (FetchError, FeedError) as exc:
            return self._feed_failed(feed, now, str(exc))
        except asyncio.CancelledError:
            self.store.record_poll(feed.name, now, now, status="interrupted")   # due again at once
            raise

        try:
            new, alerts, errors = await self._process_entries(feed, parsed, now)
        except asyncio.CancelledError:
            self.store.record_poll(feed.name, now, now, status="interrupted")
            raise
        if errors:
            outcome = self._feed_failed(feed, now, f"{len(errors)} entries could not be processed: {errors[0]!r}")
            outcome.new, outcome.alerts = new, alerts
            return outcome
        # the validators are saved only once every entry is stored: a crash before
        # this point means the next poll gets the full feed again, not a 304
        self.store.record_poll(
            feed.name, now, now + feed.interval, status=str(response.status),
            etag=response.etag, last_modified=response.last_modified, cache=True,
        )
        log.info(kv("feed_polled", feed=feed.name, status=response.status, entries=len(parsed.entries),
                    new=new, alerts=alerts))
        return FeedOutcome(feed.name, True, str(response.status), new=new, alerts=alerts)

    def _feed_failed(self, feed: FeedConfig, now: datetime, reason: str) -> FeedOutcome:
        self.store.record_poll(feed.name, now, now + feed.interval, status="error", error=reason)
        log.warning(kv("feed_failed", feed=feed.name, error=reason))
        return FeedOutcome(feed.name, False, "error", reason)

    async def _process_entries(
        self, feed: FeedConfig, parsed: ParsedFeed, now: datetime
    ) -> tuple[int, int, list[BaseException]]:
        """Process the entries not seen before; returns (new, alerted, errors)."""
        unique = list({entry.key: entry for entry in parsed.entries}.values())
        known = self.store.known_entries(feed.name, [entry.key for entry in unique])
        new = [entry for entry in unique if entry.key not in known]
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
        text, source, language = await self._read(entry, hint)
        article = Article(entry.title, text, language.code, language.confidence)
        matches = self.rules.match(article)
        alerts = []
        if matches:
            title, body = alert_text(
                title=entry.title, url=entry.url, feed=entry.feed, article=article, published=published, matches=matches
            )
            for channel in self.rules.channels_for(matches) or self.notifier.channels:
                targets = self.notifier.targets_for(channel)
                if targets:
                    alerts.append(Alert(channel, title, body, targets))
        stored = self.store.record_entry(
            entry, now, published, status="matched" if matches else "no_match",
            article=article, text_source=source, matches=matches, alerts=alerts,
        )
        if stored and matches:
            log.info(kv("article_matched", feed=entry.feed, url=entry.url, language=article.language,
                        rules=",".join(m.rule for m in matches)))
        return stored and bool(alerts)

    async def _read(self, entry: Entry, hint: str | None) -> tuple[str, str, Language]:
        """(text, source, language): the page's main text, or the feed's own text when the page
        cannot be fetched, is too big, takes too long to extract, or yields less than the feed."""
        if entry.url:
            try:
                page = await self.client.get(entry.url, trusted=False)
                if len(page.body) > MAX_PAGE_BYTES:
                    log.info(kv("page_too_large", feed=entry.feed, url=entry.url, bytes=len(page.body)))
                else:
                    return await self.cpu.run(read_page, page.body, page.url, page.charset, entry.title,
                                              entry.summary, hint, timeout=EXTRACT_TIMEOUT)
            except FetchError as exc:
                log.info(kv("page_not_fetched", feed=entry.feed, url=entry.url, error=exc.reason))
            except WorkerError as exc:
                log.warning(kv("page_not_extracted", feed=entry.feed, url=entry.url, error=str(exc)))
        try:
            language = await self.cpu.run(read_summary, entry.title, entry.summary, hint, timeout=EXTRACT_TIMEOUT)
        except WorkerError as exc:
            log.warning(kv("language_not_detected", feed=entry.feed, url=entry.url, error=str(exc)))
            language = Language(hint, 0.0, False)
        return entry.summary, "feed", language

    # delivery --------------------------------------------------------------

    async def deliver(self, clock: Callable[[], datetime], *, everything: bool = False,
                      stop: Callable[[], bool] = lambda: False) -> DeliveryOutcome:
        """Send what is due (everything pending, if asked), each delivery at most once per call.

        Stops between sends when ``stop()`` says so, and gives back what it had claimed.
        """
        outcome = DeliveryOutcome()
        last_id = 0
        while not stop():
            now = clock()
            batch = self.store.claim_deliveries(
                now, DELIVERY_LEASE, self.owner, after_id=last_id,
                due_by=now + timedelta(days=36500) if everything else None,
            )
            if not batch:
                break
            last_id = batch[-1].id
            for index, delivery in enumerate(batch):
                if stop():
                    self.store.release_claims([d.id for d in batch[index:]], self.owner)
                    return outcome
                error = await self.notifier.send(delivery)
                if error is None:
                    self.store.mark_sent(delivery.id, self.owner, clock())
                    outcome.sent += 1
                    log.info(kv("alert_sent", delivery=delivery.id, channel=delivery.channel,
                                target=self.notifier.label(delivery.target)))
                    continue
                gone = not self.notifier.knows(delivery.target)
                retry_at = clock() + self._backoff(delivery.attempts)
                self.store.mark_failed(delivery.id, self.owner, error, retry_at, dead=gone)
                outcome.failed.append(f"alert {delivery.id} to {delivery.channel}: {error}")
                log.log(logging.ERROR if gone else logging.WARNING,
                        kv("alert_failed", delivery=delivery.id, channel=delivery.channel,
                           target=self.notifier.label(delivery.target), attempt=delivery.attempts,
                           retry_at=None if gone else retry_at.isoformat(timespec="seconds"), error=error))
        return outcome

    def _backoff(self, attempts: int) -> timedelta:
        base = min(RETRY_FIRST * 2 ** max(attempts - 1, 0), RETRY_MAX)
        return base * self._rng.uniform(0.8, 1.2)

    # a whole pass ------------------------------------------------------------

    async def check(self, clock: Callable[[], datetime]) -> PassReport:
        """``monitor check``: every feed once, then every pending alert."""
        now = clock()
        outcomes = await asyncio.gather(*(self.poll(feed, now) for feed in self.settings.feeds))
        delivery = await self.deliver(clock, everything=True)
        return PassReport(list(outcomes), delivery, self.store.undelivered())
