"""`monitor check` end to end: a local news site, real feeds and pages, alerts posted by apprise for real."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from conftest import assert_no_traceback, invoke_monitor, query, write_config
from content import ARTICLES, atom, item_for, rss

FEEDS = {
    "wire-en": ("rss", ["en-chips", "en-football", "en-huawei", "en-summary-only", "en-old"]),
    "zeitung-de": ("atom", ["de-exportkontrollen", "de-bundesliga"]),
    "krant-nl": ("rss", ["nl-exportcontroles", "nl-weer"]),
    "journal-fr": ("rss", ["fr-controles", "fr-huawei"]),
    "bao-zh": ("rss", ["zh-weather"]),
}
RELEVANT = {slug for slug, a in ARTICLES.items() if a.rules and a.age < timedelta(days=2)}


def publish(site, name: str, kind: str, slugs: list[str], extra_items: list[dict] = ()) -> str:
    items = [item_for(ARTICLES[slug], site) for slug in slugs] + list(extra_items)
    body = rss(name, items) if kind == "rss" else atom(name, items)
    return site.put(f"/feeds/{name}", body, f"application/{kind}+xml")


@pytest.fixture
def newsroom(site, webhook, tmp_path):
    """Five feeds in five languages, one webhook channel; returns the config path."""
    feeds = [{"name": name, "url": publish(site, name, kind, slugs)} for name, (kind, slugs) in FEEDS.items()]
    feeds[1]["language"] = "de"
    return write_config(tmp_path, feeds, channels={"hook": webhook.url()})


def alerted_slugs(webhook) -> list[str]:
    by_title = {a.title: slug for slug, a in ARTICLES.items()}
    slugs = []
    for message in webhook.received:
        title = message["message"].splitlines()[0]
        slugs.append(by_title.get(title, title))
    return slugs


def test_first_pass_alerts_exactly_the_relevant_articles_once(newsroom, webhook):
    result = invoke_monitor("check", "--config", str(newsroom))
    assert result.code == 0, result.output
    assert_no_traceback(result)
    slugs = alerted_slugs(webhook)
    assert sorted(slugs) == sorted(RELEVANT)   # each once; boilerplate, sport and weather never alert


def test_alert_carries_the_evidence(newsroom, webhook, site):
    invoke_monitor("check", "--config", str(newsroom))
    german = next(m for m in webhook.received if "Technologie-Exportkontrollen" in m["title"])
    body = german["message"]
    assert site.url("/news/de-exportkontrollen") in body
    assert "Feed: zeitung-de" in body
    assert "Language: de" in body
    published = datetime.now(timezone.utc) - ARTICLES["de-exportkontrollen"].age
    assert f"Published: {published:%Y-%m-%d}" in body
    assert "Rules: export-controls, nvidia-h20, german-nvidia" in body
    # every matched term, each with the words around it
    assert '"Exportkontrollen" in: USA verschärfen Technologie-Exportkontrollen' in body
    assert '"H20" in: …' in body and "dürfen H20-Chips des Herstellers" in body
    assert '"Nvidia" in: …' in body
    assert german["title"].startswith("export-controls, nvidia-h20, german-nvidia: ")


def test_one_alert_per_article_lists_every_matching_rule(newsroom, webhook):
    invoke_monitor("check", "--config", str(newsroom))
    chips = [m for m in webhook.received if m["title"].endswith("US widens export controls on AI chips bound for China")]
    assert len(chips) == 1
    assert "Rules: export-controls, nvidia-h20" in chips[0]["message"]


def test_second_pass_alerts_nothing_and_every_feed_answers_304(newsroom, webhook, site):
    invoke_monitor("check", "--config", str(newsroom))
    sent = len(webhook.received)
    pages_fetched = sum(1 for r in site.requests if r.path.startswith("/news/"))

    result = invoke_monitor("check", "--force", "--config", str(newsroom))

    assert result.code == 0, result.output
    assert len(webhook.received) == sent
    for name in FEEDS:
        assert site.statuses(f"/feeds/{name}") == [200, 304]
    assert sum(1 for r in site.requests if r.path.startswith("/news/")) == pages_fetched
    assert "5 not modified" in result.stderr


def test_item_added_later_is_alerted_once(newsroom, webhook, site):
    invoke_monitor("check", "--config", str(newsroom))
    first = len(webhook.received)
    late = {
        "title": "EU adopts new sanctions package with export controls on drones",
        "link": site.put("/news/late", "<html><body><article><h1>EU</h1><p>"
                         + "The European Union adopted new export controls on drone components today. " * 8
                         + "</p></article></body></html>"),
        "guid": "urn:example:late",
        "description": "Brussels acts on drone parts.",
        "published": datetime.now(timezone.utc) - timedelta(minutes=5),
    }
    publish(site, "wire-en", "rss", FEEDS["wire-en"][1], [late])

    invoke_monitor("check", "--force", "--config", str(newsroom))
    invoke_monitor("check", "--force", "--config", str(newsroom))

    titles = [m["message"].splitlines()[0] for m in webhook.received[first:]]
    assert titles == [late["title"]]


def test_old_entries_are_recorded_but_never_alerted_nor_fetched(newsroom, webhook, site, tmp_path):
    invoke_monitor("check", "--config", str(newsroom))
    assert "en-old" not in alerted_slugs(webhook)
    assert site.statuses("/news/en-old") == []
    rows = query(tmp_path / "monitor.db", "SELECT status FROM articles WHERE url = ?", site.url("/news/en-old"))
    assert rows == [("too_old",)]


def test_unreachable_page_falls_back_to_the_feed_summary(newsroom, webhook, site):
    result = invoke_monitor("check", "--config", str(newsroom))
    assert site.statuses("/news/en-summary-only") == [404]
    assert result.code == 0   # a missing page is not a failure
    message = next(m for m in webhook.received if "Dutch supplier" in m["title"])
    assert '"export controls" in:' in message["message"]


def test_page_without_text_falls_back_to_the_feed_summary(site, webhook, tmp_path):
    site.put("/news/empty", "<html><body><nav><a href='/'>Home</a></nav></body></html>")
    item = {"title": "Brief", "link": site.url("/news/empty"), "guid": "g1",
            "description": "Officials expanded the Entity List on Friday.",
            "published": datetime.now(timezone.utc)}
    config = write_config(tmp_path, [{"name": "f", "url": site.put("/f", rss("f", [item]), "application/rss+xml")}],
                          channels={"hook": webhook.url()})
    assert invoke_monitor("check", "--config", str(config)).code == 0
    assert len(webhook.received) == 1
    assert "Entity List" in webhook.received[0]["message"]


def test_language_rules_and_detected_languages(newsroom, webhook, tmp_path):
    invoke_monitor("check", "--config", str(newsroom))
    german_rule = [m for m in webhook.received if "german-nvidia" in m["title"]]
    assert [m["title"].split(": ", 1)[1] for m in german_rule] == [ARTICLES["de-exportkontrollen"].title]
    languages = dict(query(tmp_path / "monitor.db", "SELECT title, language FROM articles"))
    assert {languages[a.title] for a in ARTICLES.values() if a.title in languages and a.slug != "en-old"} >= {
        "en", "de", "nl", "fr", "zh"}
    for slug, article in ARTICLES.items():
        if slug != "en-old":
            assert languages[article.title] == article.lang, slug


def test_the_same_article_from_two_feeds_is_one_article(site, webhook, tmp_path):
    item = item_for(ARTICLES["en-chips"], site)
    tracked = dict(item, guid="other-guid", link=item["link"] + "?utm_source=rss&utm_medium=feed")
    config = write_config(tmp_path, [
        {"name": "one", "url": site.put("/one", rss("one", [item]), "application/rss+xml")},
        {"name": "two", "url": site.put("/two", atom("two", [tracked]), "application/atom+xml")},
    ], channels={"hook": webhook.url()})
    assert invoke_monitor("check", "--config", str(config)).code == 0
    assert len(webhook.received) == 1
    assert site.statuses("/news/en-chips") == [200]
    assert query(tmp_path / "monitor.db", "SELECT count(*) FROM entries") == [(2,)]


def test_entries_without_guid_or_link_keep_their_identity(site, webhook, tmp_path):
    now = datetime.now(timezone.utc)
    no_guid = {"title": "Exporters brace for new export controls", "link": site.url("/news/missing"),
               "description": "New export controls loom.", "published": now}
    bare = {"title": "Entity List update", "description": "Three firms added to the Entity List.", "published": now}
    url = site.put("/f", rss("f", [no_guid, bare]), "application/rss+xml")
    config = write_config(tmp_path, [{"name": "f", "url": url}], channels={"hook": webhook.url()})
    invoke_monitor("check", "--config", str(config))
    assert len(webhook.received) == 2
    # the same items, reordered and with a changed ETag: still known
    site.put("/f", rss("f", [bare, no_guid]) + "\n", "application/rss+xml")
    invoke_monitor("check", "--force", "--config", str(config))
    assert len(webhook.received) == 2


def test_entry_without_a_date_counts_as_published_when_first_seen(site, webhook, tmp_path):
    item = {"title": "Entity List additions announced", "link": site.url("/news/undated"), "guid": "u1",
            "description": "The Entity List grows."}
    config = write_config(tmp_path, [{"name": "f", "url": site.put("/f", rss("f", [item]), "application/rss+xml")}],
                          channels={"hook": webhook.url()})
    before = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    invoke_monitor("check", "--config", str(config))
    assert len(webhook.received) == 1
    stamp = webhook.received[0]["message"].split("Published: ")[1].splitlines()[0]
    published = datetime.strptime(stamp, "%Y-%m-%d %H:%M UTC").replace(tzinfo=timezone.utc)
    assert before <= published <= datetime.now(timezone.utc)


def test_a_failing_feed_exits_1_and_says_which_and_why(newsroom, webhook, site, tmp_path):
    site.put("/feeds/journal-fr", "oops", status=503)
    result = invoke_monitor("check", "--config", str(newsroom))
    assert result.code == 1
    assert_no_traceback(result)
    assert 'feed "journal-fr" failed: HTTP 503' in result.stderr
    assert "fr-controles" not in alerted_slugs(webhook)
    assert "de-exportkontrollen" in alerted_slugs(webhook)   # the other feeds went on


def test_a_body_that_is_not_a_feed_is_a_feed_failure(site, tmp_path):
    url = site.put("/feed", "<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>")
    config = write_config(tmp_path, [{"name": "homepage", "url": url}])
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 1
    assert 'feed "homepage" failed: got an HTML page, not a feed' in result.stderr


def test_an_unreachable_feed_exits_1(tmp_path):
    config = write_config(tmp_path, [{"name": "gone", "url": "http://127.0.0.1:9/feed"}])
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 1
    assert_no_traceback(result)
    assert 'feed "gone" failed: cannot connect' in result.stderr


def test_undelivered_alert_exits_1_and_is_sent_once_on_a_later_pass(newsroom, webhook):
    webhook.fail_with = 500
    result = invoke_monitor("check", "--config", str(newsroom))
    assert result.code == 1
    assert_no_traceback(result)
    undelivered = [line for line in result.stderr.splitlines() if "not delivered" in line]
    assert len(undelivered) == len(RELEVANT)
    assert 'for channel "hook" not delivered to json://127.0.0.1' in undelivered[0]

    webhook.fail_with = None
    result = invoke_monitor("check", "--config", str(newsroom))
    assert result.code == 0, result.output
    assert sorted(alerted_slugs(webhook)) == sorted(RELEVANT)

    invoke_monitor("check", "--config", str(newsroom))
    assert sorted(alerted_slugs(webhook)) == sorted(RELEVANT)   # sent means never again


def test_alerts_are_written_before_they_are_sent(newsroom, webhook, tmp_path):
    webhook.fail_with = 500
    invoke_monitor("check", "--config", str(newsroom))
    rows = query(tmp_path / "monitor.db", "SELECT status, attempts, last_error FROM deliveries ORDER BY id")
    assert len(rows) == len(RELEVANT) and {status for status, _, _ in rows} == {"pending"}
    # the first one was tried and failed; the target being down, the others wait for its retry untried
    assert rows[0][1] == 1 and "500" in rows[0][2]
    assert [attempts for _, attempts, _ in rows[1:]] == [0] * (len(RELEVANT) - 1)
    assert webhook.attempts == 1


def test_email_channel_delivers_through_smtp(site, mailbox, tmp_path):
    item = item_for(ARTICLES["nl-exportcontroles"], site)
    url = site.put("/nl", rss("krant", [item], language="nl"), "application/rss+xml")
    mail = mailbox.url()
    config = write_config(tmp_path, [{"name": "krant", "url": url}], channels={"mail": mail})
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 0, result.output
    assert len(mailbox.messages) == 1
    message = mailbox.messages[0]
    assert message["To"] == "analyst@example.org"
    assert ARTICLES["nl-exportcontroles"].title in message["Subject"]
    text = message.get_payload(decode=True) if not message.is_multipart() else \
        message.get_payload(0).get_payload(decode=True)
    assert "Language: nl" in text.decode("utf-8")
    assert '"exportcontroles" in:' in text.decode("utf-8")


def test_rules_route_to_their_channels(site, webhook, mailbox, tmp_path):
    items = [item_for(ARTICLES[s], site) for s in ("en-chips", "en-huawei")]
    url = site.put("/f", rss("f", items), "application/rss+xml")
    rules = """
