"""HTTP layer: routing, auth, rate limiting, faults and the ``/__sandbox__/`` control API."""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import incident_routes
from .incident_routes import ApiCall
from .readings import without_zones
from .responses import NOT_FOUND, Response, found, message, paginated, parse_json, read_object
from .state import Fault, SandboxState, TokenInfo
from .validation import ValidationError, validate_list_query

MAX_BODY_BYTES = 1_000_000
ORG_HEADER_MESSAGE = (
    "A project header (X-Phare-Project-Id or X-Phare-Project-Slug) is required "
    "when using an organization-scoped API key."
)

# Path pattern -> {method: route name}. Route names are also the fault targets.
API_ROUTES: tuple[tuple[re.Pattern[str], dict[str, str]], ...] = (
    (re.compile(r"/"), {"GET": "root"}),
    (re.compile(r"/uptime/monitors"), {"GET": "list_monitors"}),
    (re.compile(r"/uptime/monitors/(\d+)"), {"GET": "get_monitor"}),
    (re.compile(r"/uptime/incidents"), {"GET": "list_incidents", "POST": "create_incident"}),
    (
        re.compile(r"/uptime/incidents/(\d+)"),
        {"GET": "get_incident", "POST": "edit_incident", "DELETE": "delete_incident"},
    ),
    (re.compile(r"/uptime/incidents/(\d+)/recover"), {"POST": "recover_incident"}),
    (
        re.compile(r"/uptime/incidents/(\d+)/updates"),
        {"GET": "list_incident_updates", "POST": "create_incident_update"},
    ),
)
CONTROL_ROUTES: tuple[tuple[re.Pattern[str], dict[str, str]], ...] = (
    (re.compile(r"/__sandbox__/reset"), {"POST": "reset"}),
    (re.compile(r"/__sandbox__/state"), {"GET": "state"}),
    (re.compile(r"/__sandbox__/faults"), {"POST": "faults"}),
    (re.compile(r"/__sandbox__/settings"), {"GET": "settings", "POST": "configure"}),
    (re.compile(r"/__sandbox__/monitors/(\d+)"), {"DELETE": "delete_monitor"}),
    (re.compile(r"/__sandbox__/incidents/(\d+)"), {"POST": "edit_incident"}),
    (re.compile(r"/__sandbox__/incidents/(\d+)/updates"), {"POST": "add_incident_update"}),
    (re.compile(r"/__sandbox__/monitor-incidents"), {"POST": "open_monitor_incident"}),
)


class BadRequestBody(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _resolve(
    routes: tuple[tuple[re.Pattern[str], dict[str, str]], ...], path: str
) -> tuple[dict[str, str], int] | None:
    """The route's ``{method: name}`` and its numeric id (0 when it has none)."""
    for pattern, methods in routes:
        match = pattern.fullmatch(path)
        if match:
            return methods, int(match.group(1)) if match.groups() else 0
    return None


def _recorded_body(raw: bytes) -> Any:
    """What a write sent, for tests: its JSON, its text when not JSON, ``None`` when empty."""
    if not raw.strip():
        return None
    try:
        return parse_json(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], state: SandboxState, *, log_requests: bool = False
    ) -> None:
        self.state = state
        self.log_requests = log_requests
        super().__init__(address, SandboxHandler)


