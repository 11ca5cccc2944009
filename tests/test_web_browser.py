"""The status page in a real headless Chromium, against a real `monitor run` fed by the test site.

Needs Debian's chromium and chromium-driver (.ci/run installs them); skipped, saying so, without them.
Set MONITOR_UPDATE_SCREENSHOT=1 to copy the screenshot to docs/status-page.png for the README.
"""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

import pytest
from conftest import query, wait_for
from content import ARTICLES
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from web_helpers import IRRELEVANT, RELEVANT, WebDaemon, feed_with, web_config

ROOT = Path(__file__).resolve().parent.parent
BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(name)), None)
DRIVER = shutil.which("chromedriver")
# without these, Chromium on a machine with no internet stalls on its own background requests
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1440,1100"]

pytestmark = pytest.mark.skipif(
    BROWSER is None or DRIVER is None,
    reason="no headless Chromium here: install Debian's chromium and chromium-driver (.ci/run does)")

# stranger's text: if any of it ran, window.__pwned would be set, or the test site would be asked for /pwned
HOSTILE_TITLE = ('Export controls <script>window.__pwned = 1</script>'
                 '<img src=x onerror="window.__pwned = 2; fetch(\'{site}/pwned\')">')


@pytest.fixture
def browser(tmp_path):
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # both paths given: Selenium Manager, which would try to download a driver, is never asked
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def served(site, webhook, tmp_path):
    """The page of a daemon with a good feed, a feed that fails, and a feed of hostile titles."""
    wire = feed_with(site, RELEVANT + IRRELEVANT)
    site.put("/news/hostile", "<html><body><p>Export controls on chips, again, and more export controls.</p>"
                              "</body></html>")
    # escaped once more than markup would be: the feed says it is text, and monitor keeps it as such
    hostile = feed_with(site, [], path="/hostile", extra=[{
        "title": html.escape(HOSTILE_TITLE.format(site=site.url(""))), "link": site.url("/news/hostile"),
        "guid": "urn:hostile", "description": "export controls"}])
    config, port = web_config(tmp_path, [
        {"name": "wire", "url": wire, "interval": "1h"},
        {"name": "hostile", "url": hostile, "interval": "1h"},
        {"name": "gone", "url": site.url("/gone"), "interval": "1h"},
    ], channels={"hook": webhook.url()})
    daemon = WebDaemon(config, port)
    try:
        daemon.wait_until_serving()
        wait_for(lambda: len(webhook.received) >= len(RELEVANT) + 1, what="the alerts to be sent")
        yield daemon
    finally:
        daemon.stop()


def _settled(read):
    """``read()``, or None while the page is between two states: a form post navigating away, or the
    5-second refresh replacing the elements ``read`` had found."""
    try:
        return read()
    except (NoSuchElementException, StaleElementReferenceException):
        return None


def _read(read, what: str):
    """What ``read()`` gives once the page holds still long enough to give it."""
    found = []
    wait_for(lambda: found.append(_settled(read)) or found[-1] is not None, what=what)
    return found[-1]


def _alert_titles(driver) -> list[str]:
    return _settled(lambda: [e.text for e in driver.find_elements("css selector", "#alerts .alert h3")]) or []


