"""Is the daemon well? Its clock ticked recently, and the database took the tick's writes.

Two views of the same rule. Inside ``monitor run`` (``/healthz``) the
``Health`` sink hears every ``TickDone``. From outside (``monitor
healthcheck``, which works even when the daemon is stopped and cannot answer)
the heartbeat each good tick writes to the database is read, and a write is
tried. Both judge with ``verdict``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.events import Event, TickDone


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"status": "ok" if self.ok else "unhealthy", "reason": self.reason}


def verdict(last_tick: datetime | None, now: datetime, stale_after: timedelta, *,
            write_error: str | None = None) -> Verdict:
    if write_error is not None:
        return Verdict(False, f"the database does not take writes: {write_error}")
    if last_tick is None:
        return Verdict(False, "the daemon's clock has not ticked yet")
    age = (now - last_tick).total_seconds()
    if age > stale_after.total_seconds():
        return Verdict(False, f"the daemon's clock last ticked {age:.0f}s ago "
                              f"(at {last_tick.isoformat(timespec='seconds')}); more than {_seconds(stale_after)}")
    return Verdict(True, f"the clock ticked {max(age, 0):.0f}s ago and the database takes writes")


class Health:
    """A sink of monitor.events: the last good tick, and the error of the last tick if it failed."""

    def __init__(self, stale_after: timedelta):
        self.stale_after = stale_after
        self.last_tick: datetime | None = None
        self.error: str | None = None

    def handle(self, event: Event) -> None:
        if isinstance(event, TickDone):
            if event.error is None:
                self.last_tick, self.error = event.at, None
            else:
                self.error = event.error

    def verdict(self, now: datetime) -> Verdict:
        return verdict(self.last_tick, now, self.stale_after, write_error=self.error)


def _seconds(delta: timedelta) -> str:
    return f"{delta.total_seconds():g}s"
