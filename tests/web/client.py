"""How the tests talk to a server: as its owner (the token of the servers they start) or as anyone else."""

import http.client
import json
import socket
from urllib.parse import urlparse

from tests.web.processes import DEADLINE

TOKEN = "test-owner-token-0123456789"
AUTH = {"Authorization": f"token {TOKEN}"}
AUTH_LINE = f"Authorization: token {TOKEN}\r\n"          # the same, for requests written byte by byte


def request(server, method, path, body=None, headers=None, auth=AUTH):
    """(status, parsed JSON or raw bytes, response) without raising on HTTP errors; as the owner unless ``auth={}``.

    JSON is parsed as a browser parses it: NaN or Infinity in an answer fails the test.
    """
    url = urlparse(server)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=DEADLINE)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    connection.request(method, path, body=data, headers=auth | (headers or {}))
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    kind = response.getheader("Content-Type", "")
    strict = json.loads(raw, parse_constant=_not_json) if kind.startswith("application/json") else raw
    return response.status, strict, response


def _not_json(name: str) -> None:
    raise AssertionError(f"the server answered {name}, which is not JSON")


def raw_exchange(server, data: bytes) -> bytes:
    """Everything the server sends back for ``data`` written as is on one connection, until it closes."""
    url = urlparse(server)
    with socket.create_connection((url.hostname, url.port), timeout=DEADLINE) as sock:
        sock.sendall(data)
        return b"".join(iter(lambda: sock.recv(65536), b""))
