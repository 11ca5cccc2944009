"""systemd: the notify protocol spoken for real, the watchdog's honesty, and the shipped unit files.

`monitor run` is started as a subprocess with $NOTIFY_SOCKET pointing at a
datagram socket of the test, as systemd would set it for Type=notify, and
every datagram it sends is read back. The unit files are parsed, and judged
by systemd-analyze itself where this machine has it.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from conftest import Monitor, monitor_env, query, write_config
from content import ARTICLES, item_for, rss

UNITS = Path(__file__).resolve().parent.parent / "systemd"
SERVICES = ("monitor.service", "monitor-check.service")
EXECUTABLE = "/opt/monitor/venv/bin/monitor"


# -- the notify socket ----------------------------------------------------------------------------


class NotifySocket:
    """What systemd listens on: an AF_UNIX datagram socket. Keeps every datagram, in order."""

    def __init__(self, address: str):
        self.env_value = address                       # what goes into $NOTIFY_SOCKET
        bind_to = "\0" + address[1:] if address.startswith("@") else address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(bind_to)
        self.datagrams: list[list[str]] = []

    def close(self) -> None:
        self.sock.close()

    def _receive(self, timeout: float | None) -> list[str] | None:
        """One datagram, or None when none came within ``timeout`` (0: do not wait)."""
        if timeout is not None and timeout <= 0:
            self.sock.setblocking(False)
        else:
            self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, TimeoutError):
            return None
        lines = data.decode("utf-8").split("\n")
        self.datagrams.append(lines)
        return lines

    def drain(self) -> list[list[str]]:
        """Every datagram already queued, without waiting."""
        got = []
        while (lines := self._receive(0)) is not None:
            got.append(lines)
        return got

    def collect_for(self, seconds: float) -> list[list[str]]:
        """Every datagram that arrives within ``seconds``."""
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            lines = self._receive(left)
            if lines is not None:
                got.append(lines)
        return got

    def wait_for(self, line: str, count: int = 1, timeout: float = 30.0, proc=None) -> list[list[str]]:
        """Read until ``count`` datagrams holding ``line`` arrived since this call; returns what was read."""
        got: list[list[str]] = []
        deadline = time.monotonic() + timeout
        while sum(line in d for d in got) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {count} x {line!r}; got {got}")
            if proc is not None and proc.poll() is not None:
                got += self.drain()
                if sum(line in d for d in got) >= count:
                    break
                raise AssertionError(f"monitor exited ({proc.returncode}) before {count} x {line!r}; got {got}")
            lines = self._receive(min(left, 0.5))
            if lines is not None:
                got.append(lines)
        return got


def pings(datagrams: list[list[str]]) -> int:
    return sum("WATCHDOG=1" in d for d in datagrams)


def notify_path(tmp_path: Path) -> str:
    """A socket path in tmp_path; sun_path holds at most 107 bytes, so a shorter folder if need be."""
    path = tmp_path / "notify.sock"
    if len(str(path).encode()) < 100:
        return str(path)
    return os.path.join(tempfile.mkdtemp(prefix="sd-"), "notify.sock")


@pytest.fixture
def notify_socket(tmp_path):
    sockets: list[NotifySocket] = []

    def make(address: str | None = None) -> NotifySocket:
        sock = NotifySocket(address or notify_path(tmp_path))
        sockets.append(sock)
        return sock

    yield make
    for sock in sockets:
        sock.close()


@pytest.fixture
def service(spawn):
    """Starts `monitor run` the way systemd starts it: $NOTIFY_SOCKET, maybe $WATCHDOG_USEC."""
    def start(config: Path, **env: str) -> Monitor:
        return spawn("run", "--config", config, env=monitor_env(**env))
    return start


def quiet_feed(site, interval: str = "1s") -> dict:
    """A feed of articles no rule matches: every poll is work, and nothing is alerted."""
    items = [item_for(ARTICLES[slug], site) for slug in ("en-football", "nl-weer")]
    url = site.put("/feed", rss("wire", items), "application/rss+xml")
    return {"name": "wire", "url": url, "interval": interval}


# -- the notify protocol --------------------------------------------------------------------------


def test_ready_status_watchdog_and_stopping_over_the_notify_socket(site, tmp_path, notify_socket, service):
    sock = notify_socket()
    config = write_config(tmp_path, [quiet_feed(site)])
    db = tmp_path / "monitor.db"
    svc = service(config, NOTIFY_SOCKET=sock.env_value, WATCHDOG_USEC="1000000")

    before_ready = sock.wait_for("READY=1", proc=svc.proc)
    # READY means the config loaded and the database is open and usable
    assert db.exists(), "READY=1 came before the database existed"
    assert ("deliveries",) in query(db, "SELECT name FROM sqlite_master WHERE type = 'table'")
    assert not any("WATCHDOG=1" in d for d in before_ready), f"a watchdog ping before READY: {before_ready}"
    ready = next(d for d in before_ready if "READY=1" in d)
    assert any(line.startswith("STATUS=") and len(line) > len("STATUS=") for line in ready), ready

    sock.wait_for("WATCHDOG=1", count=3, proc=svc.proc)   # repeatedly, not once

    assert svc.stop() == 0, svc.stderr
    sock.drain()
    assert any("STOPPING=1" in d for d in sock.datagrams), sock.datagrams
    assert sum("READY=1" in d for d in sock.datagrams) == 1, sock.datagrams
    assert "Traceback" not in svc.stderr


def test_abstract_notify_socket(site, tmp_path, notify_socket, service):
    sock = notify_socket(f"@monitor-test-{uuid.uuid4().hex}")
    config = write_config(tmp_path, [quiet_feed(site)])
    svc = service(config, NOTIFY_SOCKET=sock.env_value, WATCHDOG_USEC="1000000")
    sock.wait_for("READY=1", proc=svc.proc)
    assert (tmp_path / "monitor.db").exists()
    sock.wait_for("WATCHDOG=1", proc=svc.proc)
    assert svc.stop() == 0, svc.stderr
    sock.drain()
    assert any("STOPPING=1" in d for d in sock.datagrams), sock.datagrams


def test_watchdog_meant_for_another_process_is_not_pinged(site, tmp_path, notify_socket, service):
    """$WATCHDOG_PID names the process systemd watches; any other process must not ping for it."""
    sock = notify_socket()
    config = write_config(tmp_path, [quiet_feed(site)])
    svc = service(config, NOTIFY_SOCKET=sock.env_value, WATCHDOG_USEC="1000000", WATCHDOG_PID=str(os.getpid()))
    sock.wait_for("READY=1", proc=svc.proc)
    # let the main loop do real work several times over: three polls of the 1 s feed after READY
    polls = len(site.statuses("/feed"))
    deadline = time.monotonic() + 30
    while len(site.statuses("/feed")) < polls + 3:
        assert time.monotonic() < deadline, "the daemon stopped polling"
        assert svc.proc.poll() is None, svc.stderr
        time.sleep(0.1)
    assert svc.stop() == 0, svc.stderr
    sock.drain()
    assert pings(sock.datagrams) == 0, sock.datagrams
    assert any("STOPPING=1" in d for d in sock.datagrams), sock.datagrams


def test_no_watchdog_ping_while_the_database_cannot_be_written(site, tmp_path, notify_socket, service):
    sock = notify_socket()
    config = write_config(tmp_path, [quiet_feed(site, "1s")])   # the daemon writes every tick
    db = tmp_path / "monitor.db"
    svc = service(config, NOTIFY_SOCKET=sock.env_value, WATCHDOG_USEC="1000000")
    sock.wait_for("READY=1", proc=svc.proc)
    sock.wait_for("WATCHDOG=1", count=2, proc=svc.proc)

    hold = 3.0   # three ticks of the main loop, three watchdog intervals
    lock = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        lock.execute("BEGIN IMMEDIATE")
        during = sock.collect_for(hold)
        lock.execute("ROLLBACK")
    finally:
        lock.close()
    # Allowed: one ping for work done just before the lock. (BEGIN IMMEDIATE waits for the
    # daemon's own write to end, and the ping for that write follows at once; it may also be
    # a tick under way that had only reads to do.) A pinger that ignores progress, such as a
    # timer or a thread, sends several: one per watchdog interval / 2 or per tick.
    assert pings(during) <= 1, f"{pings(during)} watchdog pings while the database was locked: {during}"

    sock.wait_for("WATCHDOG=1", count=2, proc=svc.proc)   # progress again, pings again
    assert svc.stop() == 0, svc.stderr
    assert "Traceback" not in svc.stderr


@pytest.mark.skipif(not os.environ.get("MONITOR_TEST_SLOW"), reason="takes 45 s; set MONITOR_TEST_SLOW=1")
def test_no_watchdog_ping_while_the_database_stays_locked_past_the_busy_timeout(site, tmp_path, notify_socket,
                                                                              service):
    sock = notify_socket()
    config = write_config(tmp_path, [quiet_feed(site, "1h")])   # polled once, then nothing falls due
    db = tmp_path / "monitor.db"
    svc = service(config, NOTIFY_SOCKET=sock.env_value, WATCHDOG_USEC="1000000")
    sock.wait_for("READY=1", proc=svc.proc)
    sock.wait_for("WATCHDOG=1", count=2, proc=svc.proc)
    lock = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        lock.execute("BEGIN IMMEDIATE")
        during = sock.collect_for(40.0)   # longer than the daemon waits for a lock (30 s)
        lock.execute("ROLLBACK")
    finally:
        lock.close()
    assert svc.stop(timeout=40) == 0, svc.stderr
    assert "database is locked" in svc.stderr   # it tried to work, and could not
    assert pings(during) <= 1, f"{pings(during)} watchdog pings while the database was locked: {during}"


def test_config_error_sends_no_ready(site, tmp_path, notify_socket, service):
    sock = notify_socket()
    feed = quiet_feed(site)
    config = write_config(tmp_path, [{**feed, "interval": "5 minutes"}])
    svc = service(config, NOTIFY_SOCKET=sock.env_value, WATCHDOG_USEC="1000000")
    assert svc.wait() == 2, svc.stderr
    assert "interval" in svc.stderr
    assert sock.drain() == [], sock.datagrams


def test_unusable_database_sends_no_ready(site, tmp_path, notify_socket, service):
    sock = notify_socket()
    (tmp_path / "monitor.db").mkdir()                 # the database path is a folder
    config = write_config(tmp_path, [quiet_feed(site)])
    svc = service(config, NOTIFY_SOCKET=sock.env_value, WATCHDOG_USEC="1000000")
    assert svc.wait() == 2, svc.stderr
    assert "monitor.database" in svc.stderr
    assert not any("READY=1" in d for d in sock.drain()), sock.datagrams


# -- the unit files -------------------------------------------------------------------------------


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, empty_lines_in_values=False)
    parser.optionxform = str   # systemd keys are case-sensitive
    parser.read(UNITS / name, encoding="utf-8")
    return parser


def values(name: str, section: str, key: str) -> list[str]:
    """Every value of a key, repeated keys included (configparser with strict=False keeps the last)."""
    found, current = [], None
    for raw in (UNITS / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif current == section and "=" in line:
            k, v = line.split("=", 1)
            if k.strip() == key:
                found.append(v.strip())
    return found


def test_the_service_unit_is_notify_with_a_watchdog_and_hardened():
    service = unit("monitor.service")["Service"]
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] in ("main", "exec")   # only monitor itself may say READY
    assert re.fullmatch(r"\d+(min|s|m)?", service["WatchdogSec"]) and not service["WatchdogSec"].startswith("0")
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == EXECUTABLE and argv[1] == "run", argv
    assert service["DynamicUser"] == "yes"
    assert service["StateDirectory"] == "monitor"
    assert service["Environment"].split("=", 1) == ["MONITOR_DATABASE", "/var/lib/monitor/monitor.db"]
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    for key in ("ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables", "ProtectKernelModules",
                "ProtectControlGroups", "RestrictNamespaces", "RestrictSUIDSGID", "LockPersonality"):
        assert service[key] == "yes", key
    assert service["CapabilityBoundingSet"] == ""
    assert service["RestartPreventExitStatus"] == "2"   # a config error is not fixed by restarting
    assert set(service["RestrictAddressFamilies"].split()) <= {"AF_INET", "AF_INET6", "AF_UNIX"}
    filters = values("monitor.service", "Service", "SystemCallFilter")
    assert "@system-service" in filters and any(f.startswith("~") and "@privileged" in f for f in filters), filters


def test_the_timer_pair_runs_check():
    service = unit("monitor-check.service")["Service"]
    assert service["Type"] == "oneshot"
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == EXECUTABLE and argv[1] == "check", argv
    assert service["DynamicUser"] == "yes"
    assert service["StateDirectory"] == "monitor"
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    timer = unit("monitor-check.timer")
    assert "Timer" in timer and any(k.startswith("On") for k in timer["Timer"])
    # the timer starts the service of its own name
    assert timer["Timer"].get("Unit", "monitor-check.service") == "monitor-check.service"
    assert timer["Install"]["WantedBy"] == "timers.target"


def _analyze(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    return subprocess.run([tool, *args], check=False, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"})


@pytest.mark.parametrize("name", SERVICES)
def test_security_exposure_is_at_most_2(name):
    result = _analyze("security", "--offline=true", "--no-pager", str(UNITS / name))
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout + result.stderr)
    if found is None:
        if "offline" in (result.stdout + result.stderr).lower() or result.returncode != 0:
            pytest.skip(f"systemd-analyze security --offline is not supported here: {result.stderr.strip()}")
        raise AssertionError(result.stdout + result.stderr)
    assert float(found.group(1)) <= 2.0, result.stdout


def test_systemd_analyze_verify_finds_nothing_but_the_missing_executable():
    names = [str(UNITS / n) for n in (*SERVICES, "monitor-check.timer")]
    result = _analyze("verify", *names)
    output = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    if any("Failed to" in line and ("bus" in line or "manager" in line) for line in output):
        pytest.skip(f"systemd-analyze verify cannot run here: {output}")
    unexpected = [line for line in output if f"Command {EXECUTABLE} is not executable" not in line]
    assert unexpected == [], "\n".join(output)
