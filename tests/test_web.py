"""`monitor run` with [web]: /metrics against what the test site served, /healthz and `monitor healthcheck`
when the daemon is stopped or its database read-only, and the page's security (token, CSRF, headers)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess

import pytest
from conftest import assert_no_traceback, query, run_monitor, wait_for, write_config
from prometheus_client.parser import text_string_to_metric_families
from servers import Webhook
from web_helpers import IRRELEVANT, RELEVANT, WebDaemon, feed_with, web_config


@pytest.fixture
def daemons():
    started: list[WebDaemon] = []

    def start(config, port) -> WebDaemon:
        daemon = WebDaemon(config, port)
        started.append(daemon)
        daemon.wait_until_serving()
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


def samples(daemon: WebDaemon) -> dict[tuple, float]:
    """(sample name, frozenset of labels) -> value, from /metrics, read with prometheus_client's own parser."""
    answer = daemon.get("/metrics")
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_what_the_test_site_served(site, webhook, tmp_path, daemons):
    wire = feed_with(site, RELEVANT + IRRELEVANT)
    config, port = web_config(tmp_path, [{"name": "wire", "url": wire, "interval": "1h"},
                                         {"name": "gone", "url": site.url("/gone"), "interval": "1h"}],
                              channels={"hook": webhook.url()})
    daemon = daemons(config, port)
    wait_for(lambda: len(webhook.received) == len(RELEVANT), what="the alerts")
    wait_for(lambda: value(samples(daemon), "monitor_deliveries_total", channel="hook", status="sent")
             == len(RELEVANT), what="the deliveries counted")
    found = samples(daemon)

    pages = [r for r in site.requests if r.path.startswith("/news/")]
    assert value(found, "monitor_feed_polls_total", feed="wire", status="200") == site.statuses("/feed").count(200) == 1
    assert value(found, "monitor_feed_failures_total", feed="gone") == len(site.statuses("/gone")) == 1
    assert value(found, "monitor_entries_seen_total", feed="wire") == len(RELEVANT + IRRELEVANT)
    read = {result: value(found, "monitor_articles_read_total", result=result)
            for result in ("page", "feed", "skipped")}
    assert sum(read.values()) == len(RELEVANT + IRRELEVANT)
    assert read["page"] + read["skipped"] == len([r for r in pages if r.status == 200])
    assert value(found, "monitor_articles_matched_total", feed="wire") == len(RELEVANT)
    assert value(found, "monitor_alerts_queued_total", channel="hook") == len(webhook.received)
    assert value(found, "monitor_deliveries_total", channel="hook", status="failed") == 0
    # every request the site answered was timed as a fetch; the one feed body was parsed once
    assert value(found, "monitor_stage_seconds_count", stage="fetch") == len(site.requests)
    assert value(found, "monitor_stage_seconds_count", stage="parse") == 1
    assert value(found, "monitor_stage_seconds_count", stage="read") == read["page"] + read["skipped"]
    assert value(found, "monitor_stage_seconds_count", stage="deliver") == len(RELEVANT)
    assert value(found, "monitor_outbox_depth") == 0 and value(found, "monitor_dead_letters") == 0
    assert value(found, "monitor_outbox_oldest_pending_age_seconds") == 0
    assert value(found, "monitor_last_tick_timestamp_seconds") > 0
    assert "monitor_worker_restarts" in {f.name for f in text_string_to_metric_families(daemon.get("/metrics").text)}
    # bounded labels: feeds, channels, stages and statuses; never an article's link
    assert not any("/news/" in v for (_, labels) in found for _, v in labels)
    log = daemon.stop()
    # the events still write the log lines they always did
    assert re.search(r"event=feed_polled feed=wire status=200 entries=6 new=6 alerts=4 ", log), log
    assert "event=feed_failed feed=gone failures=1" in log and log.count("event=alert_sent") == len(RELEVANT)


def _healthcheck(config) -> tuple[int, str]:
    result = run_monitor("healthcheck", "--config", str(config))
    assert_no_traceback(result)
    return result.code, result.output.strip()


def test_health_turns_bad_when_the_daemon_stops_and_good_when_it_goes_on(site, tmp_path, daemons):
    config, port = web_config(tmp_path, [{"name": "wire", "url": feed_with(site, ["en-football"]), "interval": "1h"}],
                              web='stale_after = "2s"')
    daemon = daemons(config, port)
    wait_for(lambda: _healthcheck(config)[0] == 0, what="monitor healthcheck to pass")
    assert _healthcheck(config)[1].startswith("monitor: healthy: ")
    daemon.proc.send_signal(signal.SIGSTOP)   # a stopped daemon answers nothing: the database tells
    try:
        wait_for(lambda: _healthcheck(config)[0] == 1, what="monitor healthcheck to fail")
        code, line = _healthcheck(config)
        assert code == 1 and len(line.splitlines()) == 1
        assert line.startswith("monitor: unhealthy: the daemon's clock last ticked ") and "more than 2s" in line
    finally:
        daemon.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: _healthcheck(config)[0] == 0, what="monitor healthcheck to pass again")
    wait_for(lambda: daemon.get("/healthz").status == 200, what="/healthz to be 200 again")


