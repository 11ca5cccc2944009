"""Real local servers for the tests: a news site, a webhook receiver, an SMTP server.

All listen on 127.0.0.1 on a free port and run in threads of the test process.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = True       # send ETag and Last-Modified, answer 304 when they match
    delay: float = 0.0             # seconds to wait before answering


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    status: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-answer (monitor stops reading a page past its cap) is no error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Site:
    """A news site: feeds and article pages, with conditional GET like a real one."""

    LAST_MODIFIED = "Tue, 10 Nov 2026 08:00:00 GMT"

    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                site._answer(self)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "Site":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def put(self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8", **kw) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            self.routes[path] = Route(data, content_type, **kw)
        return self.url(path)

    def statuses(self, path: str) -> list[int]:
        with self._lock:
            return [r.status for r in self.requests if r.path == path]

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            route = self.routes.get(handler.path)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        if route is None:
            status, body, extra = 404, b"<html><body><h1>Not found</h1></body></html>", {"Content-Type": "text/html"}
        else:
            status, body, extra = route.status, route.body, {"Content-Type": route.content_type, **route.headers}
            if route.conditional and status == 200:
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                extra.update({"ETag": etag, "Last-Modified": self.LAST_MODIFIED})
                if headers.get("if-none-match") == etag:
                    status, body = 304, b""
        with self._lock:
            self.requests.append(Request("GET", handler.path, headers, status))
        if route is not None and route.delay:
            time.sleep(route.delay)
        handler.send_response(status)
        for name, value in extra.items():
            handler.send_header(name, value)
        if status != 304:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if status != 304:
            handler.wfile.write(body)


class Webhook:
    """Receives what apprise posts to json://127.0.0.1:PORT/...

    It can be told to fail (``fail_with``), to hold requests until released
    (``hold``; ``holding`` is set while one waits), and to go down and come
    back on the same port (``down()``, ``up()``).
    """

    def __init__(self):
        self.received: list[dict] = []
        self.fail_with: int | None = None     # answer this status instead of 200
        self.attempts = 0
        self.hold = threading.Event()          # set: requests wait until release() ...
        self.holding = threading.Event()       # ... and this is set while one waits
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._server = self._bind(0)
        self.port = self._server.server_address[1]

    def _bind(self, port: int) -> _Server:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                if hook.hold.is_set():
                    hook.holding.set()
                    hook._released.wait(60)
                with hook._lock:
                    hook.attempts += 1
                    status = hook.fail_with or 200
                    if status == 200:
                        hook.received.append({"path": self.path, **json.loads(data)})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def release(self) -> None:
        self.hold.clear()
        self._released.set()

    def down(self) -> None:
        """Stop listening: senders get 'connection refused'."""
        self._server.shutdown()
        self._server.server_close()

    def up(self) -> None:
        self._server = self._bind(self.port)

    def __enter__(self) -> "Webhook":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str = "/alerts") -> str:
        return f"json://127.0.0.1:{self.port}{path}"


class Mailbox:
    """A real SMTP server (aiosmtpd) that keeps every message it is given, and the envelope's
    recipients beside it: a header injection that adds a recipient (Bcc) shows there even when
    the header itself is not in the message."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []     # the envelope's RCPT TO of each message
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                box.messages.append(message_from_bytes(envelope.content))
                box.recipients.append(list(envelope.rcpt_tos))
                return "250 OK"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "Mailbox":
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()

    def url(self, to: str = "analyst@example.org") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=monitor@example.org&to={to}"


def free_port() -> int:
    """A local port nothing listens on (until someone binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
