"""From the outbox to apprise: claim, send, mark; retry with backoff; give up into dead letters.

Deliveries are claimed in batches. Each target gets a task of its own, so a
slow or failing target never holds up the others; within a target the
alerts go out in order. When a target fails, the rest of its batch is put
back untried, due when the failed one is retried. A delivery that has failed
``attempts`` times, or is older than ``max_age``, becomes a dead letter:
logged at error level, kept for ``monitor alerts``, and sent again only after
``monitor retry``. The deliveries to a target that has left the config all
become dead letters at once, before anything is sent, with one log line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from monitor import events as ev
from monitor.faults import NO_CRASH, CrashPoints
from monitor.logs import kv
from monitor.models import Delivery
from monitor.notify import Notifier
from monitor.schedule import retry_delay
from monitor.store import Store

log = logging.getLogger("monitor.delivery")

LEASE = timedelta(minutes=5)   # a claim older than this is taken to be a crashed sender's
BATCH = 100


@dataclass
class DeliveryOutcome:
    sent: int = 0
    dead: list[int] = field(default_factory=list)   # deliveries that became dead letters in this call
    # channel -> the deliveries that became dead letters because their target left the config
    orphaned: dict[str, list[int]] = field(default_factory=dict)


class Sender:
    def __init__(self, store: Store, notifier: Notifier, owner: str, *, attempts: int, max_age: timedelta,
                 rng: random.Random | None = None, crash: CrashPoints = NO_CRASH,
                 events: ev.Events | None = None):
        self.crash = crash
        self.events = events or ev.logging_only()
        self.store = store
        self.notifier = notifier
        self.owner = owner
        self.attempts = attempts
        self.max_age = max_age
        self._rng = rng or random.Random()
        self._orphans_buried = False

    async def deliver(self, clock: Callable[[], datetime], *, everything: bool = False,
                      stop: Callable[[], bool] = lambda: False) -> DeliveryOutcome:
        """Send what is due (everything pending, if asked), each delivery at most once per call.

        Stops between sends when ``stop()`` says so, and gives back what it had claimed.
        """
        outcome = DeliveryOutcome()
        self._reclaim_from_the_dead()
        if not self._orphans_buried:   # once per process: the config, hence the known targets, cannot change
            self._bury_orphans(clock(), outcome)
            self._orphans_buried = True
        last_id = 0
        while not stop():
            now = clock()
            batch = self.store.claim_deliveries(
                now, LEASE, self.owner, after_id=last_id, limit=BATCH,
                due_by=now + timedelta(days=36500) if everything else None,
            )
            if not batch:
                break
            self.crash.reached("after_claim")
            last_id = batch[-1].id
            by_target: dict[str, list[Delivery]] = {}
            for delivery in batch:
                by_target.setdefault(delivery.target, []).append(delivery)
            await asyncio.gather(*(self._send_in_order(queue, clock, stop, outcome) for queue in by_target.values()))
        return outcome

    async def _send_in_order(self, queue: list[Delivery], clock: Callable[[], datetime],
                             stop: Callable[[], bool], outcome: DeliveryOutcome) -> None:
        for index, delivery in enumerate(queue):
            if stop():
                self.store.release_claims([d.id for d in queue[index:]], self.owner)
                return
            try:
                with self.events.timed(ev.Stage.DELIVER):
                    error = await self.notifier.send(delivery)
            except asyncio.CancelledError:
                self.store.release_claims([d.id for d in queue[index + 1:]], self.owner)
                raise
            if error is None:
                self.crash.reached("after_send")
                self.store.mark_sent(delivery.id, self.owner, clock())
                outcome.sent += 1
                self.events.emit(ev.DeliverySent(delivery.id, delivery.channel,
                                                 self.notifier.label(delivery.target), delivery.attempts))
                continue
            retry_at = self._failed(delivery, error, clock(), outcome)
            rest = queue[index + 1:]
            if rest:   # the target is down: try its other alerts when this one is retried
                self.store.release_claims([d.id for d in rest], self.owner, next_attempt=retry_at)
            return

    def _reclaim_from_the_dead(self) -> None:
        """Claims held by a process of this host that no longer runs (killed, crashed) are
        released now rather than when their lease runs out: what it was sending is sent again."""
        host = self.owner.split(":", 1)[0]
        for owner in self.store.claim_holders():
            name, _, rest = owner.partition(":")
            pid = rest.split(":", 1)[0]
            if name == host and pid.isdigit() and owner != self.owner and not _running(int(pid)):
                count = self.store.release_owner(owner)
                log.warning(kv("claims_released", owner=owner, deliveries=count, reason="process gone"))

    def _bury_orphans(self, now: datetime, outcome: DeliveryOutcome) -> None:
        """Deliveries to a target that left the config can never be sent: all of them become dead
        letters now, rather than one per pass while the others wait behind it."""
        for target, channel in self.store.pending_targets():
            if self.notifier.knows(target):
                continue
            ids = self.store.bury_target(target, "target left the config", now)
            if ids:
                outcome.dead.extend(ids)
                outcome.orphaned.setdefault(channel, []).extend(ids)
                log.error(kv("alerts_dead", channel=channel, target=target, deliveries=len(ids),
                             reason="target left the config"))

    def _failed(self, delivery: Delivery, error: str, now: datetime, outcome: DeliveryOutcome) -> datetime:
        retry_at = now + retry_delay(delivery.attempts, self._rng.uniform(0.8, 1.2))
        age = now - datetime.fromtimestamp(delivery.created, timezone.utc)
        reason = None
        if not self.notifier.knows(delivery.target):
            reason = "target left the config"
        elif delivery.attempts >= self.attempts:
            reason = f"failed {delivery.attempts} times"
        elif age >= self.max_age:
            reason = "too old to retry"
        self.store.mark_failed(delivery.id, self.owner, error, retry_at, dead=reason is not None)
        target = self.notifier.label(delivery.target)
        if reason is None:
            self.events.emit(ev.DeliveryFailed(delivery.id, delivery.channel, target, delivery.attempts, retry_at,
                                               error))
        else:
            outcome.dead.append(delivery.id)
            self.events.emit(ev.DeliveryDead(delivery.id, delivery.channel, target, delivery.attempts, reason, error,
                                             delivery.title))
        return retry_at


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True   # alive, someone else's
    return True
