from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from content import RULES_TOML  # noqa: E402
from servers import Mailbox, Site, Webhook  # noqa: E402


@pytest.fixture
def site():
    with Site() as server:
        yield server


@pytest.fixture
def webhook():
    with Webhook() as server:
        yield server


@pytest.fixture
def mailbox():
    with Mailbox() as server:
        yield server


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def monitor_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(extra)
    return env


def run_monitor(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 120) -> Result:
    """Run the real command line in a subprocess, as a user would."""
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd, env=env or monitor_env(), capture_output=True, text=True, timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def write_config(
    folder: Path,
    feeds: list[dict],
    *,
    channels: dict | None = None,
    rules: str = RULES_TOML,
    monitor: str = 'private_networks = true\n',
    catch_up: bool = True,
) -> Path:
    """A config.toml for the local test site; ``feeds`` are dicts of feed keys. ``catch_up``: the
    tests publish articles and expect the first pass to alert them, so new feeds catch up."""
    lines = ["[monitor]", 'database = "monitor.db"', monitor]
    if catch_up and "catch_up" not in monitor:
        lines.append("catch_up = true")
    for feed in feeds:
        lines.append("[[feeds]]")
        lines += [f"{key} = {_toml(value)}" for key, value in feed.items()]
    lines.append(rules)
    if channels:
        lines.append("[channels]")
        lines += [f"{name} = {_toml(value)}" for name, value in channels.items()]
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def query(db: Path, sql: str, *params) -> list[tuple]:
    """Read the database as a user with the sqlite3 shell would."""
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for(condition, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output, result.output
