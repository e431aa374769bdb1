"""``glassnet serve``: a small local HTTP server for the draw-a-digit page (standard library only).

Routes: ``GET /`` and ``GET /static/<file>`` (package files only), ``POST
/api/predict``, ``GET /api/sample``, and for a server that follows a run (``live``)
``GET /api/live/state``, ``GET /api/live/record?offset=N`` and ``POST /api/live/control``.

It answers only its owner (``auth``): every request, page and static files included, must come
addressed to this machine by name (the Host header: no DNS rebinding) and carry the owner's token,
by cookie or ``Authorization`` header; the first visit brings it in the URL printed to the
owner's terminal. Controls sent with the cookie must also come from the page itself (Origin).
Every answer forbids inline script and framing (``handler.SECURITY_HEADERS``).

Bodies are read within ``handler.MAX_BODY``; malformed requests get 400 with a JSON error, unknown
paths 404, other methods 405, and no request a client can craft gets a 500. Each request is handled
in its own thread; a failure in one never stops the server. Connections are bounded in number and
time (``connections``). Binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import mimetypes
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from glassnet.errors import GlassnetError
from glassnet.nn.model import Sequential
from glassnet.web.api import BadRequest, describe, parse_action, parse_digit, parse_offset, sample
from glassnet.web.auth import DENIED, WRONG_TOKEN, Owner, owner_token
from glassnet.web.connections import BoundedServer
from glassnet.web.handler import JsonHandler
from glassnet.web.live import LiveRun

STATIC_FILES = ("index.html", "app.js", "charts.js", "live.js", "style.css")
API_ROUTES = {"/api/predict": "POST", "/api/sample": "GET", "/api/live/state": "GET", "/api/live/record": "GET",
              "/api/live/control": "POST"}
NOT_ADDRESSED = "this server answers only requests addressed to 127.0.0.1, localhost or the address it was started on"


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
        if self.live is None:
            return None if self.model is None else describe(self.model, image)
        newest = self.live.model()
        if newest is None:
            return None
        model, start = newest
        return describe(model, image, start=start)

    def sample(self) -> dict[str, Any] | None:
        if self.test_images is None or self.test_labels is None:
            return None
        with self._rng_lock:
            return sample(self.test_images, self.test_labels, self._rng)


def make_handler(app: DigitApp) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        credential: str | None = None                 # how this request proved it is the owner's: header or cookie

        @property
        def owner(self) -> Owner:
            return cast(DigitServer, self.server).owner

        def _refuse(self, path: str, message: str) -> None:
            """403: as JSON to the API, as plain text (never markup) to a browser asking for a page."""
            if path.startswith("/api/"):
                self._error(HTTPStatus.FORBIDDEN, message)
            else:
                self._send(HTTPStatus.FORBIDDEN, f"403 Forbidden: {message}\n".encode(), "text/plain; charset=utf-8")

        def _route(self, method: str) -> None:
            path, _, query = self.path.partition("?")
            addressed = self._addressed_to_us()
            self.credential = self._credential() if addressed else None
            reads_body = path == "/api/predict" or (path == "/api/live/control" and app.live is not None)
            if not (reads_body and method == "POST" and self.credential):
                self._drain()              # a body this route ignores would be read as the next request
            if not addressed:
                self._refuse(path, NOT_ADDRESSED)
            elif path == "/" and method in ("GET", "HEAD") and (welcome := self.owner.by_query(query)) is not None:
                self._welcome() if welcome else self._refuse(path, WRONG_TOKEN)
            elif self.credential is None:
                self._refuse(path, DENIED)
            elif path in API_ROUTES:
                self._api(method, path, query)
            else:
                self._static(method, path)

        def _addressed_to_us(self) -> bool:
            host = self.headers.get("Host", "")
            bound, port = cast(tuple[str, int], self.server.server_address)[:2]
            names = {"127.0.0.1", "localhost", "[::1]", bound if ":" not in bound else f"[{bound}]"}
            return host in {f"{name}:{port}" for name in names} | ({*names} if port == 80 else set())

        def _credential(self) -> str | None:
            if self.owner.by_header(self.headers):
                return "header"
            return "cookie" if self.owner.by_cookie(self.headers) else None

        def _welcome(self) -> None:
            """The owner's first visit: the cookie, and the page again without the token in its address."""
            self._send(HTTPStatus.SEE_OTHER, b"", "text/plain; charset=utf-8",
                       {"Location": "/", "Set-Cookie": self.owner.set_cookie()})

        def _static(self, method: str, path: str) -> None:
            if path != "/" and not path.startswith("/static/"):
                self._error(HTTPStatus.NOT_FOUND, f"no such path: {path}")
                return
            name = "index.html" if path == "/" else path.removeprefix("/static/")
            if method not in ("GET", "HEAD"):
                self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes GET", {"Allow": "GET, HEAD"})
            elif name not in app.static:               # only the package's own files, by name
                self._error(HTTPStatus.NOT_FOUND, f"no such file: {path}")
            else:
                kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
                self._send(HTTPStatus.OK, app.static[name], f"{kind}; charset=utf-8")

        def _api(self, method: str, path: str, query: str) -> None:
            if method != API_ROUTES[path]:
                self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes {API_ROUTES[path]}",
                            {"Allow": API_ROUTES[path]})
            elif path == "/api/predict":
                self._predict()
            elif path == "/api/sample":
                self._sample()
            elif app.live is None:
                self._error(HTTPStatus.NOT_FOUND, "this server follows no training run; "
                            "start it with 'glassnet serve RUN --live' or 'glassnet train --watch'")
            elif path == "/api/live/state":
                self._json(HTTPStatus.OK, app.live.state())
            elif path == "/api/live/record":
                self._record(app.live, query)
            else:
                self._control(app.live)

        def _record(self, live: LiveRun, query: str) -> None:
            try:
                answer = live.records(parse_offset(query))
            except BadRequest as e:
                self._error(HTTPStatus.BAD_REQUEST, str(e))
            except (GlassnetError, OSError) as e:         # the run folder's record is not a file we read
                self._error(HTTPStatus.SERVICE_UNAVAILABLE, f"cannot read the run's record: {e}")
            else:
                self._send(HTTPStatus.OK, answer, "application/json")

        def _control(self, live: LiveRun) -> None:
            body = self._body()
            if body is None:
                return
            origin = self.headers.get("Origin")
            if (origin is not None or self.credential == "cookie") and origin != f"http://{self.headers['Host']}":
                self._error(HTTPStatus.FORBIDDEN, "controls are accepted only from the live view's own page, "
                            "or from a script that sends the token in the Authorization header")
                return
            try:
                self._json(HTTPStatus.OK, live.control(parse_action(body)))
            except BadRequest as e:
                self._error(HTTPStatus.BAD_REQUEST, str(e))
            except PermissionError as e:
                self._error(HTTPStatus.FORBIDDEN, str(e))

        def _predict(self) -> None:
            body = self._body()
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

    return Handler


class DigitServer(BoundedServer):
    """The server of one ``DigitApp``, and its owner (the token, checked on every request)."""

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], token: str) -> None:
        super().__init__(address, handler)
        self.owner = Owner(token, self.server_address[1])

    def owner_url(self, host: str = "127.0.0.1", view: str = "") -> str:
        """The URL to print to the owner's terminal: with the token, then ``view`` (``#training``)."""
        shown = f"[{host}]" if ":" in host else host
        return self.owner.url(f"http://{shown}:{self.server_address[1]}", view)


def make_server(app: DigitApp, host: str = "127.0.0.1", port: int = 8000, token: str | None = None) -> DigitServer:
    """A server bound to host:port (port 0: any free port), answering whoever holds ``token``.

    ``token`` None: ``GLASSNET_TOKEN`` if set, else a random one. Print ``server.owner_url()`` to the owner.
    """
    return DigitServer((host, port), make_handler(app), owner_token() if token is None else token)
