"""Daily use: the commands and the output a person relies on every day (issue 10)."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timezone

from conftest import assert_no_traceback, invoke_monitor, query, wait_for, write_config
from content import ARTICLES, item_for, rss


def feed_with(site, slugs, path="/feed"):
    return site.put(path, rss("wire", [item_for(ARTICLES[s], site) for s in slugs]), "application/rss+xml")


# monitor feeds ---------------------------------------------------------------------------------------------------

def test_feeds_shows_each_feed_with_its_last_poll_status_entries_failures_and_next_poll(site, tmp_path):
    good = feed_with(site, ["en-chips", "en-football"])
    config = write_config(tmp_path, [{"name": "wire", "url": good, "interval": "1h"},
                                     {"name": "gone", "url": site.url("/missing.xml")},
                                     {"name": "later", "url": good + "?x", "interval": "2h"}])
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 1, result.output
    result = invoke_monitor("feeds", "--config", str(config))
    assert result.code == 0, result.output
    assert_no_traceback(result)
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["FEED", "LAST", "POLL", "STATUS", "ENTRIES", "FAILURES", "NEXT", "POLL"]
    wire = next(line for line in lines if line.startswith("wire "))
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+200\s+2\s+0\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in (59|60)m\)",
                     wire), wire
    gone = lines.index(next(line for line in lines if line.startswith("gone ")))
    assert re.search(r"\s+error\s+0\s+1\s+", lines[gone]), lines[gone]
    assert "last error:" in lines[gone + 1] and "404" in lines[gone + 1]


def test_feeds_on_a_database_that_does_not_exist_says_so(tmp_path):
    config = write_config(tmp_path, [{"name": "wire", "url": "http://127.0.0.1:9/feed"}])
    result = invoke_monitor("feeds", "--config", str(config))
    assert result.code == 2 and "no database at" in result.stderr, result.output
    assert not (tmp_path / "monitor.db").exists()


def test_run_says_once_when_every_feed_is_waiting_and_when_the_next_poll_is(site, tmp_path, spawn):
    url = feed_with(site, ["en-football"])
    config = write_config(tmp_path, [{"name": "wire", "url": url, "interval": "1h"}])
    daemon = spawn("run", "--config", config)
    wait_for(lambda: "event=all_feeds_waiting" in daemon.stderr, what="the waiting line", alive=daemon)
    wait_for(lambda: daemon.stderr.count("event=daemon_started") == 1, what="the start line", alive=daemon)
    assert daemon.stop() == 0, daemon.stderr
    lines = daemon.stderr.splitlines()
    assert any("event=daemon_stopped" in line for line in lines), daemon.stderr
    waiting = [line for line in lines if "event=all_feeds_waiting" in line]
    assert len(waiting) == 1, daemon.stderr   # once, not every tick
    (next_check,) = query(tmp_path / "monitor.db", "SELECT next_check FROM feeds")[0]
    due = datetime.fromtimestamp(next_check, timezone.utc).isoformat(timespec="seconds")
    assert f"next_poll={due}" in waiting[0] and "feed=wire" in waiting[0]


# monitor test -----------------------------------------------------------------------------------------------------

def test_test_sends_to_each_target_and_gives_apprise_reason_for_a_failure(webhook, tmp_path):
    from servers import Webhook

    with Webhook() as failing:
        failing.fail_with = 403
        config = write_config(tmp_path, [], channels={"team": [webhook.url("/team"), failing.url("/t0ken12345")],
                                                      "ops": webhook.url("/ops")})
        result = invoke_monitor("test", "--config", str(config))
        assert_no_traceback(result)
        assert result.code == 1, result.output
        lines = result.stdout.splitlines()
        assert len(lines) == 3, result.output
        assert lines[0].startswith("team -> json://127.0.0.1") and lines[0].endswith(": sent")
        assert lines[1].startswith("team -> ") and ": failed: " in lines[1] and "403" in lines[1], lines[1]
        assert lines[2].startswith("ops -> ") and lines[2].endswith(": sent")
        assert "t0ken12345" not in result.output
        assert "1 of 3 targets failed" in result.stderr
        assert sorted(m["path"] for m in webhook.received) == ["/ops", "/team"]
        assert all("test" in m["title"] for m in webhook.received)

        webhook.received.clear()
        result = invoke_monitor("test", "ops", "--config", str(config))
        assert result.code == 0, result.output
        assert [m["path"] for m in webhook.received] == ["/ops"]


def test_test_names_an_unknown_channel(webhook, tmp_path):
    config = write_config(tmp_path, [], channels={"hook": webhook.url()})
    result = invoke_monitor("test", "hooks", "--config", str(config))
    assert result.code == 2 and "no channel named 'hooks'" in result.stderr and "(channels: hook)" in result.stderr
    assert not webhook.received and not (tmp_path / "monitor.db").exists()


# check --dry-run --------------------------------------------------------------------------------------------------

def _snapshot(folder):
    db = folder / "monitor.db"
    rows = [query(db, f"SELECT * FROM {table}") for table in ("feeds", "entries", "articles", "alerts", "deliveries")]
    return db.read_bytes(), db.stat().st_mtime_ns, rows


def test_check_dry_run_shows_what_would_alert_sends_nothing_and_writes_nothing(site, webhook, tmp_path):
    url = feed_with(site, ["en-chips", "en-football"])
    config = write_config(tmp_path, [{"name": "wire", "url": url}], channels={"hook": webhook.url()})
    result = invoke_monitor("check", "--dry-run", "--config", str(config))
    assert_no_traceback(result)
    assert result.code == 0, result.output
    assert "would alert hook -> " in result.stdout and ARTICLES["en-chips"].title in result.stdout
    assert ARTICLES["en-football"].title not in result.stdout
    assert "dry run: nothing sent" in result.stderr
    assert not webhook.received
    assert not list(tmp_path.glob("monitor.db*"))          # not even created

    assert invoke_monitor("check", "--config", str(config)).code == 0
    assert len(webhook.received) == 1
    feed_with(site, ["en-chips", "en-football", "en-huawei"])
    before = _snapshot(tmp_path)[:2]
    rows = _snapshot(tmp_path)[2]
    result = invoke_monitor("check", "--dry-run", "--force", "--config", str(config))
    assert result.code == 0, result.output
    assert ARTICLES["en-huawei"].title in result.stdout and ARTICLES["en-chips"].title not in result.stdout
    assert _snapshot(tmp_path) == (*before, rows)           # the database's bytes, time and rows
    assert len(webhook.received) == 1
    # and the real pass still finds the article new
    assert invoke_monitor("check", "--force", "--config", str(config)).code == 0
    assert len(webhook.received) == 2 and ARTICLES["en-huawei"].title in webhook.received[1]["title"]


# monitor init -----------------------------------------------------------------------------------------------------

def test_init_writes_a_commented_config_that_validates_and_never_overwrites(tmp_path):
    result = invoke_monitor("init", cwd=tmp_path)
    assert result.code == 0, result.output
    written = (tmp_path / "config.toml").read_text(encoding="utf-8")
    assert written.count("\n#") >= 5 and "[[feeds]]" in written and "[[rules]]" in written
    result = invoke_monitor("validate", cwd=tmp_path)
    assert result.code == 0 and "config.toml: OK" in result.stdout, result.output
    assert "warning" not in result.stderr

    (tmp_path / "config.toml").write_text("# mine\n", encoding="utf-8")
    result = invoke_monitor("init", cwd=tmp_path)
    assert result.code == 2 and "already exists" in result.stderr, result.output
    assert (tmp_path / "config.toml").read_text(encoding="utf-8") == "# mine\n"

    other = tmp_path / "sub" / "other.toml"
    result = invoke_monitor("init", "--config", str(other))
    assert result.code == 2 and "cannot write" in result.stderr and "Traceback" not in result.output


# a first look without a flood -------------------------------------------------------------------------------------

def test_a_new_feed_first_look_records_what_it_holds_as_seen_and_alerts_what_comes_after(site, webhook, tmp_path):
    url = feed_with(site, ["en-chips", "en-football"])
    config = write_config(tmp_path, [{"name": "wire", "url": url}], channels={"hook": webhook.url()}, catch_up=False)
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 0, result.output
    assert not webhook.received                              # no flood from the backlog
    assert "2 entries that new feeds already held were recorded as seen" in result.stderr
    assert "catch_up = true" in result.stderr
    feed_with(site, ["en-chips", "en-football", "en-huawei"])
    result = invoke_monitor("check", "--force", "--config", str(config))
    assert result.code == 0, result.output
    assert len(webhook.received) == 1 and ARTICLES["en-huawei"].title in webhook.received[0]["title"]
    assert "already held" not in result.stderr


def test_catch_up_per_feed_or_for_all_alerts_what_a_new_feed_holds(site, webhook, tmp_path):
    url = feed_with(site, ["en-chips"])
    other = feed_with(site, ["en-huawei"], path="/other")
    config = write_config(tmp_path, [{"name": "wire", "url": url, "catch_up": True}, {"name": "other", "url": other}],
                          channels={"hook": webhook.url()}, catch_up=False)
    assert invoke_monitor("check", "--config", str(config)).code == 0
    assert [ARTICLES["en-chips"].title in m["title"] for m in webhook.received] == [True]

    (tmp_path / "monitor.db").unlink()
    webhook.received.clear()
    config = write_config(tmp_path, [{"name": "wire", "url": url}, {"name": "other", "url": other, "catch_up": False}],
                          channels={"hook": webhook.url()}, monitor="private_networks = true\ncatch_up = true\n")
    assert invoke_monitor("check", "--config", str(config)).code == 0
    assert [ARTICLES["en-chips"].title in m["title"] for m in webhook.received] == [True]


def test_catch_up_that_is_not_true_or_false_is_a_config_error_naming_the_key(tmp_path):
    config = write_config(tmp_path, [{"name": "wire", "url": "http://127.0.0.1:9/f", "catch_up": "yes"}])
    result = invoke_monitor("validate", "--config", str(config))
    assert result.code == 2 and 'feeds[0] "wire".catch_up' in result.stderr, result.output


# monitor alerts ---------------------------------------------------------------------------------------------------

def test_alerts_one_line_each_with_article_feed_rules_and_targets_and_filters(site, webhook, tmp_path):
    wire = feed_with(site, ["en-chips", "en-huawei"])
    other = feed_with(site, ["de-exportkontrollen"], path="/other")
    config = write_config(tmp_path, [{"name": "wire", "url": wire}, {"name": "zeitung", "url": other}],
                          channels={"hook": [webhook.url("/a"), webhook.url("/b")]})
    assert invoke_monitor("check", "--config", str(config)).code == 0
    (rules_of_chips,) = query(tmp_path / "monitor.db", "SELECT group_concat(rule, ', ') FROM matches m "
                              "JOIN articles a ON a.id = m.article_id WHERE a.url = ?", site.url("/news/en-chips"))[0]
    result = invoke_monitor("alerts", "--config", str(config))
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout                     # one line per alert, not per delivery
    chips = next(line for line in lines if ARTICLES["en-chips"].title in line)
    assert " wire " in chips and site.url("/news/en-chips") in chips
    assert f"rules: {rules_of_chips}" in chips
    assert chips.count(" sent json://127.0.0.1:") == 2
    assert "method=" not in result.stdout and "overflow=" not in result.stdout   # apprise's defaults left out

    by_feed = invoke_monitor("alerts", "--feed", "zeitung", "--config", str(config)).stdout.splitlines()
    assert len(by_feed) == 1 and ARTICLES["de-exportkontrollen"].title in by_feed[0]
    rule = rules_of_chips.split(", ")[0]
    by_rule = invoke_monitor("alerts", "--rule", rule, "--config", str(config)).stdout
    assert ARTICLES["en-chips"].title in by_rule
    expected = {row[0] for row in query(tmp_path / "monitor.db", "SELECT a.title FROM articles a JOIN matches m "
                                        "ON m.article_id = a.id WHERE m.rule = ?", rule)}
    assert len(by_rule.splitlines()) == len(expected)
    assert len(invoke_monitor("alerts", "--since", "1h", "--config", str(config)).stdout.splitlines()) == 3
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        db.execute("UPDATE alerts SET created = created - 7200")
    assert invoke_monitor("alerts", "--since", "1h", "--config", str(config)).stdout.strip() == "no deliveries"
    bad = invoke_monitor("alerts", "--since", "soon", "--config", str(config))
    assert bad.code == 2 and "--since" in bad.stderr and "Traceback" not in bad.output


# calm output ------------------------------------------------------------------------------------------------------

def test_a_failed_feed_is_reported_once_not_as_a_log_line_and_a_message(site, tmp_path):
    config = write_config(tmp_path, [{"name": "wire", "url": feed_with(site, ["en-football"])},
                                     {"name": "gone", "url": site.url("/missing.xml")}])
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 1
    (line,) = [line for line in result.stderr.splitlines() if "gone" in line]
    assert line.startswith('monitor: feed "gone" failed: HTTP 404'), result.stderr
    assert "event=feed_failed" not in result.stderr


def test_when_every_feed_fails_alike_it_is_said_once(tmp_path):
    feeds = [{"name": f"f{i}", "url": f"http://feed{i}.no-such-host.invalid/rss"} for i in range(3)]
    config = write_config(tmp_path, feeds)
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 1
    assert_no_traceback(result)
    lines = [line for line in result.stderr.splitlines() if "feeds failed" in line or "failed:" in line]
    assert lines == ["monitor: all 3 feeds failed: host names do not resolve: is this machine offline?"], \
        result.stderr


def test_check_on_a_terminal_shows_progress_and_ends_with_a_summary(site, tmp_path, spawn):
    config = write_config(tmp_path, [{"name": "wire", "url": feed_with(site, ["en-chips", "en-football"])},
                                     {"name": "other", "url": feed_with(site, ["en-huawei"], path="/other")}])
    check = spawn("check", "--config", config, terminal=True)
    check.wait(120)
    text = check.stderr
    assert "1/2 feeds polled" in text and "2/2 feeds polled, 3 new entries read" in text, text
    assert text.rstrip().splitlines()[-1].strip("\r\x1b[K").startswith("monitor: 2 feeds: 2 fetched"), text


def test_check_without_a_terminal_shows_no_progress(site, tmp_path):
    config = write_config(tmp_path, [{"name": "wire", "url": feed_with(site, ["en-football"])}])
    result = invoke_monitor("check", "--config", str(config))
    assert "feeds polled" not in result.output and "\r" not in result.stderr
