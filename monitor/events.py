"""What happens, as typed events, and the bus that hands each one to its sinks.

The pipeline, the sender and the daemon say what happened by emitting an
event; they do not format log lines or count metrics themselves. Three sinks
listen: ``LogSink`` writes the key=value line each event has always had,
``monitor.metrics.Metrics`` counts, and ``Recent`` keeps the last few for the
status page. A sink that fails is logged and skipped: an event never stops
the work that emitted it.
"""

from __future__ import annotations

import enum
import logging
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Callable, ClassVar, Iterator, Protocol

from monitor.logs import kv

log = logging.getLogger("monitor.events")


class Stage(enum.Enum):
    """The timed steps of the work (``monitor_stage_seconds``)."""

    FETCH = "fetch"        # an HTTP request: a feed or a page
    PARSE = "parse"        # a feed's body into entries, in a worker
    READ = "read"          # a page into its main text, in a worker
    MATCH = "match"        # the keyword rules over an article
    DELIVER = "deliver"    # one alert to one target


class Reading(enum.Enum):
    """Where an article's text came from (``tasks.PageReading.source``)."""

    EXTRACTED = "page"     # the page's main text
    FEED = "feed"          # the feed's own text: the page could not be fetched or read
    SKIPPED = "skipped"    # no rule term occurs in the page: not extracted


class Event:
    """Base of every event. ``line`` is its log line, or None when it has none."""

    logger: ClassVar[str] = "monitor.pipeline"

    def line(self) -> tuple[int, str] | None:
        return None


@dataclass(frozen=True)
class FeedPolled(Event):
    feed: str
    status: int                 # HTTP status: 200 or 304
    entries: int | None         # entries in the feed (None for a 304)
    new: int
    alerts: int
    next_check: datetime

    def line(self) -> tuple[int, str] | None:
        return logging.INFO, kv("feed_polled", feed=self.feed, status=self.status, entries=self.entries,
                                new=self.new, alerts=self.alerts, next=self.next_check.isoformat(timespec="seconds"))


@dataclass(frozen=True)
class FeedFailed(Event):
    feed: str
    failures: int               # in a row
    error: str
    retry_at: datetime
    level: int                  # warning; info under `check`, which reports failed feeds itself

    def line(self) -> tuple[int, str] | None:
        return self.level, kv("feed_failed", feed=self.feed, failures=self.failures, error=self.error,
                              retry_at=self.retry_at.isoformat(timespec="seconds"))


@dataclass(frozen=True)
class FeedRecovered(Event):
    feed: str

    def line(self) -> tuple[int, str] | None:
        return logging.WARNING, kv("feed_recovered", feed=self.feed)


@dataclass(frozen=True)
class EntryNew(Event):
    feed: str


@dataclass(frozen=True)
class ArticleRead(Event):
    feed: str
    reading: Reading
    seconds: float              # its cost: fetching the page and reading it


@dataclass(frozen=True)
class ArticleMatched(Event):
    feed: str
    url: str | None
    language: str | None
    rules: tuple[str, ...]

    def line(self) -> tuple[int, str] | None:
        return logging.INFO, kv("article_matched", feed=self.feed, url=self.url, language=self.language,
                                rules=",".join(self.rules))


@dataclass(frozen=True)
class AlertQueued(Event):
    feed: str
    channel: str


@dataclass(frozen=True)
class DeliveryEvent(Event):
    """What every delivery event names: the delivery, its channel, and the target's masked label."""

    logger: ClassVar[str] = "monitor.delivery"
    delivery: int
    channel: str
    target: str                 # the masked label, never the URL

    def _kv(self, event: str, **fields: object) -> str:
        """The log line's text: the event, what every delivery event names, then ``fields``."""
        return kv(event, delivery=self.delivery, channel=self.channel, target=self.target, **fields)


@dataclass(frozen=True)
class DeliverySent(DeliveryEvent):
    attempt: int

    def line(self) -> tuple[int, str] | None:
        return logging.INFO, self._kv("alert_sent", attempt=self.attempt)


@dataclass(frozen=True)
class DeliveryFailed(DeliveryEvent):
    attempt: int
    retry_at: datetime
    error: str

    def line(self) -> tuple[int, str] | None:
        return logging.WARNING, self._kv("alert_failed", attempt=self.attempt,
                                         retry_at=self.retry_at.isoformat(timespec="seconds"), error=self.error)


@dataclass(frozen=True)
class DeliveryDead(DeliveryEvent):
    attempts: int
    reason: str
    error: str
    title: str

    def line(self) -> tuple[int, str] | None:
        return logging.ERROR, self._kv("alert_dead", attempts=self.attempts, reason=self.reason, error=self.error,
                                       title=self.title)


@dataclass(frozen=True)
class TickDone(Event):
    """A tick of ``monitor run``'s clock: work handed out and the heartbeat written, or ``error``."""

    logger: ClassVar[str] = "monitor.daemon"
    at: datetime
    error: str | None = None

    def line(self) -> tuple[int, str] | None:
        return (logging.ERROR, kv("tick_failed", error=self.error)) if self.error else None


@dataclass(frozen=True)
class WorkerReplaced(Event):
    logger: ClassVar[str] = "monitor.workers"
    pid: int | None
    reason: str                 # crashed | timeout | died while idle

    def line(self) -> tuple[int, str] | None:
        return logging.WARNING, kv("worker_replaced", pid=self.pid, reason=self.reason)


@dataclass(frozen=True)
class StageTimed(Event):
    stage: Stage
    seconds: float


class Sink(Protocol):
    def handle(self, event: Event) -> None: ...


class Events:
    """The bus: ``emit`` hands an event to every sink, in order."""

    def __init__(self, *sinks: Sink):
        self.sinks: list[Sink] = list(sinks)

    def add(self, sink: Sink) -> None:
        self.sinks.append(sink)

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            try:
                sink.handle(event)
            except Exception as exc:  # a sink's bug must not stop a poll or a delivery
                log.error(kv("sink_failed", sink=type(sink).__name__, kind=type(event).__name__, error=repr(exc)))

    @contextmanager
    def timed(self, stage: Stage) -> Iterator[None]:
        """Emit how long the block took (a duration: the monotonic clock, not the wall clock)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.emit(StageTimed(stage, time.perf_counter() - started))


def logging_only() -> Events:
    return Events(LogSink())


class LogSink:
    """Each event's key=value line, under the logger of the module that used to write it."""

    def handle(self, event: Event) -> None:
        line = event.line()
        if line is not None:
            logging.getLogger(event.logger).log(*line)


class Recent:
    """The last ``size`` events worth showing on the status page, newest first, stamped on arrival."""

    SHOWN = (FeedPolled, FeedFailed, FeedRecovered, ArticleMatched, DeliverySent, DeliveryFailed, DeliveryDead,
             WorkerReplaced)

    def __init__(self, clock: Callable[[], datetime], size: int = 100):
        self.clock = clock
        self._items: deque[dict[str, Any]] = deque(maxlen=size)

    def handle(self, event: Event) -> None:
        if not isinstance(event, self.SHOWN):
            return
        fields = {k: (v.isoformat(timespec="seconds") if isinstance(v, datetime) else
                      v.value if isinstance(v, enum.Enum) else v)
                  for k, v in asdict(event).items() if k != "level"}
        self._items.appendleft({"at": self.clock().isoformat(timespec="seconds"),
                                "kind": _snake(type(event).__name__), **fields})

    def items(self) -> list[dict[str, Any]]:
        return list(self._items)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
