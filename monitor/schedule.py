"""When to poll a feed next, and when to retry a delivery. Pure functions of their inputs.

Feeds:
* after a success, the feed's interval, stretched (never shortened) when the
  server asks for less: Cache-Control ``max-age`` or the RSS ``<ttl>``;
* after a failure, the interval doubled for every consecutive failure
  (interval, 2x, 4x, ...), and at least what ``Retry-After`` asks;
* never longer than the cap (``backoff_max``, and a day for server hints), and
  never given up on: a failing feed is always tried again;
* plus a small delay of the feed's own (``poll_offset``), so that feeds due in
  the same tick drift apart instead of being polled in the same second forever.

Deliveries: 30 s after the first failure, doubling up to an hour, times a
jitter the caller draws so that many retries do not fire at the same moment.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

SPREAD_MAX = timedelta(seconds=30)   # the most poll_offset adds to a feed's wait
SPREAD_MIN = timedelta(seconds=1)    # feeds polled more often than every 10 s get no offset
HINT_MAX = timedelta(days=1)          # the most a server's hint can push a poll back
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)

_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-)?max-age\s*=\s*\"?(\d+)", re.I)


def next_poll_after_success(
    now: datetime, interval: timedelta, *, cache_control: str | None = None, ttl: timedelta | None = None,
) -> datetime:
    delay = interval
    for hint in (max_age(cache_control), ttl):
        if hint is not None and hint > delay:
            delay = min(hint, max(interval, HINT_MAX))
    return now + delay


def next_poll_after_failure(
    now: datetime, interval: timedelta, errors: int, cap: timedelta, *, retry_after: str | None = None,
) -> datetime:
    """``errors`` counts consecutive failures, this one included."""
    steps = min(max(errors - 1, 0), 30)
    delay = min(interval * (1 << steps), max(interval, cap))
    asked = parse_retry_after(retry_after, now)
    if asked is not None and asked > delay:
        delay = min(asked, HINT_MAX)
    return now + delay


def poll_offset(name: str, interval: timedelta) -> timedelta:
    """The feed's own small addition to every wait: up to a tenth of its interval, 30 s at most
    (none for intervals under 10 s).

    Feeds polled in the same tick (all of them at a start, say) share one ``now``; with the same
    interval they would be due in the same second again, for ever. Each feed's wait is stretched
    by a share of its own, derived from its name (so the same in every process and every run):
    after one poll they are spread over up to 30 s, and they drift further apart with each poll.
    """
    spread = min(interval / 10, SPREAD_MAX)
    if spread < SPREAD_MIN:   # finer than the daemon's 1-s tick: it would only make every poll a tick late
        return timedelta(0)
    share = int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "big") / 2**64
    return spread * share


def retry_delay(attempts: int, jitter: float) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt; ``jitter`` around 1 (0.8-1.2)."""
    steps = min(max(attempts - 1, 0), 30)
    return min(RETRY_FIRST * (1 << steps), RETRY_MAX) * jitter


def max_age(cache_control: str | None) -> timedelta | None:
    if not cache_control or "no-cache" in cache_control.lower() or "no-store" in cache_control.lower():
        return None
    found = _MAX_AGE.search(cache_control)
    return timedelta(seconds=int(found.group(1))) if found else None


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Retry-After is a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(when - now, timedelta(0))