class SandboxHandler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"
    timeout = 60  # drop idle keep-alive connections eventually

    # -- plumbing ------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes; without this, Nagle's algorithm and delayed
        # ACKs stall every keep-alive response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return "phare-sandbox/1.0"

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.log_requests:
            sys.stderr.write(f"{self.command} {self.path} {code}\n")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            sys.stderr.write(f"{format % args}\n")

    def _dispatch(self) -> None:
        try:
            raw = self._read_body()
        except BadRequestBody as error:
            self.close_connection = True
            self._send(message(error.status, str(error)))
            return
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = parse_qs(url.query, keep_blank_values=True)
        if path.startswith("/__sandbox__/"):
            response = self._control(path, raw)
        else:
            response = self._api(path, query, raw)
        self._send(response)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadRequestBody(400, "Invalid Content-Length.") from None
        if length < 0:
            raise BadRequestBody(400, "Invalid Content-Length.")
        if length > MAX_BODY_BYTES:
            raise BadRequestBody(413, "Payload Too Large.")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                size = int(self.rfile.readline().split(b";")[0], 16)
            except ValueError:
                raise BadRequestBody(400, "Invalid chunked body.") from None
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # skip trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise BadRequestBody(413, "Payload Too Large.")
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, response: Response) -> None:
        if response.delivery == "dropped":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if response.raw is not None:
            payload = response.raw
            content_type = "application/json" if _is_json(payload) else "text/plain; charset=utf-8"
        elif response.body is not None:
            payload = json.dumps(response.body).encode()
            content_type = "application/json"
        else:
            payload, content_type = b"", ""
        try:
            self.send_response(response.status)
            if payload:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if response.delivery == "truncated":
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up waiting (the console's timeout tests do this on purpose).
            self.close_connection = True

    def _route(self, routes, path: str) -> tuple[str, int] | Response:
        """The route's name and numeric id for this method, or the 404/405 to answer."""
        resolved = _resolve(routes, path)
        if resolved is None:
            return Response(404, NOT_FOUND)
        methods, resource_id = resolved
        name = methods.get(self.command)
        if name is None:
            return Response(405, {"message": "Method not allowed."}, {"Allow": ", ".join(methods)})
        return name, resource_id

    # -- Phare API -----------------------------------------------------------------------

    def _api(self, path: str, query: dict[str, list[str]], raw: bytes) -> Response:
        state = self.server.state
        with state.lock:
            state.request_log.append(f"{self.command} {self.path}")
        is_uptime = path.startswith("/uptime/")
        if is_uptime and state.latency_ms > 0:
            time.sleep(state.latency_ms / 1000)

        resolved = self._route(API_ROUTES, path)
        if isinstance(resolved, Response):
            return resolved
        route, resource_id = resolved

        token = self._bearer_token()
        info = state.tokens.get(token) if token else None
        if info is None:
            return message(401, "Unauthorized")
        with state.lock:
            state.tokens_seen.add(token)

        rate_headers: dict[str, str] = {}
        if is_uptime:
            refused = self._check_project(info)
            if refused:
                return refused
            limit = state.hit_rate_limit()
            if limit is not None:
                rate_headers = {
                    "X-RateLimit-Limit": str(limit.limit),
                    "X-RateLimit-Remaining": str(limit.remaining),
                }
                if not limit.allowed:
                    rate_headers["Retry-After"] = str(limit.retry_after)
                    return Response(429, {"message": "Too Many Attempts."}, rate_headers)

        response = self._authorized(route, resource_id, info, query, raw)
        response.headers.update(rate_headers)
        if state.readings.naive_timestamps and response.body is not None:
            response.body = without_zones(response.body)
        return response

    def _bearer_token(self) -> str | None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _check_project(self, info: TokenInfo) -> Response | None:
        if not info.organization:
            return None
        project_id = self.headers.get("X-Phare-Project-Id")
        project_slug = self.headers.get("X-Phare-Project-Slug")
        if project_id is None and project_slug is None:
            return Response(422, {"message": ORG_HEADER_MESSAGE, "errors": {}})
        if not self.server.state.matches_project(project_id, project_slug):
            return Response(404, NOT_FOUND)
        return None

    def _authorized(
        self,
        route: str,
        resource_id: int,
        info: TokenInfo,
        query: dict[str, list[str]],
        raw: bytes,
    ) -> Response:
        state = self.server.state
        if self.command != "GET" and info.read_only:
            return message(403, "The uptime:write permission is required to perform this action.")
        # Recorded before any fault, so tests still see what the console sent.
        if self.command != "GET":
            state.record_write(route, resource_id or None, _recorded_body(raw))
        if route == "create_incident":
            with suppress(ValueError):
                state.record_create_request(parse_json(raw))
        fault = state.take_fault(route)
        if fault is None:
            return self._process(route, resource_id, query, raw)
        return _apply_fault(fault, lambda: self._process(route, resource_id, query, raw))

    def _process(
        self, route: str, resource_id: int, query: dict[str, list[str]], raw: bytes
    ) -> Response:
        state = self.server.state
        handler = incident_routes.API_HANDLERS.get(route)
        try:
            if handler is not None:
                return handler(ApiCall(state, resource_id, query, raw, self._base_url()))
            if route == "list_monitors":
                return self._list_monitors(query)
        except ValidationError as error:
            return Response(422, error.payload())
        if route == "get_monitor":
            return found(state.get_monitor(resource_id))
        return Response(200, _api_info())

    def _list_monitors(self, query: dict[str, list[str]]) -> Response:
        page_query = {k: v for k, v in query.items() if k in ("page", "per_page")}
        params = validate_list_query(page_query)
        items, has_more = self.server.state.monitor_page(params.page, params.per_page)
        return Response(
            200,
            paginated(
                items,
                has_more,
                params.page,
                params.per_page,
                query,
                self._base_url(),
                self.server.state.readings,
            ),
        )

    def _base_url(self) -> str:
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}{urlsplit(self.path).path}"

    # -- control API (no auth, no rate limit, no latency) -------------------------------

    def _control(self, path: str, raw: bytes) -> Response:
        state = self.server.state
        resolved = self._route(CONTROL_ROUTES, path)
        if isinstance(resolved, Response):
            return resolved
        action, resource_id = resolved
        if action == "reset":
            state.reset()
            return Response(200, state.summary())
        if action == "state":
            return Response(200, state.summary())
        if action == "settings":
            return Response(200, asdict(state.readings))
        if action == "configure":
            return self._configure(raw)
        if action == "delete_monitor":
            return Response(204) if state.delete_monitor(resource_id) else Response(404, NOT_FOUND)
        try:
            if action == "edit_incident":
                return incident_routes.control_edit_incident(state, resource_id, raw)
            if action == "add_incident_update":
                return incident_routes.control_add_update(state, resource_id, raw)
            if action == "open_monitor_incident":
                return incident_routes.control_open_monitor_incident(state, raw)
        except ValidationError as error:
            return Response(422, error.payload())
        return self._add_fault(raw)

    def _configure(self, raw: bytes) -> Response:
        """Change some readings (``readings.Readings``); answers all of them."""
        changes = read_object(raw)
        if isinstance(changes, Response):
            return changes
        try:
            readings = self.server.state.configure(**changes)
        except (TypeError, ValueError) as error:
            return Response(422, {"message": str(error)})
        return Response(200, asdict(readings))

    def _add_fault(self, raw: bytes) -> Response:
        spec = read_object(raw)
        if isinstance(spec, Response):
            return spec
        unknown = sorted(set(spec) - set(Fault.__dataclass_fields__))
        if unknown:
            return Response(422, {"message": f"Unknown fault fields: {', '.join(unknown)}."})
        try:
            fault = self.server.state.add_fault(**spec)
        except ValueError as error:
            return Response(422, {"message": str(error)})
        return Response(201, asdict(fault))


