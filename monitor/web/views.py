"""The store's rows turned into the status page's JSON. Pure, but for the store it reads.

Everything here is data: the page builds its DOM from it with textContent,
so a title that holds markup stays text. Targets are shown by their masked
labels (``Notifier.label``), never by their URLs; feeds by their names, not
their URLs (a private feed's URL can hold a key).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Callable

from monitor.health import Verdict
from monitor.rules.normalize import NO_SPACE_SCRIPTS
from monitor.store import Store

ALERTS_SHOWN = 30
CHART_DAYS = 30


def state(store: Store, label: Callable[[str], str], now: datetime, *,
          activity: list[dict[str, Any]], health: Verdict, csrf: str) -> dict[str, Any]:
    totals = store.totals(now)
    days, per_rule = store.matches_per_day(now, CHART_DAYS)
    return {
        "now": _iso(now.timestamp()),
        "csrf": csrf,
        "health": health.as_json(),
        "totals": {"read_today": totals.read_today, "alerts_today": totals.alerts_today, "alerts": totals.alerts,
                   "pending": totals.pending, "dead": totals.dead},
        "feeds": feeds(store, now),
        "alerts": alerts(store, label),
        "chart": {"days": days, "rules": per_rule},
        "activity": activity[:40],
    }


def feeds(store: Store, now: datetime) -> list[dict[str, Any]]:
    shown = []
    for feed in store.feed_overview():
        if feed.last_checked is None:
            health = "new"
        elif feed.errors:
            health = "failing"
        else:
            health = "ok"
        shown.append({
            "name": feed.name, "health": health, "status": feed.last_status, "entries": feed.entries,
            "failures": feed.errors, "last_error": feed.last_error,
            "last_poll": _iso(feed.last_checked), "next_poll": _iso(feed.next_check),
            "due": feed.next_check <= now.timestamp(),
        })
    # the failing ones first: they are what a reader opens the page for
    return sorted(shown, key=lambda f: (f["health"] != "failing", f["name"].casefold()))


def alerts(store: Store, label: Callable[[str], str]) -> list[dict[str, Any]]:
    shown = []
    for article in store.recent_articles(ALERTS_SHOWN):
        evidence = [{"rule": e.rule, "hits": [{"term": term, "snippet": highlight(snippet, term)}
                                              for term, snippet in e.hits]}
                    for e in article.evidence]
        shown.append({
            "id": article.id, "title": article.title, "url": article.url, "feed": article.feed,
            "language": article.language, "seen": _iso(article.first_seen),
            "rules": [e.rule for e in article.evidence], "evidence": evidence,
            "deliveries": [{"id": d.delivery, "channel": d.channel, "target": label(d.target), "status": d.status,
                            "attempts": d.attempts, "last_error": d.last_error} for d in article.deliveries],
            "feedback": article.feedback,
        })
    return shown


def highlight(snippet: str, term: str) -> list[tuple[str, bool]]:
    """The snippet as [text, marked] pieces, the term marked: the whole phrase where it occurs as
    written, else its words. An approximation of the rules' own matching (no accent folding), for
    the eye only: the rules already decided."""
    found: list[tuple[int, int]] = []
    for pattern in _patterns(term):
        found = [m.span() for m in pattern.finditer(snippet) if m.end() > m.start()]
        if found:
            break
    pieces: list[tuple[str, bool]] = []
    at = 0
    for start, end in found:
        if start > at:
            pieces.append((snippet[at:start], False))
        pieces.append((snippet[start:end], True))
        at = end
    if at < len(snippet):
        pieces.append((snippet[at:], False))
    return pieces


def _patterns(term: str) -> list[re.Pattern[str]]:
    """The phrase, then its words one by one."""
    text = term.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    flags: int = re.IGNORECASE
    if len(text) >= 2 and text[0] == "{" and text[-1] == "}":
        text, flags = text[1:-1].strip(), 0
    if len(text) >= 2 and text[0] == "/" and text[-1] == "/":
        return []   # a user's regex is not run again here: it had its time limit in the rules
    words = []
    for word in text.split():
        core = word.strip("*")
        if core:
            words.append(_edge(word.startswith("*"), core[0], "\\w*", "(?<!\\w)") + re.escape(core)
                         + _edge(word.endswith("*"), core[-1], "\\w*", "(?!\\w)"))
    if not words:
        return []
    phrase = re.compile("[\\s\\-]+".join(words), flags)
    return [phrase] if len(words) == 1 else [phrase, re.compile("|".join(sorted(words, key=len, reverse=True)), flags)]


def _edge(open_: bool, char: str, wildcard: str, boundary: str) -> str:
    """A word's edge: open with *, else a word boundary (none in scripts written without spaces)."""
    if open_:
        return wildcard
    return "" if NO_SPACE_SCRIPTS.match(char) else boundary


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="seconds")
