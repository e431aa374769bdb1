"""``glassnet serve``: a small local HTTP server for the draw-a-digit page (standard library only).

Routes: ``GET /`` and ``GET /static/<file>`` (package files only), ``POST
/api/predict``, ``GET /api/sample``, and for a server that follows a run (``live``)
``GET /api/live/state``, ``GET /api/live/record?offset=N`` and ``POST /api/live/control``.
The API answers only requests addressed to this machine by name (the Host header: no
DNS rebinding), and control requests only from the page itself (Origin) with the run's token.
Bodies above ``MAX_BODY`` bytes get 413
(read and dropped up to ``DRAIN_LIMIT``, never parsed; larger ones are not read at all),
malformed requests 400 with a JSON error, unknown paths 404, other methods
405. Each request is handled in its own thread; a failure in one never stops
the server. A request must arrive whole within ``REQUEST_SECONDS``, and open
connections are bounded by the open-file limit: when they run out, the one that
has waited longest for its request is closed, so slow senders cannot crowd out
real users. Binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import errno
import json
import mimetypes
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, cast
from urllib.parse import parse_qs

import numpy as np
from numpy.typing import NDArray

from glassnet.nn.model import Sequential
from glassnet.web.api import BadRequest, describe, finite_json, parse_digit, sample
from glassnet.web.live import LiveRun

MAX_BODY = 7 * 1024 * 1024      # a 512×512 drawing as JSON stays under this, whatever the values' precision
REQUEST_SECONDS = 15.0          # from a connection's first byte of a request to its whole body
DRAIN_LIMIT = 16 * 1024 * 1024   # an oversized body up to this is read and dropped, so the client sees the 413
STATIC_FILES = ("index.html", "app.js", "live.js", "style.css")
API_ROUTES = {"/api/predict": "POST", "/api/sample": "GET", "/api/live/state": "GET", "/api/live/record": "GET",
              "/api/live/control": "POST"}


class DigitApp:
    """What the handlers share: the model, the test digits and the generator that picks samples.

    Predictions go through the model's pure inference path, which writes no
    state, so any number of request threads use the model at once.
    """

    def __init__(self, model: Sequential | None, test_images: NDArray[np.uint8] | None = None,
                 test_labels: NDArray[np.uint8] | None = None, seed: int = 0, live: LiveRun | None = None) -> None:
        if model is None and live is None:
            raise ValueError("DigitApp needs a model, or a live run whose checkpoints give one")
        self.model, self.live = model, live
        self.test_images, self.test_labels = test_images, test_labels
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()      # a Generator is not safe to draw from in two threads
        self.static = {name: resources.files("glassnet.web").joinpath("static", name).read_bytes()
                       for name in STATIC_FILES}

    def predict(self, body: bytes) -> dict[str, Any] | None:
        """The page's answer for a drawing; None while a live run has no checkpoint yet."""
        image = parse_digit(body)
        model = self.live.model() if self.live is not None else self.model
        return None if model is None else describe(model, image)

    def sample(self) -> dict[str, Any] | None:
        if self.test_images is None or self.test_labels is None:
            return None
        with self._rng_lock:
            return sample(self.test_images, self.test_labels, self._rng)


