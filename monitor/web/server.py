"""The aiohttp application of the status page, on ``monitor run``'s own event loop.

Routes: ``/`` (the page, or the token form), ``/static/*`` (its files, from a
list made at start: no path from a request reaches the file system),
``/api/state`` (the page's JSON), ``/api/feedback`` and ``/api/retry`` (the
two writes), ``/metrics`` and ``/healthz``.

Security, in one middleware: a strict Content-Security-Policy (no inline
script or style, nothing from elsewhere) and its companions on every answer;
on a loopback address, a Host check so that another site's page cannot reach
it through DNS rebinding; with a token, every route but ``/healthz`` and the
token form needs it, as ``Authorization: Bearer`` or as the cookie the form
sets (an HMAC of the token, never the token itself); and every POST needs the
per-process CSRF token the page reads from ``/api/state``, and a same-origin
``Origin`` when the browser sends one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from monitor.errors import ConfigError, MonitorError
from monitor.events import Recent
from monitor.health import Health
from monitor.logs import kv
from monitor.metrics import CONTENT_TYPE, Metrics
from monitor.web import views
from monitor.web.settings import is_loopback

if TYPE_CHECKING:
    from monitor.config import Settings
    from monitor.runtime import Runtime

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = logging.getLogger("monitor.web")

STATIC = Path(__file__).parent / "static"
COOKIE = "monitor_session"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
OPEN = {"/healthz", "/login", "/static/app.css", "/static/login.js"}   # reachable without the token


class StatusApp:
    def __init__(self, settings: Settings, runtime: Runtime, clock: Callable[[], datetime]):
        self.settings = settings
        self.web = settings.web
        self.runtime = runtime
        self.store = runtime.pipeline.store
        self.clock = clock
        self.metrics = Metrics()
        self.recent = Recent(clock)
        self.health = Health(self.web.stale_after)
        for sink in (self.metrics, self.recent, self.health):
            runtime.events.add(sink)
        self.csrf = secrets.token_urlsafe(32)
        self.session = (hmac.new(self.web.token.encode(), b"monitor-session", hashlib.sha256).hexdigest()
                        if self.web.token else None)
        self.files = {p.name: p for p in STATIC.iterdir() if p.suffix in TYPES}

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        app.add_routes([
            web.get("/", self.index), web.get("/static/{name}", self.static), web.post("/login", self.login),
            web.get("/api/state", self.state), web.post("/api/feedback", self.feedback),
            web.post("/api/retry", self.retry), web.get("/metrics", self.prometheus), web.get("/healthz", self.healthz),
        ])
        return app

    # security ----------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await self._checked(request, handler)
        except web.HTTPException as exc:
            response = exc
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    async def _checked(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.web.loopback and not is_loopback(_hostname(request.host)):
            return _error(421, "this page answers on its loopback address only")
        if self.session and request.path not in OPEN and not self._authorized(request):
            if request.method == "GET" and request.path == "/":
                return self._file("login.html")
            return _error(401, "a token is needed: Authorization: Bearer TOKEN, or sign in on the page")
        if request.method == "POST" and request.path != "/login":
            origin = request.headers.get("Origin")
            if origin is not None and urlsplit(origin).netloc != request.host:
                return _error(403, "cross-origin request refused")
            if not hmac.compare_digest(request.headers.get("X-CSRF-Token", ""), self.csrf):
                return _error(403, "missing or wrong CSRF token: reload the page")
        return await handler(request)

    def _authorized(self, request: web.Request) -> bool:
        token, session = self.web.token or "", self.session or ""
        header = request.headers.get("Authorization", "")
        if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
            return True
        return bool(session) and hmac.compare_digest(request.cookies.get(COOKIE, ""), session)

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        given = str(form.get("token", ""))
        if not self.session or not hmac.compare_digest(given.encode(), (self.web.token or "").encode()):
            log.warning(kv("web_login_refused", peer=request.remote))
            raise web.HTTPSeeOther("/?refused=1")
        response = web.HTTPSeeOther("/")
        response.set_cookie(COOKIE, self.session, httponly=True, samesite="Strict", path="/")
        return response

    # the page ----------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        return self._file("index.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in self.files:
            return _error(404, "no such file")
        return self._file(name)

    def _file(self, name: str) -> web.Response:
        path = self.files[name]
        return web.Response(body=path.read_bytes(), headers={"Content-Type": TYPES[path.suffix]})

    async def state(self, request: web.Request) -> web.StreamResponse:
        now = self.clock()
        try:
            data = views.state(self.store, self.runtime.notifier.label, now,
                               activity=self.recent.items(), health=self.health.verdict(now), csrf=self.csrf)
        except MonitorError as exc:
            return _error(503, str(exc))
        return web.json_response(data)

    async def feedback(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        article, relevant = body.get("article"), body.get("relevant")
        if not isinstance(article, int) or isinstance(article, bool) or not isinstance(relevant, bool):
            return _error(400, 'send {"article": ID, "relevant": true|false}')
        from monitor.relevance.tools import RelevanceError, record_feedback

        try:
            found, replaced = record_feedback(self.store, str(article), relevant, self.clock())
        except RelevanceError as exc:
            return _error(404, str(exc))
        except MonitorError as exc:
            return _error(503, str(exc))
        log.info(kv("feedback_given", article=found.id, relevant=relevant, replaced=replaced))
        return web.json_response({"article": found.id, "relevant": relevant, "replaced": replaced})

    async def retry(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        delivery = body.get("delivery")
        if not isinstance(delivery, int) or isinstance(delivery, bool):
            return _error(400, 'send {"delivery": ID}')
        try:
            count = self.store.retry_dead(self.clock(), [delivery])
        except MonitorError as exc:
            return _error(503, str(exc))
        if not count:
            return _error(409, f"delivery {delivery} is not a dead letter")
        log.info(kv("delivery_requeued", delivery=delivery, by="web"))
        return web.json_response({"delivery": delivery, "status": "pending"})

    # metrics and health ------------------------------------------------------------------

    async def prometheus(self, request: web.Request) -> web.StreamResponse:
        now = self.clock()
        try:
            body = self.metrics.render(self.store.outbox_depth(), now)
        except MonitorError as exc:
            return _error(503, str(exc))
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def healthz(self, request: web.Request) -> web.StreamResponse:
        verdict = self.health.verdict(self.clock())
        return web.json_response(verdict.as_json(), status=200 if verdict.ok else 503)


def _hostname(host: str | None) -> str:
    if not host:
        return ""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise _bad_request("the body is not JSON") from None
    if not isinstance(body, dict):
        raise _bad_request("the body must be a JSON object")
    return body


def _bad_request(message: str) -> web.HTTPBadRequest:
    """_error's answer, as the exception a helper raises from inside a handler."""
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


@asynccontextmanager
async def serve(settings: Settings, runtime: Runtime, clock: Callable[[], datetime]) -> AsyncIterator[StatusApp | None]:
    """Serve the page while the block runs; nothing when ``[web] listen`` is not set. A port that cannot
    be had is a ConfigError naming ``web.listen``."""
    if not settings.web.enabled:
        yield None
        return
    status = StatusApp(settings, runtime, clock)
    runner = web.AppRunner(status.app(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.web.host, settings.web.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(str(settings.path), [
                f"web.listen: cannot listen on {settings.web.listen}: {exc.strerror or exc}"]) from None
        log.info(kv("web_listening", url=f"http://{settings.web.listen}/",
                    token="required" if status.session else None))
        yield status
    finally:
        await runner.cleanup()