def _is_json(payload: bytes) -> bool:
    try:
        json.loads(payload)
    except ValueError:
        return False
    return True


def _apply_fault(fault: Fault, process: Callable[[], Response]) -> Response:
    if fault.action == "respond":
        return _fault_response(fault)
    if fault.action == "drop":
        return Response(0, delivery="dropped")
    response = process()
    if fault.delay_ms:
        time.sleep(fault.delay_ms / 1000)
    if fault.action == "process_then_drop":
        response.delivery = "dropped"
    elif fault.action == "process_then_truncate":
        response.delivery = "truncated"
    return response


def _fault_response(fault: Fault) -> Response:
    if fault.delay_ms:
        time.sleep(fault.delay_ms / 1000)
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.body is not None:
        return Response(fault.status, headers=headers, raw=fault.body.encode())
    try:
        phrase = HTTPStatus(fault.status).phrase
    except ValueError:
        phrase = "Service Unavailable"
    return Response(fault.status, {"message": phrase}, headers)


def _api_info() -> dict[str, str]:
    return {
        "title": "Phare sandbox",
        "version": "1.0",
        "support": "support@phare.io",
        "website": "https://phare.io",
        "documentation": "https://docs.phare.io/api-reference/introduction",
    }


class RunningSandbox:
    """A sandbox served from a background thread; ``stop()`` or use as a context manager."""

    def __init__(self, server: SandboxServer, thread: threading.Thread, url: str) -> None:
        self.server = server
        self.thread = thread
        self.url = url
        self.state = server.state
        self._stopped = False

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_in_thread(
    state: SandboxState,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_requests: bool = False,
) -> RunningSandbox:
    """Serve ``state`` on ``host:port`` (0 picks a free port) from a daemon thread."""
    server = SandboxServer((host, port), state, log_requests=log_requests)
    bound_host, bound_port = server.server_address[:2]
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},  # so stop() returns quickly
        name="phare-sandbox",
        daemon=True,
    )
    thread.start()
    return RunningSandbox(server, thread, f"http://{bound_host}:{bound_port}")