[[rules]]
name = "chips"
any = ["H20"]
channels = ["mail"]

[[rules]]
name = "huawei"
any = ["Huawei"]
"""
    mail = mailbox.url()
    config = write_config(tmp_path, [{"name": "f", "url": url}], rules=rules,
                          channels={"mail": mail, "hook": webhook.url()})
    assert invoke_monitor("check", "--config", str(config)).code == 0
    assert [m["title"] for m in webhook.received] == [f"huawei: {ARTICLES['en-huawei'].title}"]
    assert sorted(m["Subject"] for m in mailbox.messages) == sorted(
        [f"chips: {ARTICLES['en-chips'].title}", f"huawei: {ARTICLES['en-huawei'].title}"])


def test_several_urls_in_one_channel_each_get_the_alert(site, webhook, tmp_path):
    item = item_for(ARTICLES["fr-huawei"], site)
    url = site.put("/f", rss("f", [item]), "application/rss+xml")
    config = write_config(tmp_path, [{"name": "f", "url": url}],
                          channels={"team": [webhook.url("/one"), webhook.url("/two")]})
    assert invoke_monitor("check", "--config", str(config)).code == 0
    assert sorted(m["path"] for m in webhook.received) == ["/one", "/two"]


def test_without_channels_alerts_are_printed_for_a_person(site, tmp_path):
    item = item_for(ARTICLES["de-exportkontrollen"], site)
    url = site.put("/f", atom("f", [item]), "application/atom+xml")
    config = write_config(tmp_path, [{"name": "zeitung", "url": url}])
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 0, result.output
    assert "USA verschärfen Technologie-Exportkontrollen gegen China" in result.stdout
    assert "Rules: export-controls, nvidia-h20, german-nvidia" in result.stdout
    assert "ts=" not in result.stdout          # logs stay on stderr
    again = invoke_monitor("check", "--force", "--config", str(config))
    assert again.stdout == ""                  # printed once, like any alert


def test_links_to_private_addresses_are_not_fetched_by_default(site, webhook, tmp_path):
    items = [item_for(ARTICLES["en-chips"], site, title="Washington acts on chips"),
             item_for(ARTICLES["en-summary-only"], site)]
    url = site.put("/f", rss("f", items), "application/rss+xml")
    config = write_config(tmp_path, [{"name": "f", "url": url}], channels={"hook": webhook.url()}, monitor="")
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 0, result.output
    assert site.statuses("/f") == [200]                   # the configured feed URL is trusted
    assert [r.path for r in site.requests if r.path.startswith("/news/")] == []
    # the rules saw the feed summaries instead: only the summary that names the topic alerts
    assert [m["message"].splitlines()[0] for m in webhook.received] == [ARTICLES["en-summary-only"].title]
    # and the user is told, once for the feed, not once a link and not only with -v
    [warning] = [line for line in result.stderr.splitlines() if "event=page_not_fetched" in line]
    assert "level=warning" in warning and "feed=f" in warning and "private_networks = true" in warning
