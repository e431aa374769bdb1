"""The server's connections: how many stay open, and how long one may take to send its request.

A request must arrive whole within ``REQUEST_SECONDS``, and open connections are bounded by the
open-file limit: when they run out, the one that has waited longest for its request is closed, so
slow senders cannot crowd out real users.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REQUEST_SECONDS = 15.0          # from a connection's first byte of a request to its whole body


class BoundedServer(ThreadingHTTPServer):
    """A threading HTTP server that hangs up on connections whose request is overdue, or oldest when too many."""

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


