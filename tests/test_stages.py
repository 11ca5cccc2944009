"""The stages of a pass, run in this process: a real store in a temporary folder, the local test site,
the real HTTP client and worker processes, assembled as `monitor check` assembles them."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timezone
from functools import partial

from conftest import query, write_config
from content import ARTICLES, item_for, page, rss

from monitor.config import load
from monitor.fetch import HttpClient
from monitor.models import ArticleStatus, FeedStatus
from monitor.notify import Notifier
from monitor.runtime import assemble
from monitor.stages.read import Languages, detection_text, read_document
from monitor.store import Store
from monitor.tasks import PAGE, worker_state
from monitor.workers import CpuPool


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


async def _pass(config):
    """One `check` pass in this process; what it reported, and what the console channel printed."""
    settings = load(config)
    console = io.StringIO()
    store = Store(settings.database)
    store.sync_feeds(settings.feeds)
    notifier = Notifier(settings.targets, console)
    try:
        async with HttpClient(user_agent="monitor-test", private_networks=True) as client, \
                CpuPool(1, partial(worker_state, settings.ruleset.prefilter)) as cpu:
            runtime = assemble(settings, store, client, notifier, cpu)
            report = await runtime.pipeline.check(utcnow, runtime.sender, force=True)
    finally:
        notifier.close()
        store.close()
    return report, console.getvalue()


def test_a_pass_reads_judges_composes_and_records_each_new_entry(site, tmp_path):
    slugs = ["en-chips", "en-football", "en-old"]
    url = site.put("/feed", rss("wire", [item_for(ARTICLES[s], site) for s in slugs]), "application/rss+xml")
    config = write_config(tmp_path, [{"name": "wire", "url": url}])

    report, printed = asyncio.run(_pass(config))

    (outcome,) = report.feeds
    assert (outcome.status, outcome.new, outcome.alerts) == (FeedStatus.FETCHED, 3, 1)
    assert report.delivery.sent == 1 and not report.undelivered
    assert ARTICLES["en-chips"].title in printed and ARTICLES["en-football"].title not in printed
    statuses = dict(query(tmp_path / "monitor.db", "SELECT title, status FROM articles"))
    assert statuses == {ARTICLES["en-chips"].title: ArticleStatus.MATCHED,
                        ARTICLES["en-football"].title: ArticleStatus.NO_MATCH,
                        ARTICLES["en-old"].title: ArticleStatus.TOO_OLD}
    sources = dict(query(tmp_path / "monitor.db", "SELECT title, text_source FROM articles"))
    assert sources[ARTICLES["en-chips"].title] == PAGE


def test_a_second_pass_finds_nothing_new_and_the_feed_unchanged(site, tmp_path):
    url = site.put("/feed", rss("wire", [item_for(ARTICLES["en-chips"], site)]), "application/rss+xml")
    config = write_config(tmp_path, [{"name": "wire", "url": url}])
    asyncio.run(_pass(config))

    report, printed = asyncio.run(_pass(config))

    (outcome,) = report.feeds
    assert outcome.status in (FeedStatus.FETCHED, FeedStatus.UNCHANGED) and outcome.new == 0
    assert printed == "" and report.delivery.sent == 0


def test_a_page_read_at_once_as_explain_reads_it():
    article = ARTICLES["de-exportkontrollen"]

    document = read_document(page(article).encode("utf-8"), "https://news.example/de")

    assert document.declared == "de"
    assert article.paragraphs[0] in document.text and "cookies" not in document.text
    language = Languages().detect(detection_text(document.title, document.text), document.declared)
    assert (language.code, language.detected) == ("de", True)
