"""Delivery under faults: the outbox, retries, dead letters, kill -9 at every step, SIGTERM mid-send."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
from conftest import assert_no_traceback, invoke_monitor, monitor_env, query, run_monitor, wait_for, write_config
from content import ARTICLES, item_for, rss
from servers import Webhook

RELEVANT = ["en-chips", "en-huawei", "de-exportkontrollen", "nl-exportcontroles", "fr-controles"]


def feed(site, slugs=RELEVANT) -> str:
    return site.put("/feed", rss("wire", [item_for(ARTICLES[s], site) for s in slugs]), "application/rss+xml")


def titles(hook) -> Counter:
    return Counter(m["message"].splitlines()[0] for m in hook.received)


def test_one_row_per_target_and_a_failing_target_does_not_stop_the_other(site, webhook, tmp_path):
    with Webhook() as broken:
        broken.fail_with = 500
        config = write_config(tmp_path, [{"name": "wire", "url": feed(site)}],
                              channels={"team": [webhook.url("/ok"), broken.url("/bad")]})
        result = invoke_monitor("check", "--config", str(config))
    assert result.code == 1
    assert sorted(titles(webhook)) == sorted(ARTICLES[s].title for s in RELEVANT)
    rows = query(tmp_path / "monitor.db", "SELECT target, status FROM deliveries ORDER BY id")
    assert Counter(rows) == {("team#0", "sent"): len(RELEVANT), ("team#1", "pending"): len(RELEVANT)}
    # the broken target was tried once; its other alerts wait for that retry instead of failing one by one
    assert broken.attempts == 1


def test_quiet_keeps_apprise_failure_reason(site, webhook, tmp_path):
    # -q shows errors only; the reason a delivery failed is still apprise's own, stored and shown
    webhook.fail_with = 500
    config = write_config(tmp_path, [{"name": "wire", "url": feed(site, ["en-chips"])}],
                          channels={"hook": webhook.url()})
    result = invoke_monitor("check", "-q", "--config", str(config))
    assert result.code == 1
    (error,), = query(tmp_path / "monitor.db", "SELECT last_error FROM deliveries")
    assert "500" in error and "apprise reported a failure" not in error, error
    [line] = [line for line in result.stderr.splitlines() if "not delivered" in line]
    assert line.endswith(f"(attempt 1): {error}")
    assert "level=warning" not in result.stderr   # and -q still keeps warnings off stderr


def test_a_slow_target_never_holds_up_the_others(site, webhook, tmp_path, spawn):
    with Webhook() as slow:
        slow.hold.set()   # every request to it waits until released
        config = write_config(tmp_path, [{"name": "wire", "url": feed(site)}],
                              channels={"fast": webhook.url(), "slow": slow.url()})
        check = spawn("check", "--config", config)
        try:
            wait_for(lambda: len(webhook.received) == len(RELEVANT), what="the fast target's alerts", alive=check)
            assert slow.holding.is_set() and slow.received == []   # all this while, the slow one hung
        finally:
            slow.release()
            code = check.wait(120)
    assert code == 0, check.stderr
    assert len(slow.received) == len(RELEVANT)


def test_retries_back_off_with_jitter_and_survive_restarts(site, webhook, tmp_path, spawn):
    webhook.down()
    config = write_config(tmp_path, [{"name": "wire", "url": feed(site, ["en-chips"])}],
                          channels={"hook": webhook.url()})
    db = tmp_path / "monitor.db"
    delays = []
    for _ in range(3):
        before = time.time()
        assert invoke_monitor("check", "--config", str(config)).code == 1
        (next_attempt, attempts, error), = query(db, "SELECT next_attempt, attempts, last_error FROM deliveries")
        delays.append(next_attempt - before)
        assert "connection" in error.lower()
    assert attempts == 3
    # 30 s, then 60 s, then 120 s, each give or take 20 %
    for delay, base in zip(delays, (30, 60, 120)):
        assert 0.8 * base - 5 <= delay <= 1.2 * base + 5, delays
    webhook.up()
    # a daemon started later respects the stored schedule: nothing before it is due...
    query(db, "UPDATE deliveries SET next_attempt = ?", time.time() + 3600)
    daemon = spawn("run", "--config", config)
    time.sleep(3)   # a few ticks, each of which would send what is due
    assert webhook.received == []
    # ...and sends it once it is due
    query(db, "UPDATE deliveries SET next_attempt = 0")
    wait_for(lambda: webhook.received, what="the retried alert", alive=daemon)
    time.sleep(2)
    assert daemon.stop(timeout=60) == 0, daemon.stderr
    assert len(webhook.received) == 1
    assert query(db, "SELECT status, attempts FROM deliveries") == [("sent", 4)]


def test_dead_letters_after_the_last_attempt_then_retry(site, webhook, tmp_path):
    webhook.fail_with = 503
    config = write_config(tmp_path, [{"name": "wire", "url": feed(site, ["en-chips"])}],
                          channels={"hook": webhook.url()}, monitor="private_networks = true\ndelivery_attempts = 2\n")
    first = invoke_monitor("check", "--config", str(config))
    second = invoke_monitor("check", "--config", str(config))
    assert first.code == second.code == 1
    assert "event=alert_dead" in second.stderr and "level=error" in second.stderr
    assert query(tmp_path / "monitor.db", "SELECT status, attempts FROM deliveries") == [("dead", 2)]
    listed = invoke_monitor("alerts", "--config", str(config))
    assert "dead" in listed.stdout and ARTICLES["en-chips"].title in listed.stdout and "503" in listed.stdout
    # a dead letter is not retried by itself...
    webhook.fail_with = None
    invoke_monitor("check", "--config", str(config))
    assert webhook.received == []
    # ...only after `monitor retry`
    assert "1 dead deliveries queued again" in invoke_monitor("retry", "--config", str(config)).stdout
    assert invoke_monitor("check", "--config", str(config)).code == 0
    assert len(webhook.received) == 1
    assert "sent" in invoke_monitor("alerts", "--config", str(config), "--status", "sent").stdout


def test_a_delivery_too_old_to_retry_becomes_dead(site, webhook, tmp_path):
    webhook.fail_with = 500
    config = write_config(tmp_path, [{"name": "wire", "url": feed(site, ["en-chips"])}],
                          channels={"hook": webhook.url()}, monitor="private_networks = true\ndelivery_max_age = \"1h\"\n")
    invoke_monitor("check", "--config", str(config))
    query(tmp_path / "monitor.db", "UPDATE alerts SET created = created - 7200")
    result = invoke_monitor("check", "--config", str(config))
    assert "reason=\"too old to retry\"" in result.stderr
    assert query(tmp_path / "monitor.db", "SELECT status FROM deliveries") == [("dead",)]


def test_a_target_removed_from_the_config_is_a_dead_letter_not_a_loop(site, webhook, tmp_path):
    webhook.fail_with = 500
    config = write_config(tmp_path, [{"name": "wire", "url": feed(site, ["en-chips"])}],
                          channels={"hook": webhook.url()})
    invoke_monitor("check", "--config", str(config))
    write_config(tmp_path, [{"name": "wire", "url": site.url("/feed")}], channels={"other": webhook.url("/other")})
    result = invoke_monitor("check", "--config", str(config))
    assert "target left the config" in result.stderr
    assert query(tmp_path / "monitor.db", "SELECT status FROM deliveries") == [("dead",)]


def test_a_removed_channel_turns_all_its_alerts_into_dead_letters_at_once(site, webhook, tmp_path):
    webhook.fail_with = 500
    config = write_config(tmp_path, [{"name": "wire", "url": feed(site)}], channels={"hook": webhook.url()})
    assert invoke_monitor("check", "--config", str(config)).code == 1
    db = tmp_path / "monitor.db"
    assert query(db, "SELECT count(*) FROM deliveries WHERE status = 'pending'") == [(len(RELEVANT),)]
    write_config(tmp_path, [{"name": "wire", "url": site.url("/feed")}], channels={"other": webhook.url("/other")})
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 1   # dead letters made in this pass
    assert_no_traceback(result)
    assert query(db, "SELECT status, count(*) FROM deliveries GROUP BY status") == [("dead", len(RELEVANT))]
    problems = [line for line in result.stderr.splitlines() if line.startswith("monitor: ") and "feeds:" not in line]
    assert problems == [f'monitor: channel "hook" is no longer in the config: its {len(RELEVANT)} undelivered alerts '
                        "are now dead letters (monitor alerts --status dead lists them; monitor retry queues them again)"]
    assert result.stderr.count("event=alerts_dead") == 1 and "not sent yet" not in result.stderr
    again = invoke_monitor("check", "--config", str(config))
    assert again.code == 0, again.output   # nothing left hanging


@pytest.mark.parametrize("point", ["after_match", "after_claim", "after_send"])
def test_kill_9_at_each_step_loses_nothing_and_duplicates_at_most_one(site, webhook, tmp_path, point):
    config = write_config(tmp_path, [{"name": "wire", "url": feed(site)}], channels={"hook": webhook.url()})
    crashed = run_monitor("check", "--config", str(config), env=monitor_env(MONITOR_CRASH_AT=point))
    assert crashed.code == -signal.SIGKILL
    db = tmp_path / "monitor.db"
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    after = invoke_monitor("check", "--config", str(config))
    assert after.code == 0, after.output
    assert_no_traceback(after)
    received = titles(webhook)
    assert set(received) == {ARTICLES[s].title for s in RELEVANT}          # nothing lost
    assert sum(received.values()) <= len(RELEVANT) + 1                     # one duplicate at most
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "SELECT count(*) FROM deliveries WHERE status != 'sent'") == [(0,)]
    assert invoke_monitor("check", "--config", str(config)).code == 0
    assert sum(titles(webhook).values()) == sum(received.values())          # and nothing more later


def test_kill_9_during_a_send(site, webhook, tmp_path, spawn):
    webhook.hold.set()
    config = write_config(tmp_path, [{"name": "wire", "url": feed(site)}], channels={"hook": webhook.url()})
    check = spawn("check", "--config", config)
    wait_for(webhook.holding.is_set, what="a send in flight", alive=check)
    check.kill()
    webhook.release()    # the request that was in flight arrives after all
    wait_for(lambda: webhook.attempts >= 1, what="the held request")
    after = invoke_monitor("check", "--config", str(config))
    assert after.code == 0, after.output
    received = titles(webhook)
    assert set(received) == {ARTICLES[s].title for s in RELEVANT}
    assert sum(received.values()) <= len(RELEVANT) + 1
    assert query(tmp_path / "monitor.db", "PRAGMA integrity_check") == [("ok",)]


def test_sigterm_mid_send_finishes_or_releases_and_exits_0(site, webhook, tmp_path, spawn):
    webhook.hold.set()
    config = write_config(tmp_path, [{"name": "wire", "url": feed(site)}], channels={"hook": webhook.url()})
    daemon = spawn("run", "--config", config)
    wait_for(webhook.holding.is_set, what="a send in flight", alive=daemon)
    assert daemon.stop(timeout=60) == 0, daemon.stderr    # the grace period is 10 s
    assert "Traceback" not in daemon.stderr
    db = tmp_path / "monitor.db"
    # nothing but the one in flight is still claimed; all are still to be sent
    assert query(db, "SELECT count(*) FROM deliveries WHERE claimed_by IS NOT NULL") <= [(1,)]
    assert query(db, "SELECT count(*) FROM deliveries WHERE status = 'pending'") == [(len(RELEVANT),)]
    webhook.release()
    wait_for(lambda: webhook.attempts >= 1, what="the held request")
    assert invoke_monitor("check", "--config", str(config)).code == 0
    received = titles(webhook)
    assert set(received) == {ARTICLES[s].title for s in RELEVANT}
    assert sum(received.values()) <= len(RELEVANT) + 1


def test_alerts_lists_every_status_with_secrets_masked(site, webhook, tmp_path):
    secret = "Sup3rS3cretPassw0rd"
    config = write_config(tmp_path, [{"name": "wire", "url": feed(site, ["en-chips", "en-huawei"])}],
                          channels={"hook": f"json://monitor:{secret}@127.0.0.1:{webhook.port}/alerts"})
    invoke_monitor("check", "--config", str(config))
    listed = invoke_monitor("alerts", "--config", str(config))
    assert listed.code == 0
    assert listed.stdout.count("sent") == 2
    assert "json://monitor:" in listed.stdout and secret not in listed.output
    assert invoke_monitor("alerts", "--config", str(config), "--status", "dead").stdout.strip() == "no deliveries"
