"""The work done in worker processes (monitor.workers): parsing feeds, reading pages.

Each task is ``task(state, *args)``; the worker's state holds the rules'
prefilter (their necessary terms), handed over once when the worker starts.
A page is read in the cheapest way that can still be right:

1. the page is decoded and its scripts, styles and SVG dropped (``readable``);
2. a quick text of all of it (a millisecond or two);
3. if no rule could match that, together with the entry's title and summary,
   the page is done: not extracted, its language not detected; the readable
   page is kept, compressed, so that ``monitor backtest`` can extract it later;
4. otherwise trafilatura extracts the main text of the readable page (tens of
   milliseconds), which the pipeline then judges; that text is kept, compressed.
   Then the caches trafilatura and its helpers filled are dropped: left alone
   they hold ~20 MB in each worker, and they fill again within a few pages.
"""

from __future__ import annotations

import gc
import zlib
from dataclasses import dataclass

from monitor.extract import extract_text, keepable, page_language, quick_text, readable
from monitor.feeds import ParsedFeed, parse_feed
from monitor.rules.prefilter import Prefilter

SKIPPED, PAGE, FEED = "skipped", "page", "feed"


@dataclass(frozen=True)
class PageReading:
    source: str                  # SKIPPED (no rule can match), PAGE (main text) or FEED (the summary instead)
    text: str                    # what the rules see ('' when skipped)
    kept: bytes                  # zlib: the text, or the readable page when skipped
    page_language: str | None    # <html lang>


class WorkerState:
    def __init__(self, prefilter: Prefilter | None):
        self.prefilter = prefilter

    def after_extraction(self) -> None:
        """Drop trafilatura's caches (~20 MB, refilled within a few pages: the worker's peak
        is what counts). The first time, what survives is the libraries' own state: frozen,
        the garbage collector skips it, and the later collections take a millisecond."""
        from trafilatura.meta import reset_caches

        reset_caches()   # ends with a full garbage collection
        if not gc.get_freeze_count():
            gc.freeze()


def worker_state(prefilter: Prefilter | None) -> WorkerState:
    return WorkerState(prefilter)


def read_page(state: WorkerState, body: bytes, url: str, charset: str | None, title: str, summary: str,
              ) -> PageReading:
    document = readable(body, charset)
    rules = state.prefilter
    if document is not None and rules is not None and not rules.could_match(
            f"{title}\n{summary}\n{quick_text(document)}"):
        return PageReading(SKIPPED, "", zlib.compress(keepable(document), 1), None)
    text = extract_text(body if document is None else document, url, charset)
    state.after_extraction()
    source = PAGE
    if not text or len(text) < len(summary):
        text, source = summary, FEED
    return PageReading(source, text, zlib.compress(text.encode("utf-8"), 6), page_language(body))


def parse(state: WorkerState, feed: str, body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    return parse_feed(feed, body, url, content_type)