def make_handler(app: DigitApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "glassnet"
        protocol_version = "HTTP/1.1"
        timeout = 15                                  # seconds a slow client may hold a connection idle
        disable_nagle_algorithm = True                # headers and body leave at once (no 40 ms delayed-ACK stall)

        def log_message(self, format: str, *args: Any) -> None:   # quiet: the CLI prints what matters
            pass

        def handle_one_request(self) -> None:
            cast(DigitServer, self.server).awaiting_request(self.connection)
            super().handle_one_request()

        def _send(self, status: HTTPStatus, body: bytes, content_type: str,
                  extra: dict[str, str] | None = None) -> None:
            cast(DigitServer, self.server).answering(self.connection)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Cache-Control", "no-store")
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: HTTPStatus, payload: dict[str, Any], extra: dict[str, str] | None = None) -> None:
            self._send(status, finite_json(payload), "application/json", extra)

        def _error(self, status: HTTPStatus, message: str, extra: dict[str, str] | None = None) -> None:
            self._json(status, {"error": message, "status": int(status)}, extra)

        def _route(self, method: str) -> None:
            path, _, query = self.path.partition("?")
            try:
                reads_body = path == "/api/predict" or (path == "/api/live/control" and app.live is not None)
                if not (reads_body and method == "POST" and self._addressed_to_us()):
                    self._drain()              # a body this route ignores would be read as the next request
                if path in API_ROUTES:
                    if not self._addressed_to_us():
                        self._error(HTTPStatus.FORBIDDEN, "this API answers only requests addressed to "
                                    "127.0.0.1, localhost or the address it was started on")
                    elif method != API_ROUTES[path]:
                        self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes {API_ROUTES[path]}",
                                    {"Allow": API_ROUTES[path]})
                    elif path == "/api/predict":
                        self._predict()
                    elif path == "/api/sample":
                        self._sample()
                    else:
                        self._live(path, query)
                elif path == "/" or path.startswith("/static/"):
                    name = "index.html" if path == "/" else path.removeprefix("/static/")
                    if method not in ("GET", "HEAD"):
                        self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes GET", {"Allow": "GET, HEAD"})
                    elif name not in app.static:               # only the package's own files, by name
                        self._error(HTTPStatus.NOT_FOUND, f"no such file: {path}")
                    else:
                        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
                        self._send(HTTPStatus.OK, app.static[name], f"{kind}; charset=utf-8")
                else:
                    self._error(HTTPStatus.NOT_FOUND, f"no such path: {path}")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            except TimeoutError:                              # the client stopped sending mid-request
                self.close_connection = True
                try:
                    self._error(HTTPStatus.REQUEST_TIMEOUT, "the request stopped arriving; send it whole")
                except OSError:
                    pass
            except Exception as e:                            # keep serving whatever one request did
                self.close_connection = True
                try:
                    self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(e).__name__}")
                except OSError:
                    pass

        def _addressed_to_us(self) -> bool:
            host = self.headers.get("Host", "")
            bound, port = cast(tuple[str, int], self.server.server_address)[:2]
            names = {"127.0.0.1", "localhost", "[::1]", bound if ":" not in bound else f"[{bound}]"}
            return host in {f"{name}:{port}" for name in names} | ({*names} if port == 80 else set())

        def _live(self, path: str, query: str) -> None:
            if app.live is None:
                self._error(HTTPStatus.NOT_FOUND, "this server follows no training run; "
                            "start it with 'glassnet serve RUN --live' or 'glassnet train --watch'")
            elif path == "/api/live/state":
                self._json(HTTPStatus.OK, app.live.state())
            elif path == "/api/live/record":
                offset = parse_qs(query).get("offset", ["0"])[0]
                if not offset.isdigit() or len(offset) > 15:
                    self._error(HTTPStatus.BAD_REQUEST, "offset must be a byte offset: a whole number ≥ 0")
                else:
                    self._json(HTTPStatus.OK, app.live.records(int(offset)))
            else:
                self._control()

        def _control(self) -> None:
            length = self._body_length()
            body = None if length is None else self._read_body(length)
            if body is None or app.live is None:
                return
            origin, host = self.headers.get("Origin"), self.headers.get("Host", "")
            if origin != f"http://{host}":
                self._error(HTTPStatus.FORBIDDEN, "controls are accepted only from the live view's own page")
                return
            try:
                action = json.loads(body.decode("utf-8")).get("action", "")
                state = app.live.control(str(action), self.headers.get("X-Glassnet-Token", ""))
            except PermissionError as e:
                self._error(HTTPStatus.FORBIDDEN, str(e))
            except (ValueError, AttributeError, UnicodeDecodeError) as e:
                self._error(HTTPStatus.BAD_REQUEST, f'send {{"action": "pause" | "resume" | "stop"}} ({e})')
            else:
                self._json(HTTPStatus.OK, state)

        def _body_length(self) -> int | None:
            raw = self.headers.get("Content-Length")
            if raw is None or not _is_length(raw) or "Transfer-Encoding" in self.headers:
                self.close_connection = True
                self._error(HTTPStatus.LENGTH_REQUIRED if raw is None else HTTPStatus.BAD_REQUEST,
                            "send the JSON body with a valid Content-Length header")
                return None
            length = int(raw)
            if length > MAX_BODY:
                self.close_connection = True
                if length <= DRAIN_LIMIT:      # closing with unread bytes would reset the connection
                    self._discard(length)      # before the client reads the answer
                self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                            f"request body of {length} bytes is over the limit of {MAX_BODY}; "
                            "send a smaller drawing")
                return None
            return length

        def _read_body(self, length: int) -> bytes | None:
            body = self.rfile.read(length)
            if len(body) < length:
                self.close_connection = True
                self._error(HTTPStatus.BAD_REQUEST, f"the body ended after {len(body)} of the {length} bytes "
                            "its Content-Length announced; send the whole body")
                return None
            return body

        def _discard(self, n_bytes: int) -> None:
            while n_bytes > 0 and (chunk := self.rfile.read(min(n_bytes, 1 << 16))):
                n_bytes -= len(chunk)

        def _drain(self) -> None:
            """Read (and drop) a small body so the connection stays usable; close on a large or chunked one."""
            raw = self.headers.get("Content-Length", "0")
            if _is_length(raw) and int(raw) <= MAX_BODY and "Transfer-Encoding" not in self.headers:
                self.rfile.read(int(raw))
            else:
                self.close_connection = True

        def _predict(self) -> None:
            length = self._body_length()
            body = None if length is None else self._read_body(length)
            if body is None:
                return
            try:
                answer = app.predict(body)
            except BadRequest as e:
                self._error(HTTPStatus.BAD_REQUEST, str(e))
                return
            if answer is None:
                self._error(HTTPStatus.SERVICE_UNAVAILABLE,
                            "no checkpoint yet: the draw pad answers once the first epoch has finished")
            else:
                self._json(HTTPStatus.OK, answer)

        def _sample(self) -> None:
            payload = app.sample()
            if payload is None:
                self._error(HTTPStatus.SERVICE_UNAVAILABLE, "no test digits loaded; start the server with "
                            "MNIST available (--data-dir or GLASSNET_DATA)")
            else:
                self._json(HTTPStatus.OK, payload)

        def do_GET(self) -> None:
            self._route("GET")

        def do_HEAD(self) -> None:
            self._route("HEAD")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

        def do_DELETE(self) -> None:
            self._route("DELETE")

        def do_PATCH(self) -> None:
            self._route("PATCH")

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """The standard library's own errors (unknown methods, bad request lines) as JSON, like ours."""
            status = HTTPStatus(code)
            if status == HTTPStatus.NOT_IMPLEMENTED:           # OPTIONS, TRACE, anything unknown
                status, message = HTTPStatus.METHOD_NOT_ALLOWED, f"method {self.command} is not allowed here"
            self.close_connection = True
            try:
                self._error(status, message or status.phrase, {"Allow": "GET, HEAD, POST"})
            except OSError:
                pass

    return Handler


