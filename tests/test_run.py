"""`monitor run` as a real subprocess: schedules, signals, and sharing the database with `monitor check`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from conftest import monitor_env, query, run_monitor, write_config
from content import ARTICLES, item_for, rss

RELEVANT = ["en-chips", "de-exportkontrollen", "nl-exportcontroles", "fr-huawei"]
IRRELEVANT = ["en-football", "nl-weer"]


def wait_for(condition, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Daemon:
    def __init__(self, config, *extra: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=monitor_env(),
        )

    def stop(self, sig=signal.SIGTERM, timeout: float = 15.0) -> tuple[int, float, str]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            _, stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, stderr = self.proc.communicate()
            raise AssertionError(f"monitor run ignored {sig!r}:\n{stderr}") from None
        return self.proc.returncode, time.monotonic() - started, stderr

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def daemon_factory():
    started: list[Daemon] = []

    def start(config, *extra):
        daemon = Daemon(config, *extra)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()


def feed_with(site, slugs, path="/feed", extra=()):
    return site.put(path, rss("wire", [item_for(ARTICLES[s], site) for s in slugs] + list(extra)), "application/rss+xml")


def alerted(webhook) -> list[str]:
    return [m["message"].splitlines()[0] for m in webhook.received]


def test_run_alerts_new_articles_as_they_appear_and_stops_on_sigterm(site, webhook, tmp_path, daemon_factory):
    url = feed_with(site, RELEVANT + IRRELEVANT)
    config = write_config(tmp_path, [{"name": "wire", "url": url, "interval": "1s"}], channels={"hook": webhook.url()})
    daemon = daemon_factory(config)
    wait_for(lambda: len(webhook.received) >= len(RELEVANT), what="first alerts")

    late = {"title": "Commerce adds chip brokers to the Entity List", "link": site.url("/news/late"),
            "guid": "late", "description": "The Entity List grows by six names.",
            "published": datetime.now(timezone.utc)}
    feed_with(site, RELEVANT + IRRELEVANT, extra=[late])
    wait_for(lambda: late["title"] in alerted(webhook), what="the late item")
    time.sleep(2.5)   # a few more polls of the 1s feed

    code, took, stderr = daemon.stop(signal.SIGTERM)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert sorted(alerted(webhook)) == sorted([ARTICLES[s].title for s in RELEVANT] + [late["title"]])
    assert site.statuses("/feed").count(304) >= 2      # unchanged polls cost a 304
    assert "event=daemon_stopped" in stderr


def test_sigint_stops_it_too(site, webhook, tmp_path, daemon_factory):
    config = write_config(tmp_path, [{"name": "wire", "url": feed_with(site, ["en-chips"])}],
                          channels={"hook": webhook.url()})
    daemon = daemon_factory(config)
    wait_for(lambda: webhook.received, what="an alert")
    code, _, stderr = daemon.stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in stderr


def test_each_feed_keeps_its_own_interval(site, webhook, tmp_path, daemon_factory):
    fast = feed_with(site, ["en-football"], "/fast")
    slow = feed_with(site, ["nl-weer"], "/slow")
    config = write_config(tmp_path, [{"name": "fast", "url": fast, "interval": "1s"},
                                     {"name": "slow", "url": slow, "interval": "1h"}])
    daemon = daemon_factory(config)
    wait_for(lambda: len(site.statuses("/fast")) >= 4, what="four polls of the fast feed")
    daemon.stop()
    assert len(site.statuses("/slow")) == 1


def test_restart_sends_nothing_twice(site, webhook, tmp_path, daemon_factory):
    config = write_config(tmp_path, [{"name": "wire", "url": feed_with(site, RELEVANT), "interval": "1s"}],
                          channels={"hook": webhook.url()})
    first = daemon_factory(config)
    wait_for(lambda: len(webhook.received) == len(RELEVANT), what="first alerts")
    assert first.stop()[0] == 0
    second = daemon_factory(config)
    wait_for(lambda: len(site.statuses("/feed")) >= 3, what="polls after restart")
    assert second.stop()[0] == 0
    assert len(webhook.received) == len(RELEVANT)


def test_undelivered_alerts_are_retried_by_the_daemon(site, webhook, tmp_path, daemon_factory):
    webhook.fail_with = 503
    config = write_config(tmp_path, [{"name": "wire", "url": feed_with(site, ["en-chips"])}],
                          channels={"hook": webhook.url()})
    run_monitor("check", "--config", str(config))
    assert query(tmp_path / "monitor.db", "SELECT status FROM deliveries") == [("pending",)]
    # the retry is due 30 s (+-20 %) after the failure: make it due now, as time would
    query(tmp_path / "monitor.db", "UPDATE deliveries SET next_attempt = 0")
    webhook.fail_with = None
    daemon = daemon_factory(config)
    wait_for(lambda: webhook.received, what="the retried alert")
    assert daemon.stop()[0] == 0
    assert query(tmp_path / "monitor.db", "SELECT status, attempts FROM deliveries") == [("sent", 2)]


def test_check_and_run_share_one_database(site, webhook, tmp_path, daemon_factory):
    slugs = RELEVANT + IRRELEVANT
    feeds = []
    for i in range(4):
        items = [item_for(ARTICLES[s], site, guid=f"{s}-{i}", link=site.url(f"/news/{s}?copy={i}")) for s in slugs]
        for s in slugs:
            site.put(f"/news/{s}?copy={i}", site.routes[f"/news/{s}"].body)
        feeds.append({"name": f"wire{i}", "url": site.put(f"/feed{i}", rss("w", items), "application/rss+xml"),
                      "interval": "1s"})
    config = write_config(tmp_path, feeds, channels={"hook": webhook.url()})
    daemon = daemon_factory(config)
    checks = [subprocess.Popen([sys.executable, "-m", "monitor", "check", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=monitor_env())
              for _ in range(3)]
    outputs = [c.communicate(timeout=120) for c in checks]
    wait_for(lambda: len(webhook.received) >= 4 * len(RELEVANT), what="all alerts")
    time.sleep(2)
    code, _, stderr = daemon.stop()
    assert code == 0
    for _out, err in outputs:
        assert "locked" not in err and "Traceback" not in err
    assert "locked" not in stderr
    assert len(webhook.received) == 4 * len(RELEVANT)
    assert len(set(alerted(webhook))) == len(RELEVANT)
    assert query(tmp_path / "monitor.db", "PRAGMA integrity_check") == [("ok",)]
    assert query(tmp_path / "monitor.db", "SELECT count(*) FROM deliveries WHERE status = 'sent'") == [(4 * len(RELEVANT),)]


def test_stop_leaves_no_half_written_work(site, webhook, tmp_path, daemon_factory):
    # many slow pages: SIGTERM arrives while articles are being read
    items = []
    for i in range(30):
        path = f"/news/slow-{i}"
        site.put(path, site.routes.get("/news/en-chips").body if "/news/en-chips" in site.routes
                 else b"<html><body><p>export controls</p></body></html>", delay=0.5)
        items.append({"title": f"Export controls item {i}", "link": site.url(path), "guid": f"slow-{i}",
                      "description": "export controls", "published": datetime.now(timezone.utc) - timedelta(minutes=1)})
    config = write_config(tmp_path, [{"name": "slow", "url": site.put("/slow", rss("s", items), "application/rss+xml")}],
                          channels={"hook": webhook.url()})
    daemon = daemon_factory(config)
    wait_for(lambda: any(r.path.startswith("/news/slow-") for r in site.requests), what="page reads")
    code, took, stderr = daemon.stop()
    assert code == 0 and "Traceback" not in stderr
    db = tmp_path / "monitor.db"
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    # every stored matched article has its alert; nothing stored is orphaned
    assert query(db, "SELECT count(*) FROM articles a WHERE status = 'matched' "
                     "AND NOT EXISTS (SELECT 1 FROM alerts WHERE article_id = a.id)") == [(0,)]
    # what was interrupted is done by the next pass, once
    result = run_monitor("check", "--config", str(config))
    assert result.code == 0, result.output
    titles = alerted(webhook)
    assert sorted(titles) == sorted(item["title"] for item in items)