def test_health_turns_bad_while_the_database_is_read_only(site, tmp_path, daemons):
    probe = tmp_path / "probe"
    probe.touch()
    if subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here: no way to make a file read-only for root")
    subprocess.run(["chattr", "-i", str(probe)], check=True)
    config, port = web_config(tmp_path, [{"name": "wire", "url": feed_with(site, ["en-football"]), "interval": "1h"}],
                              web='stale_after = "5s"')
    daemon = daemons(config, port)
    files = [str(tmp_path / "monitor.db"), str(tmp_path / "monitor.db-wal")]
    subprocess.run(["chattr", "+i", *files], check=True)
    try:
        wait_for(lambda: daemon.get("/healthz").status == 503, what="/healthz to be 503")
        answer = daemon.get("/healthz").json()
        assert answer["status"] == "unhealthy"
        assert answer["reason"].startswith("the database does not take writes: ")
        code, line = _healthcheck(config)
        assert code == 1 and line.startswith("monitor: unhealthy: ") and len(line.splitlines()) == 1
    finally:
        subprocess.run(["chattr", "-i", *files], check=True)
    wait_for(lambda: daemon.get("/healthz").status == 200, what="/healthz to be 200 again")
    assert daemon.get("/healthz").json()["status"] == "ok"
    wait_for(lambda: _healthcheck(config)[0] == 0, what="monitor healthcheck to pass again")


def test_healthcheck_without_a_database_says_so_in_one_line(tmp_path):
    config = write_config(tmp_path, [])
    code, line = _healthcheck(config)
    assert code == 1
    assert line == f"monitor: unhealthy: no database at {tmp_path / 'monitor.db'}: monitor check or monitor run " \
                   "creates it; is the path right?"


def test_a_dead_letter_is_queued_again_from_the_page(site, tmp_path, daemons):
    with Webhook() as hook:
        hook.fail_with = 500
        config, port = web_config(tmp_path, [{"name": "wire", "url": feed_with(site, ["en-chips"]), "interval": "1h"}],
                                  channels={"hook": hook.url()}, monitor="delivery_attempts = 1\n")
        daemon = daemons(config, port)
        wait_for(lambda: value(samples(daemon), "monitor_dead_letters") == 1, what="a dead letter")
        assert value(samples(daemon), "monitor_deliveries_total", channel="hook", status="dead") == 1
        state = daemon.get("/api/state").json()
        (delivery,) = state["alerts"][0]["deliveries"]
        assert delivery["status"] == "dead" and state["totals"]["dead"] == 1
        hook.fail_with = None
        retried = daemon.get("/api/retry", method="POST", data={"delivery": delivery["id"]},
                             headers={"X-CSRF-Token": state["csrf"]})
        assert retried.status == 200 and retried.json() == {"delivery": delivery["id"], "status": "pending"}
        wait_for(lambda: len(hook.received) == 1, what="the alert sent after the retry")
        wait_for(lambda: query(tmp_path / "monitor.db", "SELECT status FROM deliveries") == [("sent",)],
                 what="the delivery marked sent")


TOKEN = "s3cret-token-for-the-tests-0123456789"