def test_the_page_shows_alerts_feeds_and_records_feedback(browser, served, site, tmp_path):
    browser.get(served.url + "/")
    wait_for(lambda: browser.find_elements("css selector", "body[data-loaded=true]"), what="the page to load")
    wait_for(lambda: ARTICLES["en-chips"].title in _alert_titles(browser), what="the alert on the page")
    titles = _alert_titles(browser)
    assert {ARTICLES[s].title for s in RELEVANT} <= set(titles)
    assert not {ARTICLES[s].title for s in IRRELEVANT} & set(titles)

    # evidence, with the matched words marked; the delivery state per channel
    (article_id,) = query(tmp_path / "monitor.db", "SELECT id FROM articles WHERE title = ?",
                          ARTICLES["en-chips"].title)[0]
    card = f'.alert[data-article="{article_id}"]'
    sent = _read(lambda: browser.find_element("css selector", f"{card} .delivery[data-status=sent]").text,
                 what="the delivery shown as sent")
    assert sent.startswith("hook")
    marks = _read(lambda: [m.text.lower() for m in browser.find_elements("css selector", f"{card} .evidence mark")],
                  what="the evidence")
    assert "export controls" in marks
    assert f"127.0.0.1:{served.port}" not in _read(lambda: browser.find_element("css selector", card).text,
                                                   what="the alert card")

    # the failing feed is marked as such, with its error
    def feed(name):
        row = browser.find_element("css selector", f"#feeds tr[data-feed={name}]")
        return row.get_attribute("data-health"), row.get_attribute("class"), row.text
    health, classes, text = _read(lambda: feed("gone"), what="the failing feed's row")
    assert health == "failing" and "failing" in classes and "404" in text
    assert _read(lambda: feed("wire"), what="the working feed's row")[0] == "ok"

    # "not relevant" stores the same feedback as `monitor feedback ID no`
    wait_for(lambda: _settled(lambda: browser.find_element("css selector", f"{card} button.not-relevant").click()
                              or True), what="a click on 'not relevant'")
    db = tmp_path / "monitor.db"
    wait_for(lambda: query(db, "SELECT relevant FROM feedback WHERE article_id = ?", article_id) == [(0,)],
             what="the feedback in the database")
    wait_for(lambda: "chosen" in (_settled(lambda: browser.find_element(
        "css selector", f"{card} button.not-relevant").get_attribute("class")) or ""),
        what="the button to show the verdict")

    # the chart and the totals are drawn
    assert browser.find_elements("css selector", "#chart svg rect")
    assert _read(lambda: browser.find_element("css selector", '[data-total="alerts"]').text,
                 what="the totals") == str(len(RELEVANT) + 1)

    # nothing the page itself does breaks its Content-Security-Policy
    violations = [e for e in browser.get_log("browser") if "Content Security Policy" in e.get("message", "")]
    assert violations == []

    wait_for(lambda: _settled(lambda: not browser.find_element("css selector", "#toast").is_displayed()),
             what="the note to go")
    browser.execute_script("window.scrollTo(0, 0)")
    shot = tmp_path / "status-page.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("MONITOR_UPDATE_SCREENSHOT"):
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copy(shot, ROOT / "docs" / "status-page.png")


def test_a_hostile_title_is_shown_as_text_and_runs_nothing(browser, served, site):
    browser.get(served.url + "/")
    wait_for(lambda: any("<script>" in t for t in _alert_titles(browser)), what="the hostile alert")
    (title,) = [t for t in _alert_titles(browser) if "<script>" in t]
    assert title == HOSTILE_TITLE.format(site=site.url(""))   # shown as the very text it is
    assert browser.find_elements("css selector", "#alerts script, #alerts img") == []
    assert browser.execute_script("return window.__pwned === undefined")
    assert "/pwned" not in [r.path for r in site.requests]


def test_with_a_token_the_page_asks_for_it_once(browser, site, webhook, tmp_path):
    token = "browser-token-0123456789abcdef"
    (tmp_path / "web.token").write_text(token)
    config, port = web_config(tmp_path, [{"name": "wire", "url": feed_with(site, ["en-chips"]), "interval": "1h"}],
                              web='token_file = "web.token"', channels={"hook": webhook.url()})
    daemon = WebDaemon(config, port)
    try:
        daemon.wait_until_serving()
        wait_for(lambda: len(webhook.received) == 1, what="the alert")
        browser.get(daemon.url + "/")
        browser.find_element("css selector", "#token").send_keys("not-the-token-at-all")
        browser.find_element("css selector", "form.signin button").click()
        wait_for(lambda: _settled(lambda: browser.find_element("css selector", "#refused").is_displayed()),
                 what="the refusal")
        browser.find_element("css selector", "#token").send_keys(token)
        browser.find_element("css selector", "form.signin button").click()
        wait_for(lambda: ARTICLES["en-chips"].title in _alert_titles(browser), what="the page behind the token")
        assert token not in browser.page_source
        browser.get(daemon.url + "/")   # the session cookie lets it in again
        wait_for(lambda: ARTICLES["en-chips"].title in _alert_titles(browser), what="the page again")
    finally:
        daemon.stop()
