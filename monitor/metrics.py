"""Prometheus metrics: a sink of monitor.events, with a registry of its own per runtime.

No global registry: two runtimes in one process (the tests start several)
count apart. Labels are bounded by the config: a feed's name, a channel, a
stage, a status; never an article, a URL or an error text. The outbox's
depth and age are read from the store when the metrics are scraped.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from monitor import events as ev

if TYPE_CHECKING:
    from monitor.store import OutboxDepth

CONTENT_TYPE = CONTENT_TYPE_LATEST   # what /metrics answers with

# from a quick 304 to a page that takes its whole extraction deadline
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.polls = Counter("monitor_feed_polls", "Feed polls that worked, by feed and HTTP status",
                             ["feed", "status"], registry=r)
        self.failures = Counter("monitor_feed_failures", "Feed polls that failed, by feed", ["feed"], registry=r)
        self.recoveries = Counter("monitor_feed_recoveries", "Feeds back after failures, by feed", ["feed"],
                                  registry=r)
        self.entries = Counter("monitor_entries_seen", "New entries seen in feeds, by feed", ["feed"], registry=r)
        self.articles = Counter("monitor_articles_read", "Articles read, by where their text came from "
                                "(page: extracted, feed: the feed's text, skipped: no rule term in the page)",
                                ["result"], registry=r)
        self.matched = Counter("monitor_articles_matched", "Articles that matched a rule, by feed", ["feed"],
                               registry=r)
        self.alerts = Counter("monitor_alerts_queued", "Alerts queued, by channel", ["channel"], registry=r)
        self.deliveries = Counter("monitor_deliveries", "Delivery attempts, by channel and outcome "
                                  "(sent, failed, dead)", ["channel", "status"], registry=r)
        self.stages = Histogram("monitor_stage_seconds", "Time per stage of the work", ["stage"],
                                buckets=_BUCKETS, registry=r)
        self.reading = Histogram("monitor_article_read_seconds", "Time to fetch and read one article",
                                 buckets=_BUCKETS, registry=r)
        self.restarts = Counter("monitor_worker_restarts", "Worker processes replaced, by reason", ["reason"],
                                registry=r)
        self.ticks = Counter("monitor_ticks", "Ticks of the daemon's clock, by outcome", ["outcome"], registry=r)
        self.last_tick = Gauge("monitor_last_tick_timestamp_seconds", "When the daemon's clock last ticked "
                               "with success (Unix time)", registry=r)
        self.outbox_depth = Gauge("monitor_outbox_depth", "Deliveries waiting in the outbox", registry=r)
        self.outbox_age = Gauge("monitor_outbox_oldest_pending_age_seconds",
                                "Age of the oldest delivery waiting in the outbox (0 when none waits)", registry=r)
        self.dead = Gauge("monitor_dead_letters", "Deliveries given up on (dead letters)", registry=r)
        for stage in ev.Stage:   # every stage shows from the start, even before its first observation
            self.stages.labels(stage.value)
        for reading in ev.Reading:
            self.articles.labels(reading.value)

    def handle(self, event: ev.Event) -> None:
        match event:
            case ev.FeedPolled():
                self.polls.labels(event.feed, str(event.status)).inc()
            case ev.FeedFailed():
                self.failures.labels(event.feed).inc()
            case ev.FeedRecovered():
                self.recoveries.labels(event.feed).inc()
            case ev.EntryNew():
                self.entries.labels(event.feed).inc()
            case ev.ArticleRead():
                self.articles.labels(event.reading.value).inc()
                self.reading.observe(event.seconds)
            case ev.ArticleMatched():
                self.matched.labels(event.feed).inc()
            case ev.AlertQueued():
                self.alerts.labels(event.channel).inc()
            case ev.DeliverySent():
                self.deliveries.labels(event.channel, "sent").inc()
            case ev.DeliveryFailed():
                self.deliveries.labels(event.channel, "failed").inc()
            case ev.DeliveryDead():
                self.deliveries.labels(event.channel, "dead").inc()
            case ev.StageTimed():
                self.stages.labels(event.stage.value).observe(event.seconds)
            case ev.WorkerReplaced():
                self.restarts.labels(event.reason).inc()
            case ev.TickDone():
                self.ticks.labels("failed" if event.error else "ok").inc()
                if not event.error:
                    self.last_tick.set(event.at.timestamp())

    def render(self, outbox: OutboxDepth, now: datetime) -> bytes:
        """The text format, with the outbox gauges read now. ``outbox``: the store's ``OutboxDepth``."""
        self.outbox_depth.set(outbox.pending)
        self.outbox_age.set(max(0.0, now.timestamp() - outbox.oldest_pending) if outbox.oldest_pending else 0.0)
        self.dead.set(outbox.dead)
        return generate_latest(self.registry)