def test_with_a_token_every_route_but_health_needs_it_and_writes_need_csrf(site, webhook, tmp_path, daemons):
    (tmp_path / "web.token").write_text(TOKEN + "\n")
    config, port = web_config(tmp_path, [{"name": "wire", "url": feed_with(site, RELEVANT), "interval": "1h"}],
                              web='token_file = "web.token"', channels={"hook": webhook.url()})
    daemon = daemons(config, port)
    wait_for(lambda: len(webhook.received) == len(RELEVANT), what="the alerts")
    bearer = {"Authorization": f"Bearer {TOKEN}"}

    page = daemon.get("/")
    assert page.status == 200 and 'action="/login"' in page.text and TOKEN not in page.text
    for path in ("/api/state", "/metrics", "/static/app.js"):
        assert daemon.get(path).status == 401, path
        assert daemon.get(path, headers={"Authorization": "Bearer wrong-token-wrong-token"}).status == 401, path
        assert daemon.get(path, headers=bearer).status == 200, path
    assert daemon.get("/healthz").status == 200

    # the form sets a cookie that is not the token, and the cookie lets the page in
    refused = _login(daemon, "wrong-token-wrong-token")
    assert refused.status == 303 and "Set-Cookie" not in refused.headers
    signed_in = _login(daemon, TOKEN)
    cookie = signed_in.headers["Set-Cookie"]
    assert signed_in.status == 303 and "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    session = {"Cookie": cookie.split(";", 1)[0]}
    state = daemon.get("/api/state", headers=session)
    assert state.status == 200
    data = state.json()
    assert "json://" in data["alerts"][0]["deliveries"][0]["target"]

    # a write needs the page's CSRF token, and a same-origin Origin when one is sent
    article = data["alerts"][0]["id"]
    body = {"article": article, "relevant": True}
    assert daemon.get("/api/feedback", method="POST", headers=session, data=body).status == 403
    assert daemon.get("/api/feedback", method="POST", data=body,
                      headers={**session, "X-CSRF-Token": data["csrf"], "Origin": "http://evil.example"}).status == 403
    assert query(tmp_path / "monitor.db", "SELECT count(*) FROM feedback") == [(0,)]
    done = daemon.get("/api/feedback", method="POST", data=body,
                      headers={**session, "X-CSRF-Token": data["csrf"], "Origin": daemon.url})
    assert done.status == 200 and done.json() == {"article": article, "relevant": True, "replaced": False}
    assert query(tmp_path / "monitor.db", "SELECT article_id, relevant FROM feedback") == [(article, 1)]
    assert daemon.get("/api/feedback", method="POST", data={"article": 99999, "relevant": False},
                      headers={**bearer, "X-CSRF-Token": data["csrf"]}).status == 404
    assert daemon.get("/api/retry", method="POST", data={"delivery": 1},
                      headers={**bearer, "X-CSRF-Token": data["csrf"]}).status == 409   # sent, not dead

    assert TOKEN not in daemon.stop()


def _login(daemon: WebDaemon, token: str):
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    form = urllib.parse.urlencode({"token": token}).encode()
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(daemon.url + "/login", data=form, method="POST"), timeout=10) as r:
            return type("A", (), {"status": r.status, "headers": dict(r.headers)})
    except urllib.error.HTTPError as exc:
        return type("A", (), {"status": exc.code, "headers": dict(exc.headers)})


def test_every_answer_carries_a_strict_policy_and_loopback_answers_loopback_names_only(site, tmp_path, daemons):
    config, port = web_config(tmp_path, [{"name": "wire", "url": feed_with(site, []), "interval": "1h"}])
    daemon = daemons(config, port)
    for path in ("/", "/api/state", "/static/app.js", "/nowhere"):
        headers = daemon.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "default-src 'none'" in policy
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert daemon.get("/static/..%2Fconfig.toml").status == 404
    assert daemon.get("/static/app.js").headers["Content-Type"].startswith("text/javascript")
    # a page of another site that resolves its own name to 127.0.0.1 (DNS rebinding) is refused
    assert daemon.get("/api/state", headers={"Host": f"evil.example:{port}"}).status == 421
    assert daemon.get("/api/state", headers={"Host": f"localhost:{port}"}).status == 200


@pytest.mark.parametrize("web, message", [
    ('listen = "0.0.0.0:8080"', "web.listen: 0.0.0.0:8080 is not a loopback address: anyone who can reach it "
                                "would see the page; set web.token (or web.token_file), or listen on 127.0.0.1"),
    ('listen = "127.0.0.1"', "web.listen: bad address '127.0.0.1': use HOST:PORT, e.g. \"127.0.0.1:8080\""),
    ('listen = "example.org:80"\ntoken = "0123456789abcdef"',
     "web.listen: bad address 'example.org:80': the host must be an IP address or localhost"),
    ('token = "${NO_SUCH_TOKEN_VAR}"', "web.token: environment variable NO_SUCH_TOKEN_VAR is not set"),
    ('token = "short"', "web.token: the token is too short (5 characters): use at least 16"),
    ('token_file = "missing.token"', "web.token_file: file"),
    ('stale_after = 5', "web.stale_after: bad duration 5: a number needs a unit"),
    ('port = 80', "web.port: unknown key"),
])
def test_a_bad_web_section_is_one_line_naming_the_key(tmp_path, web, message):
    config = write_config(tmp_path, [])
    config.write_text(config.read_text() + f"\n[web]\n{web}\n")
    for command in ("validate", "run"):
        result = run_monitor(command, "--config", str(config))
        assert result.code == 2, result.output
        assert_no_traceback(result)
        assert result.stderr.startswith(f"monitor: config error in {config}: {message}"), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_port_already_taken_is_a_config_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, [])
        config.write_text(config.read_text() + f'\n[web]\nlisten = "127.0.0.1:{port}"\n')
        result = run_monitor("run", "--config", str(config))
    assert result.code == 2, result.output
    assert_no_traceback(result)
    assert result.stderr.startswith(
        f"monitor: config error in {config}: web.listen: cannot listen on 127.0.0.1:{port}: ")
