"""The SQLite store: file, WAL, schema versions, and the write-once guarantees."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from conftest import assert_no_traceback, invoke_monitor, write_config

from monitor.errors import StoreError
from monitor.models import Alert, Article, Entry
from monitor.store import Store
from monitor.store.schema import MIGRATIONS

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
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 2 and "monitor.database" in result.stderr and "schema version 99" in result.stderr
    assert_no_traceback(result)


def test_a_file_that_is_not_a_database(tmp_path):
    (tmp_path / "monitor.db").write_text("this is not sqlite " * 100)
    result = invoke_monitor("check", "--config", str(write_config(tmp_path, [])))
    assert result.code == 2
    assert "cannot open database" in result.stderr
    assert_no_traceback(result)


def test_an_entry_is_new_only_once_even_from_two_connections(tmp_path):
    one, two = Store(tmp_path / "m.db"), Store(tmp_path / "m.db")
    alert = Alert("chat", "t", "b", ("chat#0",))
    assert one.record_entry(entry(), NOW, NOW, status="matched", alerts=[alert]) is True
    assert two.record_entry(entry(), NOW, NOW, status="matched", alerts=[alert]) is False
    assert len(one.deliveries(["pending"])) == 1


def test_the_same_url_from_another_feed_adds_no_alert(tmp_path):
    store = Store(tmp_path / "m.db")
    alert = Alert("chat", "t", "b", ("chat#0",))
    assert store.record_entry(entry(feed="a"), NOW, NOW, status="matched", alerts=[alert]) is True
    assert store.known_article("https://x.example/a")
    assert store.record_entry(entry(feed="b", key="other"), NOW, NOW, status="matched", alerts=[alert]) is False
    assert store.known_entries("b", ["other"]) == {"other"}
    assert len(store.deliveries(["pending"])) == 1


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
    assert [row.status for row in one.deliveries()] == ["pending"]
    two.mark_sent(claimed.id, "two", NOW)
    assert one.deliveries(["pending"]) == []


def test_failed_deliveries_wait_for_their_next_attempt(tmp_path):
    store = Store(tmp_path / "m.db")
    store.record_entry(entry(), NOW, NOW, status="matched", alerts=[Alert("chat", "t", "b", ("chat#0",))])
    (claimed,) = store.claim_deliveries(NOW, timedelta(minutes=5), "me")
    store.mark_failed(claimed.id, "me", "HTTP 500", NOW + timedelta(minutes=1))
    assert store.claim_deliveries(NOW + timedelta(seconds=30), timedelta(minutes=5), "me") == []
    (again,) = store.claim_deliveries(NOW + timedelta(minutes=2), timedelta(minutes=5), "me")
    assert again.attempts == 2


def test_a_version_1_database_is_migrated_with_its_data(tmp_path):
    path = tmp_path / "m.db"
    with sqlite3.connect(path) as db:                        # what monitor 0.1 wrote
        MIGRATIONS[0][2](db)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO articles (id, url, feed, title, published, first_seen, status) "
                   "VALUES (1, 'https://x.example/a', 'f', 'T', 0, 0, 'matched')")
        db.execute("INSERT INTO alerts (id, article_id, channel, title, body, created) VALUES (7, 1, 'c', 't', 'b', 0)")
        db.execute("INSERT INTO deliveries (alert_id, target, next_attempt) VALUES (7, 'c#0', 0)")
    store = Store(path)
    (row,) = store.deliveries()
    assert (row.id, row.kind, row.channel, row.status) == (1, "article", "c", "pending")
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (MIGRATIONS[-1][0],)
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    # the rebuilt alerts table is still the one deliveries refer to
    store.record_entry(entry(key="k2", url="https://x.example/b"), NOW, NOW, status="matched",
                       alerts=[Alert("c", "t2", "b2", ("c#0",))])
    assert len(store.deliveries(["pending"])) == 2


def test_dead_letters_go_back_in_the_queue(tmp_path):
    store = Store(tmp_path / "m.db")
    store.record_entry(entry(), NOW, NOW, status="matched", alerts=[Alert("chat", "t", "b", ("chat#0",))])
    (claimed,) = store.claim_deliveries(NOW, timedelta(minutes=5), "me")
    store.mark_failed(claimed.id, "me", "HTTP 500", NOW, dead=True)
    assert store.claim_deliveries(NOW + timedelta(days=1), timedelta(minutes=5), "me") == []
    assert store.retry_dead(NOW) == 1
    (again,) = store.claim_deliveries(NOW, timedelta(minutes=5), "me")
    assert again.attempts == 1
