"""Poll a feed: a conditional GET, the body parsed in a worker; then, once its entries are dealt
with, when to poll it again (backoff after failures) and the notices when it fails or recovers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor import events as ev
from monitor import tasks
from monitor.feed import Feed
from monitor.feeds import ParsedFeed
from monitor.fetch import FEED_ACCEPT, HttpClient, Response
from monitor.logs import kv
from monitor.models import FeedStatus
from monitor.schedule import next_poll_after_failure, next_poll_after_success, poll_offset
from monitor.stages.compose import Composer
from monitor.store import FeedCache, Store
from monitor.workers import CpuPool

log = logging.getLogger("monitor.pipeline")   # the stages log as the pipeline they make up


@dataclass
class FeedOutcome:
    feed: str
    status: FeedStatus
    error: str | None = None
    new: int = 0                # entries never seen before
    alerts: int = 0             # articles that produced alerts
    first_look: int = 0         # entries a new feed already held: recorded as seen, not alerted
    cause: str | None = None    # the error without the URL: the same for feeds that fail alike

    @property
    def ok(self) -> bool:
        return self.status is not FeedStatus.FAILED


@dataclass(frozen=True)
class Polled:
    """A feed fetched: its entries (none on a 304), and what the store knew of it before."""

    feed: Feed
    response: Response
    parsed: ParsedFeed | None
    cache: FeedCache

    @property
    def first_look(self) -> bool:
        """A new feed's first poll: what it holds is recorded as seen, not alerted (unless it catches up)."""
        return self.cache.first_polled is None and not self.feed.catch_up


class FeedPoller:
    def __init__(self, store: Store, client: HttpClient, cpu: CpuPool, composer: Composer, *,
                 extract_timeout: timedelta, backoff_max: timedelta, notice_after: int, events: ev.Events,
                 failure_level: int):
        self.store = store
        self.events = events
        self.client = client
        self.cpu = cpu
        self.composer = composer
        self.extract_timeout = extract_timeout
        self.backoff_max = backoff_max
        self.notice_after = notice_after
        self.failure_level = failure_level

    async def fetch(self, feed: Feed, cache: FeedCache) -> Polled:
        """Raises FetchError, FeedError or WorkerError: the feed's own faults, for ``failed``."""
        with self.events.timed(ev.Stage.FETCH):
            response = await self.client.get(
                feed.url, trusted=True, accept=FEED_ACCEPT, etag=cache.etag, last_modified=cache.last_modified
            )
        parsed = None
        if not response.not_modified:
            with self.events.timed(ev.Stage.PARSE):
                parsed = await self.cpu.run(tasks.parse, feed.name, response.body, response.url,
                                            response.headers.get("content-type"),
                                            timeout=self.extract_timeout.total_seconds())
            if parsed.declarations_removed:
                log.warning(kv("feed_declarations_removed", feed=feed.name,
                               reason="DOCTYPE or ENTITY declarations (entity expansion) taken out"))
        return Polled(feed, response, parsed, cache)

    def succeeded(self, polled: Polled, now: datetime, *, new: int, alerted: int) -> FeedOutcome:
        """Every entry is stored: record the poll, with its validators, and when the next one is due.
        (Saved only now: a crash before this point means the next poll gets the full feed again, not a 304.)"""
        feed, response, parsed = polled.feed, polled.response, polled.parsed
        next_check = next_poll_after_success(
            now, feed.interval, cache_control=response.headers.get("cache-control"),
            ttl=parsed.ttl if parsed else None,
        ) + poll_offset(feed.name, feed.interval)
        recovered = self.store.record_success(
            feed.name, now, next_check, status=str(response.status), recovered=self.composer.feed_up(feed, now),
            etag=response.etag, last_modified=response.last_modified, cache=parsed is not None,
        )
        if recovered:
            self.events.emit(ev.FeedRecovered(feed.name))
        self.events.emit(ev.FeedPolled(feed.name, response.status, len(parsed.entries) if parsed else None,
                                       new, alerted, next_check))
        if polled.first_look and new:
            log.info(kv("feed_first_look", feed=feed.name, entries=new,
                        hint="a new feed: what it holds is recorded as seen; catch_up = true alerts it"))
        status = FeedStatus.UNCHANGED if response.not_modified else FeedStatus.FETCHED
        return FeedOutcome(feed.name, status, new=new, alerts=alerted, first_look=new if polled.first_look else 0)

    def failed(self, feed: Feed, now: datetime, ended: datetime, errors: int, reason: str,
               retry_after: str | None = None, *, cause: str | None = None) -> FeedOutcome:
        """``errors``: the failures in a row, this one included; the backoff counts from ``ended``."""
        next_check = next_poll_after_failure(ended, feed.interval, errors, self.backoff_max,
                                             retry_after=retry_after) + poll_offset(feed.name, feed.interval)
        notice = self.composer.feed_down(feed, failures=max(errors, self.notice_after), error=reason,
                                         retry_at=next_check)
        count = self.store.record_failure(feed.name, now, next_check, error=reason, notice_after=self.notice_after,
                                          notice=notice)
        self.events.emit(ev.FeedFailed(feed.name, count, reason, next_check, self.failure_level))
        return FeedOutcome(feed.name, FeedStatus.FAILED, reason, cause=cause or reason)
