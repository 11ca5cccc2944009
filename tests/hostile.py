"""A hostile web server for the fault suite: bombs, drips, loops, lies about charsets, poisoned XML.

It speaks HTTP/1.1 over raw sockets so that it can misbehave in ways a
well-mannered server library would not allow. Each path is one behaviour.
"""

from __future__ import annotations

import socket
import threading
import time
import zlib

import brotli

BOMB_SIZE = 200 * 1024 * 1024   # what each compression bomb inflates to


def _compressed_zeros(kind: str, size: int = BOMB_SIZE) -> bytes:
    block = b"\0" * (1024 * 1024)
    if kind == "br":
        compressor = brotli.Compressor(quality=1)
        return b"".join(compressor.process(block) for _ in range(size // len(block))) + compressor.finish()
    wbits = 31 if kind == "gzip" else 15
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return b"".join(compressor.compress(block) for _ in range(size // len(block))) + compressor.flush()


def billion_laughs() -> bytes:
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE rss [", '<!ENTITY lol "lol">']
    for level in range(1, 10):
        lines.append(f'<!ENTITY lol{level} "' + f"&lol{level - 1 if level > 1 else ''};" * 10 + '">')
    lines.append("]>")
    lines.append('<rss version="2.0"><channel><title>laughs</title>'
                 "<item><title>&lol9;</title><guid>1</guid><description>&lol9;</description></item></channel></rss>")
    return "\n".join(lines).replace("&lol0;", "&lol;").encode()


def external_entity(path: str) -> bytes:
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{path}">]>\n'
            '<rss version="2.0"><channel><title>xxe</title><item><title>Entity List &xxe;</title>'
            "<guid>x1</guid><description>&xxe;</description></item></channel></rss>").encode()


def quadratic_blowup(entity_size: int = 100_000, uses: int = 5_000) -> bytes:
    """One big entity used thousands of times: about 120 KB on the wire."""
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "{"A" * entity_size}">\n]>\n'
            '<rss version="2.0"><channel><title>quadratic</title><item><title>x</title><guid>q1</guid>'
            f"<description>{'&a;' * uses}</description></item></channel></rss>").encode()


class HostileServer:
    """Routes: path -> callable(sock) that writes whatever it likes, or bytes for a plain 200."""

    def __init__(self):
        self.routes: dict[str, object] = {}
        self.hits: list[str] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._bombs: dict[str, bytes] = {}

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "HostileServer":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(30)
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                path = request.split(b" ", 2)[1].decode()
                self.hits.append(path)
                route = self.routes.get(path)
                if route is None:
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                elif callable(route):
                    route(conn)
                else:
                    respond(conn, route)
            except OSError:
                pass   # the client hung up on us: that is often the point

    # behaviours ------------------------------------------------------------

    def bomb(self, kind: str):
        if kind not in self._bombs:
            self._bombs[kind] = _compressed_zeros(kind)
        body = self._bombs[kind]
        return lambda conn: respond(conn, body, headers={"Content-Encoding": kind})

    def redirect_with_bomb(self, location: str):
        body = self._bombs.get("gzip") or self._bombs.setdefault("gzip", _compressed_zeros("gzip"))
        return lambda conn: respond(conn, body, status="302 Found",
                                    headers={"Location": location, "Content-Encoding": "gzip"})


def respond(conn: socket.socket, body: bytes, *, status: str = "200 OK", content_type: str = "text/html",
            headers: dict[str, str] | None = None) -> None:
    head = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
            "Connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def drip(conn: socket.socket) -> None:
    """Headers, then one byte a second, forever (until the client gives up)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(600):
        conn.sendall(b"<")
        time.sleep(1)


def endless_redirect(conn: socket.socket) -> None:
    respond(conn, b"", status="302 Found", headers={"Location": "/loop"})


def unterminated_chunks(conn: socket.socket) -> None:
    """A chunked body that never ends: 11 MB of chunks without a size."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"<p>" + b"x" * 65530 + b"</p>"
    for _ in range(180):
        conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
