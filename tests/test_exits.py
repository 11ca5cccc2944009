"""Exit codes and messages a person at a terminal meets: Ctrl-C, mistyped paths, unknown ids, unwritable folders."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest
from conftest import assert_no_traceback, invoke_monitor, monitor_env, query, wait_for, write_config
from content import ARTICLES, item_for, rss


def slow_feed(site, count: int = 6) -> str:
    items = []
    for i in range(count):
        path = f"/news/slow-{i}"
        site.put(path, "<html><body><p>" + "Export controls on chips were widened. " * 20 + "</p></body></html>",
                 delay=30)
        items.append({"title": f"Export controls item {i}", "link": site.url(path), "guid": f"slow-{i}",
                      "description": "export controls", "published": datetime.now(timezone.utc) - timedelta(minutes=1)})
    return site.put("/slow", rss("s", items), "application/rss+xml")


def test_ctrl_c_on_check_exits_130_quietly_and_the_next_pass_does_the_work(site, tmp_path, spawn):
    config = write_config(tmp_path, [{"name": "slow", "url": slow_feed(site)}])
    # a terminal's Ctrl-C goes to the whole foreground process group: the workers get it too
    check = spawn("check", "--config", config, own_group=True)
    wait_for(lambda: any(r.path.startswith("/news/slow-") for r in site.requests), what="page reads", alive=check)
    check.signal_group(signal.SIGINT)
    code = check.wait(60)
    stderr = check.stderr
    assert code == 130, stderr   # 1 would mean "a feed failed"
    assert "Aborted!" not in stderr and "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == "monitor: interrupted", stderr
    # nothing half-done: the feed is due again, its entries new again
    assert query(tmp_path / "monitor.db", "SELECT count(*) FROM entries") == [(0,)]
    assert query(tmp_path / "monitor.db", "SELECT next_check <= ? FROM feeds", time.time()) == [(1,)]


def test_alerts_with_a_mistyped_database_path_says_so_and_creates_nothing(tmp_path):
    config = write_config(tmp_path, [])
    assert invoke_monitor("check", "--config", str(config)).code == 0          # monitor.db exists now
    typo = tmp_path / "monitr.db"
    for command in (["alerts"], ["retry"], ["backtest"]):
        result = invoke_monitor(*command, "--config", str(config), env=monitor_env(MONITOR_DATABASE=str(typo)))
        assert result.code == 2, result.output
        assert_no_traceback(result)
        assert f"monitor.database: no database at {typo}: monitor check or monitor run creates it; " \
               "is the path right?" in result.stderr
        assert not typo.exists()


def test_retry_of_an_unknown_delivery_says_so(tmp_path):
    config = write_config(tmp_path, [])
    assert invoke_monitor("check", "--config", str(config)).code == 0
    result = invoke_monitor("retry", "99", "--config", str(config))
    assert result.code == 2
    assert_no_traceback(result)
    assert f"monitor: no delivery with id 99 in {tmp_path / 'monitor.db'} (monitor alerts lists them)" in result.stderr
    assert "queued again" not in result.stdout


def test_retry_says_which_deliveries_were_not_dead(site, tmp_path):
    url = site.put("/f", rss("f", [item_for(ARTICLES["en-chips"], site)]), "application/rss+xml")
    config = write_config(tmp_path, [{"name": "f", "url": url}])   # no channel: printed, so sent at once
    assert invoke_monitor("check", "--config", str(config)).code == 0
    result = invoke_monitor("retry", "1", "--config", str(config))
    assert result.code == 0
    assert result.stdout.splitlines() == ["delivery 1 is sent, not dead: left as it is",
                                          "0 dead deliveries queued again (none were dead)"]


def test_a_database_in_a_folder_that_is_not_writable(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    config = write_config(tmp_path, [])
    config.write_text(config.read_text().replace('database = "monitor.db"', 'database = "state/monitor.db"'))
    state.chmod(0o555)
    immutable = False
    try:
        try:
            (state / "probe").touch()
        except OSError:
            pass
        else:   # root writes anywhere: only an immutable folder stops it
            (state / "probe").unlink()
            immutable = subprocess.run(["chattr", "+i", str(state)], capture_output=True).returncode == 0
            if not immutable:
                pytest.skip("running as root, and chattr +i is not available here")
        result = invoke_monitor("check", "--config", str(config))
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(state)], check=True)
        state.chmod(0o755)
    assert result.code == 2, result.output
    assert_no_traceback(result)
    assert (f"monitor: {config}: monitor.database: cannot open database {state / 'monitor.db'}: "
            f"the folder {state} is not writable by this user: monitor needs to write the database "
            "and its -wal and -shm files there") in result.stderr


def test_a_database_in_a_folder_that_does_not_exist(tmp_path):
    config = write_config(tmp_path, [])
    config.write_text(config.read_text().replace('database = "monitor.db"', 'database = "nowhere/monitor.db"'))
    result = invoke_monitor("check", "--config", str(config))
    assert result.code == 2
    assert f"the folder {tmp_path / 'nowhere'} does not exist" in result.stderr
