"""``monitor run``: APScheduler as the clock, the store as the schedule.

Every tick the daemon asks the store which feeds are due, claims each one
(so a ``monitor check`` or a second daemon on the same file does not poll it
at the same moment) and polls it as a task of its own. Each feed has its own
interval. Pending alerts are sent by one delivery task at a time.

Under systemd it says READY once the config and the database are open and
the clock runs, and pings the watchdog only from a tick that did its work.

SIGTERM or SIGINT stops the ticks, lets the alert being sent finish, and
cancels feed polls. Every write is one transaction, so a cancelled poll
leaves nothing half-written: its unprocessed entries are new again next time.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.delivery import DeliveryOutcome, Sender
from monitor.errors import MonitorError
from monitor.events import TickDone
from monitor.logs import kv
from monitor.pipeline import FeedOutcome, Pipeline
from monitor.systemd import Notify

log = logging.getLogger("monitor.daemon")


class Daemon:
    def __init__(self, pipeline: Pipeline, sender: Sender, clock: Callable[[], datetime], *, tick: float = 1.0,
                 grace: float = 10.0, systemd: Notify | None = None):
        self.pipeline = pipeline
        self.sender = sender
        self.clock = clock
        self.tick = tick
        self.grace = grace
        self.systemd = systemd or Notify({})
        self._last_ping = 0.0
        self._feeds = {feed.name: feed for feed in pipeline.settings.feeds}
        self._polls: dict[str, asyncio.Task[FeedOutcome]] = {}
        self._delivery: asyncio.Task[DeliveryOutcome] | None = None
        self._stopping = False
        self._waiting_told: float | None = None   # the next poll that the "all feeds waiting" line named

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        scheduler = AsyncIOScheduler(event_loop=loop, timezone=timezone.utc)
        scheduler.add_job(
            self._tick, IntervalTrigger(seconds=self.tick), id="tick",
            next_run_time=datetime.now(timezone.utc), max_instances=1, coalesce=True, misfire_grace_time=None,
        )
        scheduler.add_job(self._prune, IntervalTrigger(hours=1), id="prune",
                          next_run_time=datetime.now(timezone.utc), max_instances=1, coalesce=True)
        scheduler.start()
        log.info(kv("daemon_started", feeds=len(self._feeds), rules=len(self.pipeline.settings.rules)))
        self.systemd.send("READY=1", f"STATUS=watching {len(self._feeds)} feeds")
        try:
            await stop.wait()
        finally:
            log.info(kv("daemon_stopping"))
            self.systemd.send("STOPPING=1")
            scheduler.shutdown(wait=False)
            await self._drain()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        log.info(kv("daemon_stopped"))

    async def _tick(self) -> None:
        if self._stopping:
            return
        now = self.clock()
        try:
            self._dispatch()
            self.pipeline.store.record_heartbeat(now, self.sender.owner)   # for `monitor healthcheck`
        except MonitorError as exc:   # the database is unusable for now: say so, try again next tick
            self.pipeline.events.emit(TickDone(now, error=str(exc)))
            return
        self.pipeline.events.emit(TickDone(now))
        # the loop ran, work was handed out, and the heartbeat just written shows the database takes
        # writes: that is progress
        interval = self.systemd.watchdog_interval
        if interval and time.monotonic() - self._last_ping >= interval / 4:
            self.systemd.send("WATCHDOG=1")
            self._last_ping = time.monotonic()

    async def _prune(self) -> None:
        try:
            self.pipeline.prune(self.clock())
        except MonitorError as exc:
            log.error(kv("prune_failed", error=str(exc)))

    def _dispatch(self) -> None:
        now = self.clock()
        store = self.pipeline.store
        for name in store.due_feeds(now):
            feed = self._feeds.get(name)
            if feed is None or name in self._polls:
                continue
            if store.claim_feed(name, now, now + feed.interval):
                task = asyncio.create_task(self.pipeline.poll(feed, now, self.clock), name=f"poll:{name}")
                self._polls[name] = task
                task.add_done_callback(partial(self._finished, name))
        if not self._polls:
            self._tell_waiting(now)
        if self._delivery is None or self._delivery.done():
            self._delivery = asyncio.create_task(
                self.sender.deliver(self.clock, stop=lambda: self._stopping), name="deliver"
            )
            self._delivery.add_done_callback(partial(self._finished, None))

    def _tell_waiting(self, now: datetime) -> None:
        """One line when every feed waits for its next poll: which one is next, and when."""
        upcoming = self.pipeline.store.next_poll()
        if upcoming is None or upcoming.next_check <= now.timestamp() or upcoming.next_check == self._waiting_told:
            return
        self._waiting_told = upcoming.next_check
        due = datetime.fromtimestamp(upcoming.next_check, timezone.utc)
        log.info(kv("all_feeds_waiting", feeds=len(self._feeds), next_poll=due.isoformat(timespec="seconds"),
                    feed=upcoming.name, due_in=f"{max(0, round((due - now).total_seconds()))}s"))

    def _finished(self, name: str | None, task: asyncio.Task[Any]) -> None:
        if name is not None:
            self._polls.pop(name, None)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error(kv("task_failed", task=task.get_name(), error=repr(exc)), exc_info=exc)

    async def _drain(self) -> None:
        """Stop taking work: cancel polls, let the alert in flight finish within the grace period."""
        self._stopping = True
        polls = list(self._polls.values())
        for task in polls:
            task.cancel()
        pending: list[asyncio.Task[Any]] = [*polls]
        if self._delivery and not self._delivery.done():
            pending.append(self._delivery)
        if not pending:
            return
        done, late = await asyncio.wait(pending, timeout=self.grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=1.0)
