"""Channel secrets: the tokens in apprise URLs never show, wherever monitor writes.

Not in the logs at the levels the daemon runs with in production (INFO and
up; apprise's own logger stays at WARNING), not in error messages, not in the
database file, not in `validate` or `alerts`, which show apprise's masked URL
(``url(privacy=True)``) instead. Tokens stay out of config.toml through
``${VAR}`` expansion or a ``<channel>_file``; a config that holds them
literally and that other users can read draws a warning.

Every test runs the real command line against real local servers (tests/servers.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import assert_no_traceback, invoke_monitor, monitor_env, query, run_monitor, wait_for, write_config
from content import ARTICLES, item_for, rss
from servers import Webhook, free_port

SECRET = "S3cretTokenValue"          # a password in the URL: apprise masks it as ****
PATH_SECRET = "S3cretPathToken123"   # a token in the URL's path, as many webhooks carry theirs
TOPIC_SECRET = "S3cretTopicName9"    # an ntfy topic: whoever knows it can read the channel
WARNING = "monitor: warning:"


def feed(site, slugs=("en-chips",), interval: str | None = None) -> dict:
    url = site.put("/feed", rss("wire", [item_for(ARTICLES[s], site) for s in slugs]), "application/rss+xml")
    return {"name": "wire", "url": url, **({"interval": interval} if interval else {})}


def stored_bytes(folder: Path) -> bytes:
    """The database as it lies on disk: the file, and its -wal and -shm if they are there."""
    parts = [folder / name for name in ("monitor.db", "monitor.db-wal", "monitor.db-shm")]
    assert parts[0].exists()
    return b"".join(p.read_bytes() for p in parts if p.exists())


def assert_clean(text: str | bytes, *secrets: str, where: str = "output") -> None:
    for secret in secrets:
        needle = secret.encode() if isinstance(text, bytes) else secret
        assert needle not in text, f"{secret!r} leaked into the {where}:\n{text!r}"


def masked(port: int, path: str = "/hook") -> str:
    return f"json://monitor:****@127.0.0.1:{port}{path}"


def chmod(path: Path, mode: int) -> Path:
    os.chmod(path, mode)
    return path


# -- the whole program: check, run, validate, alerts, retry and the database ----------------------


def test_check_validate_alerts_and_the_database_never_show_the_token(site, webhook, tmp_path):
    with Webhook() as failing:
        failing.fail_with = 500
        down = free_port()
        config = write_config(
            tmp_path, [feed(site)],
            channels={
                "chat": f"json://monitor:{SECRET}@127.0.0.1:{webhook.port}/hook",
                "team": f"json://monitor:{SECRET}@127.0.0.1:{failing.port}/hook",
                "ops": f"json://monitor:{SECRET}@127.0.0.1:{down}/hook",
            },
            monitor="private_networks = true\ndelivery_attempts = 2\n",
        )
        first = invoke_monitor("check", "-v", "--config", str(config))
        assert first.code == 1, first.output                      # two targets failed
        assert len(webhook.received) == 1 and failing.attempts == 1
        assert "event=alert_sent" in first.stderr and "event=alert_failed" in first.stderr
        assert first.stderr.count("not delivered to") == 2
        assert masked(webhook.port) in first.stderr
        # a 0644 config holding secrets: warned about, and it works all the same
        assert first.stderr.count(WARNING) == 1 and str(config) in first.stderr

        # the failed deliveries are due again at once; their second failure makes them dead letters
        query(tmp_path / "monitor.db", "UPDATE deliveries SET next_attempt = 0 WHERE status = 'pending'")
        second = invoke_monitor("check", "-v", "--config", str(config))
        assert second.code == 1, second.output
        assert second.stderr.count("event=alert_dead") == 2, second.stderr
        assert failing.attempts == 2

    validate = invoke_monitor("validate", "--config", str(config))
    alerts = invoke_monitor("alerts", "--config", str(config))
    retry = invoke_monitor("retry", "--config", str(config))
    assert validate.code == 0 and alerts.code == 0 and retry.code == 0, validate.output + alerts.output + retry.output
    for port in (webhook.port, failing.port, down):
        assert masked(port) in validate.stdout
        assert masked(port) in alerts.stdout
    assert alerts.stdout.count("last error:") == 2 and "dead" in alerts.stdout
    assert "2 dead deliveries queued again" in retry.stdout

    for result in (first, second, validate, alerts, retry):
        assert_no_traceback(result)
        assert_clean(result.output, SECRET)
    errors = query(tmp_path / "monitor.db", "SELECT last_error FROM deliveries WHERE last_error IS NOT NULL")
    assert len(errors) == 2
    assert_clean(stored_bytes(tmp_path), SECRET, where="database file")


def test_run_never_shows_the_token_in_its_logs_or_database(site, webhook, tmp_path, spawn):
    with Webhook() as failing:
        failing.fail_with = 500
        down = free_port()
        config = write_config(
            tmp_path, [feed(site, ("en-chips", "fr-huawei"), interval="1s")],
            channels={
                "chat": f"json://monitor:{SECRET}@127.0.0.1:{webhook.port}/hook",
                "team": f"json://monitor:{SECRET}@127.0.0.1:{failing.port}/hook",
                "ops": f"json://monitor:{SECRET}@127.0.0.1:{down}/hook",
            },
        )
        daemon = spawn("run", "--config", config)
        db = tmp_path / "monitor.db"
        wait_for(lambda: len(webhook.received) == 2, what="the alerts to the working target", alive=daemon)
        wait_for(lambda: db.exists() and query(
            db, "SELECT count(*) FROM deliveries WHERE last_error IS NOT NULL")[0][0] >= 2,
            what="both failing targets to have failed", alive=daemon)
        code = daemon.stop()
    stdout, stderr = daemon.stdout, daemon.stderr
    assert code == 0, stderr
    assert "event=alert_sent" in stderr and "event=alert_failed" in stderr   # INFO and WARNING both ran
    assert masked(webhook.port) in stderr
    assert "Traceback" not in stderr
    assert_clean(stdout + stderr, SECRET, where="output of monitor run")
    assert_clean(stored_bytes(tmp_path), SECRET, where="database file")


# -- <channel>_file ---------------------------------------------------------------------------------


def test_channel_file_delivers_through_the_urls_it_holds(site, webhook, tmp_path):
    folder = tmp_path / "etc"
    (folder / "credentials").mkdir(parents=True)
    secret_file = folder / "credentials" / "chat"
    secret_file.write_text(
        "# the chat's webhooks, one per line\n\n"
        f"json://monitor:{SECRET}@127.0.0.1:{webhook.port}/first\n"
        f"  json://monitor:{SECRET}@127.0.0.1:{webhook.port}/second  \n",
        encoding="utf-8",
    )
    chmod(secret_file, 0o600)
    config = write_config(folder, [feed(site)], channels={"chat_file": "credentials/chat"})   # relative to the config
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()

    result = invoke_monitor("check", "-v", "--config", str(config), cwd=elsewhere)
    assert result.code == 0, result.output
    assert sorted(m["path"] for m in webhook.received) == ["/first", "/second"]
    assert WARNING not in result.stderr            # a 0644 config, but the secret is not in it
    validate = invoke_monitor("validate", "--config", str(config), cwd=elsewhere)
    assert validate.code == 0, validate.output
    assert f"chat: {masked(webhook.port, '/first')}" in validate.stdout
    assert f"chat: {masked(webhook.port, '/second')}" in validate.stdout
    for output in (result.output, validate.output):
        assert_clean(output, SECRET)
    assert_clean(stored_bytes(folder), SECRET, where="database file")


@pytest.mark.parametrize("case", ["missing", "empty", "only-comments", "a-folder"])
def test_channel_file_that_gives_no_url_is_a_config_error(tmp_path, case):
    path = tmp_path / "chat.url"
    if case == "empty":
        path.write_text("", encoding="utf-8")
    elif case == "only-comments":
        path.write_text(f"# json://monitor:{SECRET}@127.0.0.1:9/hook\n   \n", encoding="utf-8")
    elif case == "a-folder":
        path.mkdir()
    config = write_config(tmp_path, [], channels={"chat_file": "chat.url"})
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 2, result.output
    assert "channels.chat_file" in result.stderr, result.stderr
    assert_no_traceback(result)
    assert_clean(result.output, SECRET)
    if case == "missing":
        assert "not found" in result.stderr
    if case in ("empty", "only-comments"):
        assert "needs at least one apprise URL" in result.stderr


@pytest.mark.parametrize("source, command", [("file", "check"), ("env", "check"), ("file", "run")])
def test_a_malformed_url_is_not_echoed_from_a_secret_source(tmp_path, source, command):
    bad = f"json:/monitor:{SECRET}@127.0.0.1:9/hook"   # one slash short
    env = monitor_env()
    if source == "file":
        (tmp_path / "chat.url").write_text(bad + "\n", encoding="utf-8")
        chmod(tmp_path / "chat.url", 0o600)
        channels = {"chat_file": "chat.url"}
        key = "channels.chat_file line 1"
    else:
        env["CHAT_URL"] = bad
        channels = {"chat": "${CHAT_URL}"}
        key = "channels.chat"
    config = write_config(tmp_path, [], channels=channels)
    result = run_monitor(command, "--config", str(config), env=env, timeout=60)
    assert result.code == 2, result.output
    assert key in result.stderr, result.stderr
    assert_clean(result.output, SECRET)


def test_channels_written_as_a_string_is_an_error_that_does_not_repeat_the_url(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'channels = "json://monitor:{SECRET}@127.0.0.1:9/hook"\n'
                      '[[rules]]\nname = "r"\nany = ["export controls"]\n', encoding="utf-8")
    chmod(config, 0o600)
    result = invoke_monitor("validate", "--config", str(config))
    assert result.code == 2, result.output
    assert "channels" in result.stderr
    assert_clean(result.output, SECRET)


# -- ${VAR} -----------------------------------------------------------------------------------------


def test_env_variables_are_expanded_and_stay_masked(site, webhook, tmp_path):
    config = write_config(
        tmp_path, [feed(site)],
        channels={"chat": f"json://monitor:${{HOOK_TOKEN}}@127.0.0.1:{webhook.port}/${{HOOK_PATH}}"},
    )
    env = monitor_env(HOOK_TOKEN=SECRET, HOOK_PATH="from-the-environment")
    result = invoke_monitor("check", "-v", "--config", str(config), env=env)
    assert result.code == 0, result.output
    assert [m["path"] for m in webhook.received] == ["/from-the-environment"]
    validate = invoke_monitor("validate", "--config", str(config), env=env)
    assert validate.code == 0, validate.output
    assert f"chat: {masked(webhook.port, '/from-the-environment')}" in validate.stdout
    for output in (result.output, validate.output):
        assert WARNING not in output
        assert_clean(output, SECRET)
    assert_clean(stored_bytes(tmp_path), SECRET, where="database file")


def test_unset_env_variable_is_a_config_error_naming_it(tmp_path):
    config = write_config(tmp_path, [], channels={
        "chat": "json://monitor:${HOOK_TOKEN}@127.0.0.1:9/hook",
        "team": ["json://127.0.0.1:9/a", "json://127.0.0.1:9/${TEAM_PATH}"],
    })
    env = monitor_env(HOOK_TOKEN=SECRET)
    env.pop("TEAM_PATH", None)
    result = invoke_monitor("check", "--config", str(config), env=env)
    assert result.code == 2, result.output
    assert "channels.team[1]" in result.stderr and "TEAM_PATH" in result.stderr, result.stderr
    assert "HOOK_TOKEN" not in result.stderr                 # that one is set: no complaint
    assert_no_traceback(result)
    assert_clean(result.output, SECRET)


# -- the warning about a readable config that holds secrets ------------------------------------------


@pytest.mark.parametrize("how, mode, warned", [
    ("literal", 0o644, True),
    ("literal", 0o640, True),
    ("literal", 0o604, True),
    ("literal", 0o600, False),
    ("env", 0o644, False),
    ("file", 0o644, False),
    ("no-secret", 0o644, False),
])
def test_warning_for_a_readable_config_that_holds_secrets(tmp_path, how, mode, warned):
    env = monitor_env()
    url = {
        "literal": f"json://monitor:{SECRET}@127.0.0.1:9/hook",
        "env": "json://monitor:${HOOK_TOKEN}@127.0.0.1:9/hook",
        "no-secret": "json://127.0.0.1:9/hook",
    }.get(how)
    if how == "file":
        (tmp_path / "chat.url").write_text(f"json://monitor:{SECRET}@127.0.0.1:9/hook\n", encoding="utf-8")
        chmod(tmp_path / "chat.url", 0o600)
        channels = {"chat_file": "chat.url"}
    else:
        channels = {"chat": url}
        env["HOOK_TOKEN"] = SECRET
    config = chmod(write_config(tmp_path, [], channels=channels), mode)
    result = invoke_monitor("validate", "--config", str(config), env=env)
    assert result.code == 0, result.output                      # a warning, not an error
    assert f"{config}: OK" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith(WARNING)]
    if warned:
        assert len(warnings) == 1, result.stderr
        assert str(config) in warnings[0] and "chmod 600" in warnings[0]
    else:
        assert warnings == [], result.stderr
    assert_clean(result.output, SECRET)


def test_warning_for_a_literal_password_next_to_an_env_variable(tmp_path):
    config = chmod(write_config(tmp_path, [], channels={
        "chat": f"json://monitor:{SECRET}@127.0.0.1:9/${{HOOK_PATH}}"}), 0o644)
    result = invoke_monitor("validate", "--config", str(config), env=monitor_env(HOOK_PATH="hook"))
    assert result.code == 0, result.output
    assert_clean(result.output, SECRET)
    assert WARNING in result.stderr


# -- error messages: the stored last_error and the "not delivered" line ------------------------------


def test_stored_errors_are_scrubbed_of_the_token_even_in_the_path(site, tmp_path):
    """apprise's ntfy plugin names the topic in its failure message; json's does not. Both are scrubbed."""
    with Webhook() as failing:
        failing.fail_with = 500
        down = free_port()
        config = chmod(write_config(tmp_path, [feed(site)], channels={
            "topic": f"ntfy://127.0.0.1:{failing.port}/{TOPIC_SECRET}",
            "path": f"json://127.0.0.1:{down}/{PATH_SECRET}",
            "user": f"json://monitor:{SECRET}@127.0.0.1:{failing.port}/hook",
        }), 0o600)
        result = invoke_monitor("check", "--config", str(config))
    assert result.code == 1, result.output
    errors = dict(query(tmp_path / "monitor.db", "SELECT target, last_error FROM deliveries"))
    assert set(errors) == {"topic#0", "path#0", "user#0"}
    assert all(errors.values()), errors
    assert "***" in errors["topic#0"] and "500" in errors["topic#0"], errors   # the topic was there, and was scrubbed
    for error in errors.values():
        assert_clean(error, SECRET, PATH_SECRET, TOPIC_SECRET, where="stored last_error")
    # what check prints after "(attempt N): " is that error
    reasons = [line.split("): ", 1)[1] for line in result.stderr.splitlines() if "not delivered to" in line]
    assert sorted(reasons) == sorted(errors.values())
    alerts = invoke_monitor("alerts", "--config", str(config))
    for line in alerts.stdout.splitlines():
        if "last error:" in line:
            assert_clean(line, SECRET, PATH_SECRET, TOPIC_SECRET)
    assert_clean(stored_bytes(tmp_path), SECRET, PATH_SECRET, TOPIC_SECRET, where="database file")


def test_not_delivered_line_has_no_token_from_the_path(site, tmp_path):
    config = chmod(write_config(tmp_path, [feed(site)], channels={
        "chat": f"json://127.0.0.1:{free_port()}/{PATH_SECRET}"}), 0o600)
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 1, result.output
    [line] = [line for line in result.stderr.splitlines() if "not delivered to" in line]
    assert_clean(line, PATH_SECRET)


def test_apprise_own_log_lines_carry_no_token(site, tmp_path):
    with Webhook() as failing:
        failing.fail_with = 500
        config = chmod(write_config(tmp_path, [feed(site)], channels={
            "topic": f"ntfy://127.0.0.1:{failing.port}/{TOPIC_SECRET}"}), 0o600)
        result = invoke_monitor("check", "--config", str(config))
    assert result.code == 1, result.output
    apprise_lines = [line for line in result.stderr.splitlines() if "logger=apprise" in line]
    assert apprise_lines, result.stderr
    assert_clean("\n".join(apprise_lines), TOPIC_SECRET)
