"""How the server reads a request and writes an answer, whatever the route: bodies within limits, JSON errors,
and the security headers on every answer. ``server`` subclasses ``JsonHandler`` with the routes.

Bodies above ``MAX_BODY`` bytes get 413 (read and dropped up to ``DRAIN_LIMIT``, never parsed; larger
ones are not read at all); a body a route ignores is read and dropped, so it is never taken for the
next request. The standard library's own errors (a request line or headers it cannot read, an
unknown method) are answered as JSON too, with the same headers.
"""

from __future__ import annotations

from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, cast

from glassnet.web.api import finite_json
from glassnet.web.connections import BoundedServer

MAX_BODY = 7 * 1024 * 1024      # a 512×512 drawing as JSON stays under this, whatever the values' precision
DRAIN_LIMIT = 16 * 1024 * 1024   # an oversized body up to this is read and dropped, so the client sees the 413
# on every answer: only the page's own files run, and no other page may frame it (a click on Stop)
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                           "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff",
                    "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


class JsonHandler(BaseHTTPRequestHandler):
    """A handler whose subclass answers ``_route(method)``; this class reads bodies and writes answers."""

    server_version = "glassnet"
    protocol_version = "HTTP/1.1"
    timeout = 15                                  # seconds a slow client may hold a connection idle
    disable_nagle_algorithm = True                # headers and body leave at once (no 40 ms delayed-ACK stall)

    def log_message(self, format: str, *args: Any) -> None:   # quiet: the CLI prints what matters
        pass

    def handle_one_request(self) -> None:
        cast(BoundedServer, self.server).awaiting_request(self.connection)
        super().handle_one_request()

    def _route(self, method: str) -> None:
        """Answer the request (``self.path``, ``self.headers``) made with ``method``: the subclass's routes."""
        raise NotImplementedError

    def _answer(self, method: str) -> None:
        """``_route``, with whatever one request does kept from stopping the server."""
        try:
            self._route(method)
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

    def _send(self, status: HTTPStatus, body: bytes, content_type: str,
              extra: dict[str, str] | None = None) -> None:
        cast(BoundedServer, self.server).answering(self.connection)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (SECURITY_HEADERS | (extra or {})).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: HTTPStatus, payload: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        self._send(status, finite_json(payload), "application/json", extra)

    def _error(self, status: HTTPStatus, message: str, extra: dict[str, str] | None = None) -> None:
        self._json(status, {"error": message, "status": int(status)}, extra)

    def _body(self) -> bytes | None:
        """The request's body, or None once the client has been told why not."""
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

    def do_GET(self) -> None:
        self._answer("GET")

    def do_HEAD(self) -> None:
        self._answer("HEAD")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_PUT(self) -> None:
        self._answer("PUT")

    def do_DELETE(self) -> None:
        self._answer("DELETE")

    def do_PATCH(self) -> None:
        self._answer("PATCH")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own errors (unknown methods, bad request lines) as JSON, like ours."""
        status = HTTPStatus(code)
        if status == HTTPStatus.NOT_IMPLEMENTED:           # OPTIONS, TRACE, anything unknown
            status, message = HTTPStatus.METHOD_NOT_ALLOWED, f"method {self.command} is not allowed here"
        self.close_connection = True
        if self.request_version == "HTTP/0.9":             # a request line it could not read: still a whole
            self.request_version = "HTTP/1.1"              # answer, with its headers, not a bare 0.9 body
        try:
            self._error(status, message or status.phrase, {"Allow": "GET, HEAD, POST"})
        except OSError:
            pass


def _is_length(raw: str) -> bool:
    """A Content-Length we read: ASCII digits only (int() also takes other scripts' digits), not absurdly long."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 18
