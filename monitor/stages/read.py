"""Read an article: the page's main text (or the feed's own text), and the language it is in.

One reader for every command: the pipeline reads pages in the worker processes (monitor.tasks),
``explain`` and ``backtest`` read a page at once with ``read_document``/``read_kept``; all of them
extract with monitor.extract and decide the language with ``Languages``, from the same text
(``detection_text``) and the same hints in the same order: the feed's declared language, then
the page's ``<html lang>``.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import zlib
from dataclasses import dataclass
from datetime import timedelta

from monitor import events as ev
from monitor import tasks
from monitor.errors import BlockedAddress, FetchError, WorkerError
from monitor.extract import MAX_PAGE_BYTES, extract_text, headline, page_language
from monitor.fetch import HttpClient
from monitor.language import Language, LanguageDetector
from monitor.logs import kv
from monitor.models import Entry
from monitor.text import tidy
from monitor.workers import CpuPool

log = logging.getLogger("monitor.pipeline")

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


def detection_text(title: str, text: str) -> str:
    """What the language is detected on: the title, then the text."""
    return f"{title}\n{text}"


class Languages:
    """The language detector, made once, when first needed: its profiles take ~0.3 s and ~19 MB.
    Used from this process only, not from the workers, so that they are held once."""

    def __init__(self) -> None:
        self._detector: LanguageDetector | None = None
        self._lock = asyncio.Lock()

    def detect(self, text: str, *hints: str | None) -> Language:
        if self._detector is None:
            self._detector = LanguageDetector()
        return self._detector.detect(text, *hints)

    async def detect_async(self, text: str, *hints: str | None) -> Language:
        """As ``detect``, in a thread: the event loop keeps fetching meanwhile."""
        async with self._lock:
            if self._detector is None:
                self._detector = await asyncio.to_thread(LanguageDetector)
        return await asyncio.to_thread(self._detector.detect, text, *hints)


@dataclass(frozen=True)
class Document:
    """A page (or a plain-text file) read at once."""

    title: str
    text: str
    declared: str | None     # <html lang>


def read_document(body: bytes, source: str, charset: str | None = None) -> Document:
    """What the rules would see of a page: its main text, and the title a feed would give it."""
    if b"<" not in body[:4096]:
        return Document("", tidy(body.decode(charset or "utf-8", "replace")), None)
    text = extract_text(body, source, charset)
    # the title the pipeline would see is the feed's: the headline, not the <title> with its site name
    title = headline(body, source, charset)
    found = None if title else _TITLE.search(body[:200_000])
    title = title or (tidy(html.unescape(found.group(1).decode(charset or "utf-8", "replace"))) if found else "")
    return Document(title, text, page_language(body))


def read_kept(page: bytes | None, url: str) -> Document:
    """A page kept unread (no rule could match it when it came in), read now. No title: the
    article's record has the feed's."""
    return Document("", extract_text(page, url) if page else "", page_language(page or b""))


class Reader:
    """Reads the page of a new entry in a worker, with the feed's text as the fallback."""

    def __init__(self, client: HttpClient, cpu: CpuPool, *, extract_timeout: timedelta, events: ev.Events):
        self.client = client
        self.events = events
        self.cpu = cpu
        self.extract_timeout = extract_timeout
        # pages fetched and not yet read are held in memory: let only a few be on their way at once
        self._slots = asyncio.Semaphore(2 * cpu.size + 2)
        self._refusals_told: set[str] = set()   # feeds whose refused links were warned about once

    async def read(self, entry: Entry) -> tasks.PageReading:
        """The page's main text, or the feed's own text when the page cannot be fetched, is too big,
        takes too long to extract, or yields less than the feed; or SKIPPED when no rule can match."""
        if entry.url:
            try:
                async with self._slots:
                    with self.events.timed(ev.Stage.FETCH):
                        page = await self.client.get(entry.url, trusted=False)
                    if len(page.body) > MAX_PAGE_BYTES:
                        log.info(kv("page_too_large", feed=entry.feed, url=entry.url, bytes=len(page.body)))
                    else:
                        with self.events.timed(ev.Stage.READ):
                            return await self.cpu.run(tasks.read_page, page.body, page.url, page.charset,
                                                      entry.title, entry.summary,
                                                      timeout=self.extract_timeout.total_seconds())
            except BlockedAddress as exc:   # a user's setting, not a fault: said once per feed, not per link
                told = entry.feed in self._refusals_told
                self._refusals_told.add(entry.feed)
                (log.info if told else log.warning)(kv(
                    "page_not_fetched", feed=entry.feed, url=entry.url, error=exc.reason,
                    hint=None if told else "private_networks = true lets monitor fetch such links; "
                                           "meanwhile the feed's summary is used"))
            except FetchError as exc:
                log.info(kv("page_not_fetched", feed=entry.feed, url=entry.url, error=exc.reason))
            except WorkerError as exc:
                log.warning(kv("page_not_extracted", feed=entry.feed, url=entry.url, error=str(exc)))
        return tasks.PageReading(tasks.FEED, entry.summary, zlib.compress(entry.summary.encode("utf-8"), 6), None)