def _is_length(raw: str) -> bool:
    """A Content-Length we read: ASCII digits only (int() also takes other scripts' digits), not absurdly long."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 18


class DigitServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.request_seconds = REQUEST_SECONDS
        self.max_connections = _connection_limit()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._waiting: dict[socket.socket, float] = {}    # connection → when it began to wait for a request

    def awaiting_request(self, connection: socket.socket) -> None:
        with self._lock:
            if connection in self._open:
                self._waiting[connection] = time.monotonic()

    def answering(self, connection: socket.socket) -> None:
        with self._lock:
            self._waiting.pop(connection, None)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._open.add(request)
            self._waiting[request] = time.monotonic()
            if len(self._open) > self.max_connections:
                self._hang_up(min(self._waiting, key=self._waiting.__getitem__))
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.discard(request)
            self._waiting.pop(request, None)
        super().shutdown_request(request)

    def service_actions(self) -> None:
        """Between accepts (every half second at most): close connections whose request is overdue."""
        deadline = time.monotonic() - self.request_seconds
        with self._lock:
            for connection in [c for c, since in self._waiting.items() if since < deadline]:
                self._hang_up(connection)

    def _hang_up(self, connection: socket.socket) -> None:
        """End a connection from outside its thread: its blocked read returns, and its thread closes it."""
        del self._waiting[connection]
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as e:            # out of file descriptors: wait for one to close instead of spinning
            if e.errno in (errno.EMFILE, errno.ENFILE):
                time.sleep(0.1)
            raise


def _connection_limit() -> int:
    """Connections to keep open at once: half the open-file limit, leaving the rest for model and data files."""
    try:
        import resource
    except ImportError:                 # Windows: no such limit to respect
        return 256
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return 256 if soft == resource.RLIM_INFINITY else max(4, min(256, soft // 2 - 8))


def make_server(app: DigitApp, host: str = "127.0.0.1", port: int = 8000) -> DigitServer:
    """A server bound to host:port (port 0: any free port; read it from ``server.server_address``)."""
    return DigitServer((host, port), make_handler(app))
