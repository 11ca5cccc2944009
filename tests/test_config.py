"""Config loading and `monitor validate`: every fault at once, each naming the file and the key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import assert_no_traceback, invoke_monitor, monitor_env, run_monitor, write_config

from monitor import config
from monitor.errors import ConfigError

BAD = """
[monitor]
interval = "5 minutes"
max_age = "2d"
privat_networks = true

[[feeds]]
name = "tweakers"
url = "ftp://tweakers.net/feed"
language = "nl-NL"

[[feeds]]
name = "tweakers"
url = "https://example.org/feed"
interval = "0s"
colour = "blue"

[[rules]]
name = "export"
any = ["export controls", ""]
channels = ["chat", "pager"]

[[rules]]
name = "export"
languages = ["en"]

[channels]
chat = "tgram://${NO_SUCH_VARIABLE_FOR_MONITOR}/1"
mail = ["nonsense://x", 5]
"""


def test_every_fault_is_reported_at_once_with_file_and_key(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(BAD)
    result = invoke_monitor("validate", "--config", str(path))
    assert result.code == 2
    assert_no_traceback(result)
    expected = [
        "monitor.interval: bad duration '5 minutes'",
        "monitor.privat_networks: unknown key",
        'feeds[0] "tweakers".url: bad URL',
        "feeds[0] \"tweakers\".language: bad language 'nl-NL'",
        'feeds[1] "tweakers".name: duplicate name',
        "feeds[1] \"tweakers\".interval: bad duration '0s'",
        'feeds[1] "tweakers".colour: unknown key',
        'rules[0] "export".any[1]: must not be empty',
        "rules[0] \"export\".channels: unknown channel 'pager'",
        'rules[1] "export".name: duplicate name',
        "rules[1] \"export\": a rule needs terms: 'any', 'all', 'terms' or a 'query'",
        "channels.chat: environment variable NO_SUCH_VARIABLE_FOR_MONITOR is not set",
        "channels.mail[0]: apprise does not accept this URL",
        "channels.mail[1]: must be an apprise URL",
    ]
    for fault in expected:
        assert f"{path}: {fault}" in result.stderr, fault
    assert "14 config errors" in result.stderr


@pytest.mark.parametrize("command", ["check", "run", "validate"])
def test_config_errors_exit_2_for_every_command(tmp_path, command):
    path = tmp_path / "config.toml"
    path.write_text('[monitor]\ninterval = "often"\n')
    result = run_monitor(command, "--config", str(path), timeout=30)
    assert result.code == 2
    assert f"{path}: monitor.interval: bad duration 'often'" in result.stderr
    assert_no_traceback(result)


def test_broken_toml_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[monitor]\ninterval = "10m\n')
    result = invoke_monitor("check", "--config", str(path))
    assert result.code == 2
    assert f"{path}: not valid TOML" in result.stderr and "line 2" in result.stderr
    assert_no_traceback(result)


def test_missing_config_file(tmp_path):
    result = invoke_monitor("check", "--config", str(tmp_path / "nope.toml"))
    assert result.code == 2
    assert "nope.toml: file not found" in result.stderr


def test_usage_errors_exit_2(tmp_path):
    assert invoke_monitor("check", "--no-such-option").code == 2
    assert invoke_monitor("fly").code == 2


def test_config_path_comes_from_the_environment_then_the_current_folder(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_config(elsewhere, [{"name": "from-env", "url": "https://example.org/feed"}])
    write_config(tmp_path, [{"name": "from-cwd", "url": "https://example.org/feed"}])
    env_result = invoke_monitor("validate", cwd=tmp_path, env=monitor_env(MONITOR_CONFIG=str(elsewhere / "config.toml")))
    assert "from-env" in env_result.stdout and "from-cwd" not in env_result.stdout
    cwd_result = invoke_monitor("validate", cwd=tmp_path)
    assert "from-cwd" in cwd_result.stdout


def test_validate_prints_a_summary_with_secrets_masked(tmp_path):
    token = "123456789:AAHsecretsecretsecretsecret"
    write_config(
        tmp_path,
        [{"name": "tweakers", "url": "https://tweakers.net/feeds/nieuws.xml", "interval": "5m", "language": "nl"}],
        channels={"chat": f"tgram://{token}/-100200300", "hook": "json://example.org/hook?token=${HOOK_TOKEN}"},
    )
    result = invoke_monitor("validate", cwd=tmp_path, env=monitor_env(HOOK_TOKEN="hooksecretvalue123"))
    assert result.code == 0, result.output
    assert "tweakers" in result.stdout and "every 5m" in result.stdout and " nl " in result.stdout
    assert "export-controls: any: 5 terms" in result.stdout
    assert "chat: tgram://" in result.stdout and "hook: json://" in result.stdout
    assert "AAHsecret" not in result.output and "hooksecretvalue123" not in result.output


def test_env_variables_expand_into_channel_urls_and_stay_out_of_reprs(tmp_path):
    path = write_config(tmp_path, [], channels={"hook": "json://monitor:${HOOK_PASSWORD}@127.0.0.1:8080/alerts"})
    settings = config.load(path, environ={"HOOK_PASSWORD": "s3cr3t-passw0rd"})
    assert settings.targets[0].url == "json://monitor:s3cr3t-passw0rd@127.0.0.1:8080/alerts"
    assert "s3cr3t-passw0rd" not in repr(settings)
    assert settings.targets[0].label.startswith("json://monitor:")


def test_defaults_and_paths(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[[feeds]]\nname = "a"\nurl = "https://example.org/a"\n'
                    '[[feeds]]\nname = "b"\nurl = "https://example.org/b"\ninterval = "1h30m"\n')
    settings = config.load(path, environ={})
    assert settings.database == tmp_path / "monitor.db"       # relative to the config file's folder
    assert settings.interval == timedelta(minutes=10)
    assert settings.max_age == timedelta(days=2)
    assert settings.private_networks is False
    assert [f.interval for f in settings.feeds] == [timedelta(minutes=10), timedelta(hours=1, minutes=30)]
    assert settings.targets == ()                              # no channel: standard output


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1w", 604800),
                                          ("1h30m", 5400)])
def test_durations(text, seconds):
    assert config.parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10", 45, "ten minutes", "5 min", "-1m", "0m", "1.5h", True])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        config.parse_duration(text)


def test_bare_numbers_are_not_durations(tmp_path):
    # a bare number used to be taken as seconds: max_age = 3 passed validate, then no entry was new enough to alert
    path = write_config(tmp_path, [{"name": "f", "url": "https://example.org/feed"}],
                        monitor='max_age = 3\nkeep_text = "30"\n')
    path.write_text(path.read_text().replace('url = "https://example.org/feed"',
                                             'url = "https://example.org/feed"\ninterval = 15'))
    result = invoke_monitor("validate", "--config", str(path))
    assert result.code == 2, result.output
    assert_no_traceback(result)
    assert "3 config errors" in result.stderr
    assert f"{path}: monitor.max_age: bad duration 3: a number needs a unit, e.g. '3s', '3m', '3h' or '3d'" \
        in result.stderr
    assert f"{path}: monitor.keep_text: bad duration '30': a number needs a unit" in result.stderr
    assert f"{path}: feeds[0] \"f\".interval: bad duration 15: a number needs a unit, e.g. '15s', '15m'" \
        in result.stderr


def test_rules_without_channels_go_to_every_channel(tmp_path):
    path = write_config(tmp_path, [], channels={"a": "json://127.0.0.1:1/a", "b": "json://127.0.0.1:1/b"})
    settings = config.load(path, environ={})
    assert {rule.channels for rule in settings.rules} == {("a", "b")}


def test_wrong_types_are_named(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[monitor]\nprivate_networks = "yes"\n[[rules]]\nname = "r"\nany = "Huawei"\n')
    with pytest.raises(ConfigError) as caught:
        config.load(path, environ={})
    problems = "\n".join(caught.value.problems)
    assert "monitor.private_networks: input should be a valid boolean" in problems
    assert 'rules[0] "r".any: input should be a valid list' in problems


def test_lower_case_operators_in_a_query_are_warned_about(tmp_path):
    rules = """
[[rules]]
name = "huawei-ban"
query = 'huawei and ban or near/5 "rock and roll"'

[[rules]]
name = "fine"
query = 'Huawei AND ban AND "and" AND NOT review'
"""
    path = write_config(tmp_path, [], rules=rules)
    result = invoke_monitor("validate", "--config", str(path))
    assert result.code == 0, result.output   # a warning, not an error: the query is valid, just seldom meant
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"monitor: warning: {path}: rules[0] \"huawei-ban\".query: 'and' at position 8 is a word to find, "
        "not an operator: write AND for the operator, or \"and\" in quotes for the word",
        f"monitor: warning: {path}: rules[0] \"huawei-ban\".query: 'or' at position 16 is a word to find, "
        "not an operator: write OR for the operator, or \"or\" in quotes for the word",
        f"monitor: warning: {path}: rules[0] \"huawei-ban\".query: 'near/5' at position 19 is a word to find, "
        "not an operator: write NEAR/5 for the operator, or \"near/5\" in quotes for the word",
    ]
    # the same warnings when the config is loaded for any other command
    assert len(config.load(path, environ={}).warnings) == 3
