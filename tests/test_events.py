"""The event bus and its sinks, in process: the log lines the events write, a failing sink, the metrics'
own registries, the recent view and the health verdict."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from prometheus_client.parser import text_string_to_metric_families

from monitor import events as ev
from monitor.health import Health
from monitor.metrics import Metrics
from monitor.store import OutboxDepth
from monitor.web.views import highlight

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)


def test_each_event_writes_the_line_it_always_did(caplog):
    caplog.set_level(logging.INFO)
    bus = ev.Events(ev.LogSink())
    bus.emit(ev.FeedPolled("wire", 200, 6, 6, 4, NOW))
    bus.emit(ev.FeedFailed("gone", 2, "HTTP 404 Not Found", NOW, logging.INFO))
    bus.emit(ev.DeliveryDead(7, "chat", "json://host/****", 10, "failed 10 times", "HTTP 500", "A title"))
    bus.emit(ev.EntryNew("wire"))   # no line: counted, not logged
    lines = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("monitor.pipeline", logging.INFO,
         "event=feed_polled feed=wire status=200 entries=6 new=6 alerts=4 next=2026-12-03T08:00:00+00:00"),
        ("monitor.pipeline", logging.INFO,
         'event=feed_failed feed=gone failures=2 error="HTTP 404 Not Found" retry_at=2026-12-03T08:00:00+00:00'),
        ("monitor.delivery", logging.ERROR,
         'event=alert_dead delivery=7 channel=chat target=json://host/**** attempts=10 reason="failed 10 times" '
         'error="HTTP 500" title="A title"'),
    ]


def test_a_failing_sink_is_logged_and_the_others_still_hear(caplog):
    heard = []

    class Broken:
        def handle(self, event):
            raise RuntimeError("bug")

    class Ear:
        def handle(self, event):
            heard.append(event)

    ev.Events(Broken(), Ear()).emit(ev.FeedRecovered("wire"))
    assert heard == [ev.FeedRecovered("wire")]
    assert "event=sink_failed sink=Broken kind=FeedRecovered" in caplog.text


def test_each_runtime_counts_in_a_registry_of_its_own():
    first, second = Metrics(), Metrics()
    first.handle(ev.FeedPolled("wire", 200, 1, 1, 0, NOW))
    first.handle(ev.StageTimed(ev.Stage.FETCH, 0.2))

    def polls(metrics):
        text = metrics.render(OutboxDepth(2, NOW.timestamp() - 90, 1), NOW).decode()
        found = {(s.name, tuple(sorted(s.labels.items()))): s.value
                 for f in text_string_to_metric_families(text) for s in f.samples}
        return found

    one, two = polls(first), polls(second)
    assert one[("monitor_feed_polls_total", (("feed", "wire"), ("status", "200")))] == 1
    assert ("monitor_feed_polls_total", (("feed", "wire"), ("status", "200"))) not in two
    assert one[("monitor_stage_seconds_count", (("stage", "fetch"),))] == 1
    assert two[("monitor_stage_seconds_count", (("stage", "fetch"),))] == 0
    assert one[("monitor_outbox_depth", ())] == 2 and one[("monitor_outbox_oldest_pending_age_seconds", ())] == 90


def test_recent_keeps_the_latest_shown_events_newest_first():
    recent = ev.Recent(lambda: NOW, size=2)
    for name in ("a", "b", "c"):
        recent.handle(ev.FeedRecovered(name))
    recent.handle(ev.StageTimed(ev.Stage.PARSE, 1.0))   # not for the page
    assert [(i["kind"], i["feed"]) for i in recent.items()] == [("feed_recovered", "c"), ("feed_recovered", "b")]


def test_health_needs_a_recent_tick_that_wrote():
    health = Health(timedelta(seconds=30))
    assert not health.verdict(NOW).ok
    health.handle(ev.TickDone(NOW))
    assert health.verdict(NOW + timedelta(seconds=10)).ok
    late = health.verdict(NOW + timedelta(seconds=31))
    assert not late.ok and "last ticked 31s ago" in late.reason
    health.handle(ev.TickDone(NOW + timedelta(seconds=40), error="database x: disk I/O error"))
    failing = health.verdict(NOW + timedelta(seconds=41))
    assert failing.as_json() == {"status": "unhealthy",
                                 "reason": "the database does not take writes: database x: disk I/O error"}


def test_the_page_marks_a_phrase_whole_a_wildcard_word_by_word_and_leaves_regexes_alone():
    def marked(snippet, term):
        return [text for text, mark in highlight(snippet, term) if mark]

    assert marked("new export  controls and export-controls", '"export controls"') == \
        ["export  controls", "export-controls"]
    assert marked("Exportkontrollen und Kontrollen", "Exportkontroll*") == ["Exportkontrollen"]
    assert marked("Chips and chipmakers", "chip*") == ["Chips", "chipmakers"]
    assert marked("bis BIS", "{BIS}") == ["BIS"]
    assert marked("controls on export goods, exports", "export controls") == ["controls", "export"]   # words apart
    assert marked("中国出口管制", "出口管制") == ["出口管制"]
    assert marked("an embargo", "/(?<!sin )embargo/") == []
    assert "".join(text for text, _ in highlight("a <b>title</b>", "title")) == "a <b>title</b>"
