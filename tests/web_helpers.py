"""For the tests of the status page: `monitor run` with [web] on a free port, and plain HTTP to it."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from conftest import Monitor, wait_for, write_config
from content import ARTICLES, item_for, rss
from servers import free_port

RELEVANT = ["en-chips", "de-exportkontrollen", "nl-exportcontroles", "fr-huawei"]
IRRELEVANT = ["en-football", "nl-weer"]


def feed_with(site, slugs, path="/feed", extra=()) -> str:
    return site.put(path, rss("wire", [item_for(ARTICLES[s], site) for s in slugs] + list(extra)),
                    "application/rss+xml")


def web_config(folder: Path, feeds: list[dict], *, web: str = "", channels: dict | None = None,
               monitor: str = "") -> tuple[Path, int]:
    """A config for the test site with ``[web]`` on a free loopback port; ``web``: more keys of the section,
    ``monitor``: more keys of ``[monitor]``."""
    port = free_port()
    path = write_config(folder, feeds, channels=channels, monitor="private_networks = true\n" + monitor)
    with path.open("a", encoding="utf-8") as out:
        out.write(f'\n[web]\nlisten = "127.0.0.1:{port}"\n{web}\n')
    return path, port


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def request(url: str, *, method: str = "GET", headers: dict | None = None, data: dict | None = None,
            timeout: float = 10) -> Answer:
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method, headers={
        **({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, dict(exc.headers), exc.read())


class WebDaemon:
    """`monitor run` in a subprocess (the shared Monitor: its output drained as it comes), its page at ``url``."""

    def __init__(self, config: Path, port: int):
        self.config, self.port = config, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = Monitor("run", "--config", str(config))

    def get(self, path: str, **kw) -> Answer:
        return request(self.url + path, **kw)

    def wait_until_serving(self) -> None:
        def serving() -> bool:
            try:
                return self.get("/healthz", timeout=2).status == 200
            except OSError:
                return False
        wait_for(serving, what="the status page to serve a healthy daemon", alive=self.proc)

    def stop(self) -> str:
        """SIGTERM (after SIGCONT, should the test have stopped it); the log it wrote."""
        if self.proc.running:
            self.proc.send_signal(signal.SIGCONT)
        self.proc.stop()
        return self.proc.stderr
