"""Exit codes and messages a person at a terminal meets: Ctrl-C, mistyped paths, unknown ids, unwritable folders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from conftest import assert_no_traceback, monitor_env, query, run_monitor, write_config
from content import rss


def wait_for(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def slow_feed(site, count: int = 6) -> str:
    items = []
    for i in range(count):
        path = f"/news/slow-{i}"
        site.put(path, "<html><body><p>" + "Export controls on chips were widened. " * 20 + "</p></body></html>",
                 delay=30)
        items.append({"title": f"Export controls item {i}", "link": site.url(path), "guid": f"slow-{i}",
                      "description": "export controls", "published": datetime.now(timezone.utc) - timedelta(minutes=1)})
    return site.put("/slow", rss("s", items), "application/rss+xml")


def test_ctrl_c_on_check_exits_130_quietly_and_the_next_pass_does_the_work(site, tmp_path):
    config = write_config(tmp_path, [{"name": "slow", "url": slow_feed(site)}])
    # a terminal's Ctrl-C goes to the whole foreground process group: the workers get it too
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "check", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=monitor_env(),
                            start_new_session=True)
    try:
        wait_for(lambda: any(r.path.startswith("/news/slow-") for r in site.requests), what="page reads")
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, stderr   # 1 would mean "a feed failed"
    assert "Aborted!" not in stderr and "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == "monitor: interrupted", stderr
    # nothing half-done: the feed is due again, its entries new again
    assert query(tmp_path / "monitor.db", "SELECT count(*) FROM entries") == [(0,)]
    assert query(tmp_path / "monitor.db", "SELECT next_check <= ? FROM feeds", time.time()) == [(1,)]
