"""Feeds that misbehave: backoff with a cap, server hints, never giving up, one notice each way."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest
from conftest import invoke_monitor, query, wait_for, write_config
from content import ARTICLES, item_for, rss

from monitor.schedule import (
    next_poll_after_failure,
    next_poll_after_success,
    parse_retry_after,
    poll_offset,
)


def schedule(db) -> tuple[float, int, str]:
    (next_check, last_checked, errors, error), = query(
        db, "SELECT next_check, last_checked, errors, last_error FROM feeds WHERE name = 'f'")
    return round((next_check - last_checked) / 60), errors, error


def test_a_failing_feed_backs_off_exponentially_up_to_the_cap(site, tmp_path):
    site.put("/f", "down", status=500)
    config = write_config(tmp_path, [{"name": "f", "url": site.url("/f"), "interval": "10m"}],
                          monitor='private_networks = true\nbackoff_max = "1h"\n')
    minutes = []
    for _ in range(5):
        assert invoke_monitor("check", "--force", "--config", str(config)).code == 1
        delay, errors, error = schedule(tmp_path / "monitor.db")
        minutes.append(delay)
    assert minutes == [10, 20, 40, 60, 60]
    assert errors == 5 and "HTTP 500" in error
    site.put("/f", rss("f", []), "application/rss+xml")
    assert invoke_monitor("check", "--force", "--config", str(config)).code == 0
    assert schedule(tmp_path / "monitor.db")[:2] == (10, 0)     # back to its interval, errors forgotten


@pytest.mark.parametrize("headers,status,minutes", [
    ({"Retry-After": "7200"}, 503, 120),
    ({"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}, 429, 24 * 60),   # far future: capped at a day
    ({"Cache-Control": "public, max-age=3600"}, 200, 60),
    ({"Cache-Control": "max-age=60"}, 200, 10),                       # never more often than the interval
])
def test_server_hints_are_honoured(site, tmp_path, headers, status, minutes):
    site.put("/f", rss("f", []) if status == 200 else "busy", "application/rss+xml", status=status, headers=headers)
    config = write_config(tmp_path, [{"name": "f", "url": site.url("/f"), "interval": "10m"}])
    invoke_monitor("check", "--config", str(config))
    assert schedule(tmp_path / "monitor.db")[0] == minutes


def test_check_respects_retry_after_backoff_and_hints_and_force_polls_now(site, tmp_path):
    # the shipped timer runs `check`: a feed that asked for an hour's rest must get it from `check` too
    site.put("/f", "busy", status=503, headers={"Retry-After": "3600"})
    site.put("/g", rss("g", []), "application/rss+xml", headers={"Cache-Control": "max-age=3600"})
    config = write_config(tmp_path, [{"name": "f", "url": site.url("/f"), "interval": "10m"},
                                     {"name": "g", "url": site.url("/g"), "interval": "10m"}])
    first = invoke_monitor("check", "--config", str(config))
    assert first.code == 1 and 'feed "f" failed: HTTP 503' in first.stderr
    (retry_at,), = query(tmp_path / "monitor.db", "SELECT next_check FROM feeds WHERE name = 'f'")
    for _ in range(2):
        again = invoke_monitor("check", "--config", str(config))
        assert site.statuses("/f") == [503] and site.statuses("/g") == [200]   # neither polled again
        assert again.code == 1, again.output                                 # f still counts as failing
        when = datetime.fromtimestamp(retry_at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        [line] = [line for line in again.stderr.splitlines() if 'feed "f"' in line]
        assert line.startswith('monitor: feed "f" is failing: HTTP 503')
        assert line.endswith(f"(1 failure in a row; next try {when}, or now with --force)")
        assert "2 feeds: 0 fetched, 0 not modified, 0 failed, 2 not due yet" in again.stderr
    forced = invoke_monitor("check", "--force", "--config", str(config))
    assert site.statuses("/f") == [503, 503] and site.statuses("/g") == [200, 304]
    assert 'feed "f" failed: HTTP 503' in forced.stderr


def test_backoff_counts_from_the_end_of_a_slow_attempt(site, tmp_path):
    # the feed answers after 5 s, the deadline is 2 s: the attempt takes at least 2 s, and the
    # retry is its interval after that, not after the attempt began (then it would be due at once)
    site.put("/f", rss("f", []), "application/rss+xml", delay=5)
    config = write_config(tmp_path, [{"name": "f", "url": site.url("/f"), "interval": "10m"}],
                          monitor='private_networks = true\ntimeout = "2s"\n')
    result = invoke_monitor("check", "-v", "--config", str(config))   # -v: the feed_failed log line
    assert result.code == 1 and 'feed "f" failed' in result.stderr, result.output
    (next_check, started), = query(tmp_path / "monitor.db", "SELECT next_check, last_checked FROM feeds")
    assert next_check - started >= 600 + 2
    logged = result.stderr.split("retry_at=")[1].split()[0]
    assert datetime.fromisoformat(logged).timestamp() == int(next_check)   # the log says when it really is


def test_feeds_polled_together_are_spread_apart(site, tmp_path):
    # thirty feeds on one interval, all polled in one pass, share one `now`: without a spread they
    # would be due in the same second again, and again, for ever
    feeds = [{"name": f"feed{i}", "url": site.put(f"/f{i}", rss(f"f{i}", []), "application/rss+xml"),
              "interval": "10m"} for i in range(30)]
    config = write_config(tmp_path, feeds)
    assert invoke_monitor("check", "--config", str(config)).code == 0
    db = tmp_path / "monitor.db"
    waits = dict(query(db, "SELECT name, next_check - last_checked FROM feeds"))
    assert all(600 <= wait < 630 for wait in waits.values())          # never sooner; 30 s more at most
    assert max(Counter(int(wait) for wait in waits.values()).values()) <= 5
    assert max(waits.values()) - min(waits.values()) >= 20
    # each feed's share is its own: the same on the next pass
    assert invoke_monitor("check", "--force", "--config", str(config)).code == 0
    again = dict(query(db, "SELECT name, next_check - last_checked FROM feeds"))
    assert {name: round(wait, 3) for name, wait in again.items()} == {name: round(wait, 3) for name, wait in waits.items()}


def test_a_thousand_feeds_due_together_drift_apart():
    from datetime import datetime, timedelta, timezone
    ten = timedelta(minutes=10)
    due = {f"feed{i}": datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc) for i in range(1000)}
    busiest = []
    for _ in range(5):
        due = {name: next_poll_after_success(when, ten) + poll_offset(name, ten) for name, when in due.items()}
        busiest.append(max(Counter(int(when.timestamp()) for when in due.values()).values()))
    assert busiest[0] <= 50 and busiest[-1] <= 20, busiest   # not 1,000 requests in one second
    assert poll_offset("feed1", timedelta(seconds=5)) == timedelta(0)   # below the 1-s tick: nothing to spread


def test_rss_ttl_is_honoured(site, tmp_path):
    site.put("/f", rss("f", []).replace("<description>test feed</description>",
                                        "<description>test feed</description><ttl>90</ttl>"), "application/rss+xml")
    config = write_config(tmp_path, [{"name": "f", "url": site.url("/f"), "interval": "10m"}])
    invoke_monitor("check", "--config", str(config))
    assert schedule(tmp_path / "monitor.db")[0] == 90


def test_the_schedule_functions():
    from datetime import datetime, timedelta, timezone
    now = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    ten = timedelta(minutes=10)
    assert next_poll_after_success(now, ten, cache_control="no-cache, max-age=7200") == now + ten
    assert next_poll_after_success(now, ten, ttl=timedelta(days=7)) == now + timedelta(days=1)
    assert next_poll_after_failure(now, ten, 40, timedelta(hours=6)) == now + timedelta(hours=6)
    assert next_poll_after_failure(now, timedelta(days=2), 3, timedelta(hours=6)) == now + timedelta(days=2)
    assert parse_retry_after("Sun, 22 Nov 2026 11:00:00 GMT", now) == timedelta(0)
    assert parse_retry_after("soon", now) is None


def test_a_failing_feed_is_never_given_up_and_notices_go_out_once_each_way(site, webhook, tmp_path, spawn):
    site.put("/f", "down", status=503)
    good = site.put("/good", rss("g", [item_for(ARTICLES["en-chips"], site)]), "application/rss+xml")
    config = write_config(
        tmp_path,
        [{"name": "f", "url": site.url("/f"), "interval": "1s"}, {"name": "g", "url": good, "interval": "1s"}],
        channels={"hook": webhook.url()},
        monitor='private_networks = true\nbackoff_max = "1s"\nnotice_after = 3\n',
    )
    daemon = spawn("run", "--config", config)
    wait_for(lambda: len(site.statuses("/f")) >= 8, what="eight polls of the failing feed", alive=daemon)
    # still being tried, failure after failure
    down = [m for m in webhook.received if "is failing" in m["title"]]
    assert [m["title"] for m in down] == ["monitor: feed f is failing"]
    assert "has failed 3 times in a row" in down[0]["message"] and "HTTP 503" in down[0]["message"]
    assert any(ARTICLES["en-chips"].title in m["title"] for m in webhook.received)   # the good feed went on

    site.put("/f", rss("f", []), "application/rss+xml")
    wait_for(lambda: any("works again" in m["title"] for m in webhook.received), timeout=30,
             what="the recovery notice", alive=daemon)
    polls = len(site.statuses("/f"))
    wait_for(lambda: len(site.statuses("/f")) >= polls + 3, timeout=30, what="three polls after recovery",
             alive=daemon)
    assert daemon.stop(timeout=60) == 0, daemon.stderr
    stderr = daemon.stderr
    notices = [m["title"] for m in webhook.received if m["title"].startswith("monitor:")]
    assert notices == ["monitor: feed f is failing", "monitor: feed f works again"]
    assert "event=feed_recovered feed=f" in stderr
    assert query(tmp_path / "monitor.db", "SELECT errors, notified FROM feeds WHERE name = 'f'") == [(0, 0)]


def test_notices_can_be_switched_off(site, webhook, tmp_path):
    site.put("/f", "down", status=500)
    config = write_config(tmp_path, [{"name": "f", "url": site.url("/f")}], channels={"hook": webhook.url()},
                          monitor="private_networks = true\nnotice_after = 0\n")
    for _ in range(3):
        invoke_monitor("check", "--force", "--config", str(config))
    assert webhook.received == []
