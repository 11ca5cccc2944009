"""`monitor run` as a real subprocess: schedules, signals, and sharing the database with `monitor check`."""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta, timezone

from conftest import invoke_monitor, query, wait_for, write_config
from content import ARTICLES, item_for, page, rss

RELEVANT = ["en-chips", "de-exportkontrollen", "nl-exportcontroles", "fr-huawei"]
IRRELEVANT = ["en-football", "nl-weer"]


def feed_with(site, slugs, path="/feed", extra=()):
    return site.put(path, rss("wire", [item_for(ARTICLES[s], site) for s in slugs] + list(extra)), "application/rss+xml")


def alerted(webhook) -> list[str]:
    return [m["message"].splitlines()[0] for m in webhook.received]


def test_run_alerts_new_articles_as_they_appear_and_stops_on_sigterm(site, webhook, tmp_path, spawn):
    url = feed_with(site, RELEVANT + IRRELEVANT)
    config = write_config(tmp_path, [{"name": "wire", "url": url, "interval": "1s"}], channels={"hook": webhook.url()})
    daemon = spawn("run", "--config", config)
    wait_for(lambda: len(webhook.received) >= len(RELEVANT), what="first alerts", alive=daemon)

    late = {"title": "Commerce adds chip brokers to the Entity List", "link": site.url("/news/late"),
            "guid": "late", "description": "The Entity List grows by six names.",
            "published": datetime.now(timezone.utc)}
    feed_with(site, RELEVANT + IRRELEVANT, extra=[late])
    wait_for(lambda: late["title"] in alerted(webhook), what="the late item", alive=daemon)
    time.sleep(2.5)   # a few more polls of the 1s feed

    code = daemon.stop(signal.SIGTERM)
    stderr = daemon.stderr
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert sorted(alerted(webhook)) == sorted([ARTICLES[s].title for s in RELEVANT] + [late["title"]])
    assert site.statuses("/feed").count(304) >= 2      # unchanged polls cost a 304
    assert "event=daemon_stopped" in stderr


def test_sigint_stops_it_too(site, webhook, tmp_path, spawn):
    config = write_config(tmp_path, [{"name": "wire", "url": feed_with(site, ["en-chips"])}],
                          channels={"hook": webhook.url()})
    daemon = spawn("run", "--config", config)
    wait_for(lambda: webhook.received, what="an alert", alive=daemon)
    code = daemon.stop(signal.SIGINT)
    stderr = daemon.stderr
    assert code == 0 and "Traceback" not in stderr


def test_each_feed_keeps_its_own_interval(site, webhook, tmp_path, spawn):
    fast = feed_with(site, ["en-football"], "/fast")
    slow = feed_with(site, ["nl-weer"], "/slow")
    config = write_config(tmp_path, [{"name": "fast", "url": fast, "interval": "1s"},
                                     {"name": "slow", "url": slow, "interval": "1h"}])
    daemon = spawn("run", "--config", config)
    wait_for(lambda: len(site.statuses("/fast")) >= 4, what="four polls of the fast feed", alive=daemon)
    daemon.stop()
    assert len(site.statuses("/slow")) == 1


def test_restart_sends_nothing_twice(site, webhook, tmp_path, spawn):
    config = write_config(tmp_path, [{"name": "wire", "url": feed_with(site, RELEVANT), "interval": "1s"}],
                          channels={"hook": webhook.url()})
    first = spawn("run", "--config", config)
    wait_for(lambda: len(webhook.received) == len(RELEVANT), what="first alerts", alive=first)
    assert first.stop() == 0
    second = spawn("run", "--config", config)
    wait_for(lambda: len(site.statuses("/feed")) >= 3, what="polls after restart", alive=second)
    assert second.stop() == 0
    assert len(webhook.received) == len(RELEVANT)


