"""The SQLite store: file, WAL, schema versions, and the write-once guarantees."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from conftest import assert_no_traceback, run_monitor, write_config
from monitor.errors import StoreError
from monitor.models import Alert, Article, Entry
from monitor.store import MIGRATIONS, Store

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def entry(key: str = "k1", url: str | None = "https://x.example/a", feed: str = "f") -> Entry:
    return Entry(feed=feed, key=key, url=url, title="Title", summary="", published=NOW)


def test_created_on_first_use_in_wal_mode_with_a_schema_version(tmp_path):
    path = tmp_path / "state" / "monitor.db"
    path.parent.mkdir()
    store = Store(path)
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (MIGRATIONS[-1][0],)
    Store(path).close()   # opening again changes nothing


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "monitor.db"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        Store(path)
    config = write_config(tmp_path, [])
    result = run_monitor("check", "--config", str(config))
    assert result.code == 2 and "monitor.database" in result.stderr and "schema version 99" in result.stderr
    assert_no_traceback(result)


def test_a_file_that_is_not_a_database(tmp_path):
    (tmp_path / "monitor.db").write_text("this is not sqlite " * 100)
    result = run_monitor("check", "--config", str(write_config(tmp_path, [])))
    assert result.code == 2
    assert "cannot open database" in result.stderr
    assert_no_traceback(result)


def test_an_entry_is_new_only_once_even_from_two_connections(tmp_path):
    one, two = Store(tmp_path / "m.db"), Store(tmp_path / "m.db")
    alert = Alert("chat", "t", "b", ("chat#0",))
    assert one.record_entry(entry(), NOW, NOW, status="matched", alerts=[alert]) is True
    assert two.record_entry(entry(), NOW, NOW, status="matched", alerts=[alert]) is False
    assert len(one.undelivered()) == 1


def test_the_same_url_from_another_feed_adds_no_alert(tmp_path):
    store = Store(tmp_path / "m.db")
    alert = Alert("chat", "t", "b", ("chat#0",))
    assert store.record_entry(entry(feed="a"), NOW, NOW, status="matched", alerts=[alert]) is True
    assert store.known_article("https://x.example/a")
    assert store.record_entry(entry(feed="b", key="other"), NOW, NOW, status="matched", alerts=[alert]) is False
    assert store.known_entries("b", ["other"]) == {"other"}
    assert len(store.undelivered()) == 1


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    store = Store(tmp_path / "m.db")
    bad = Alert("chat", "t", "b", ("chat#0", "chat#0"))      # the same target twice violates a constraint
    with pytest.raises(StoreError, match="UNIQUE constraint"):
        store.record_entry(entry(), NOW, NOW, status="matched", article=Article("t", "x", "en", 1.0), alerts=[bad])
    assert store.known_entries("f", ["k1"]) == set()         # the entry is new again
    assert not store.known_article("https://x.example/a")


def test_claims_are_exclusive_until_the_lease_expires(tmp_path):
    one, two = Store(tmp_path / "m.db"), Store(tmp_path / "m.db")
    one.record_entry(entry(), NOW, NOW, status="matched", alerts=[Alert("chat", "t", "b", ("chat#0",))])
    lease = timedelta(minutes=5)
    (claimed,) = one.claim_deliveries(NOW, lease, "one")
    assert two.claim_deliveries(NOW, lease, "two") == []
    assert [d.id for d in two.claim_deliveries(NOW + lease + timedelta(seconds=1), lease, "two")] == [claimed.id]
    one.mark_sent(claimed.id, "one", NOW)                     # too late: "two" holds it now
    assert one.undelivered()[0].status == "pending"
    two.mark_sent(claimed.id, "two", NOW)
    assert one.undelivered() == []


def test_failed_deliveries_wait_for_their_next_attempt(tmp_path):
    store = Store(tmp_path / "m.db")
    store.record_entry(entry(), NOW, NOW, status="matched", alerts=[Alert("chat", "t", "b", ("chat#0",))])
    (claimed,) = store.claim_deliveries(NOW, timedelta(minutes=5), "me")
    store.mark_failed(claimed.id, "me", "HTTP 500", NOW + timedelta(minutes=1))
    assert store.claim_deliveries(NOW + timedelta(seconds=30), timedelta(minutes=5), "me") == []
    (again,) = store.claim_deliveries(NOW + timedelta(minutes=2), timedelta(minutes=5), "me")
    assert again.attempts == 2