def test_undelivered_alerts_are_retried_by_the_daemon(site, webhook, tmp_path, spawn):
    webhook.fail_with = 503
    config = write_config(tmp_path, [{"name": "wire", "url": feed_with(site, ["en-chips"])}],
                          channels={"hook": webhook.url()})
    invoke_monitor("check", "--config", str(config))
    assert query(tmp_path / "monitor.db", "SELECT status FROM deliveries") == [("pending",)]
    # the retry is due 30 s (+-20 %) after the failure: make it due now, as time would
    query(tmp_path / "monitor.db", "UPDATE deliveries SET next_attempt = 0")
    webhook.fail_with = None
    daemon = spawn("run", "--config", config)
    wait_for(lambda: webhook.received, what="the retried alert", alive=daemon)
    assert daemon.stop() == 0
    assert query(tmp_path / "monitor.db", "SELECT status, attempts FROM deliveries") == [("sent", 2)]


def test_check_and_run_share_one_database(site, webhook, tmp_path, spawn):
    slugs = RELEVANT + IRRELEVANT
    feeds = []
    for i in range(4):
        items = [item_for(ARTICLES[s], site, guid=f"{s}-{i}", link=site.url(f"/news/{s}?copy={i}")) for s in slugs]
        for s in slugs:
            site.put(f"/news/{s}?copy={i}", site.routes[f"/news/{s}"].body)
        feeds.append({"name": f"wire{i}", "url": site.put(f"/feed{i}", rss("w", items), "application/rss+xml"),
                      "interval": "1s"})
    config = write_config(tmp_path, feeds, channels={"hook": webhook.url()})
    daemon = spawn("run", "--config", config)
    checks = [spawn("check", "--config", config) for _ in range(3)]
    for check in checks:
        check.wait(120)
    wait_for(lambda: len(webhook.received) >= 4 * len(RELEVANT), what="all alerts", alive=daemon)
    time.sleep(2)
    code = daemon.stop()
    stderr = daemon.stderr
    assert code == 0
    for check in checks:
        assert "locked" not in check.stderr and "Traceback" not in check.stderr
    assert "locked" not in stderr
    assert len(webhook.received) == 4 * len(RELEVANT)
    assert len(set(alerted(webhook))) == len(RELEVANT)
    assert query(tmp_path / "monitor.db", "PRAGMA integrity_check") == [("ok",)]
    assert query(tmp_path / "monitor.db", "SELECT count(*) FROM deliveries WHERE status = 'sent'") == [(4 * len(RELEVANT),)]


def test_stop_leaves_no_half_written_work(site, webhook, tmp_path, spawn):
    # many slow pages, each a whole news article: SIGTERM arrives while articles are being read
    items = []
    for i in range(30):
        path = f"/news/slow-{i}"
        site.put(path, page(ARTICLES["en-chips"]), delay=0.5)
        items.append({"title": f"Export controls item {i}", "link": site.url(path), "guid": f"slow-{i}",
                      "description": "export controls", "published": datetime.now(timezone.utc) - timedelta(minutes=1)})
    config = write_config(tmp_path, [{"name": "slow", "url": site.put("/slow", rss("s", items), "application/rss+xml")}],
                          channels={"hook": webhook.url()})
    daemon = spawn("run", "--config", config)
    wait_for(lambda: any(r.path.startswith("/news/slow-") for r in site.requests), what="page reads", alive=daemon)
    code = daemon.stop()
    stderr = daemon.stderr
    assert code == 0 and "Traceback" not in stderr
    db = tmp_path / "monitor.db"
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    # every stored matched article has its alert; nothing stored is orphaned
    assert query(db, "SELECT count(*) FROM articles a WHERE status = 'matched' "
                     "AND NOT EXISTS (SELECT 1 FROM alerts WHERE article_id = a.id)") == [(0,)]
    # what was interrupted is done by the next pass, once
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 0, result.output
    titles = alerted(webhook)
    assert sorted(titles) == sorted(item["title"] for item in items)
