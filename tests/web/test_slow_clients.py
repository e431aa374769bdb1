"""Slow clients cannot take the server from real users: a server in its own process, with few file descriptors."""

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.web.client import AUTH, TOKEN
from tests.web.processes import DEADLINE

resource = pytest.importorskip("resource")         # the open-file limit is a Unix notion
pytestmark = pytest.mark.slow                      # every test here starts a server process

SERVER = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
from glassnet.checkpoint import load_model
from glassnet.web.server import DigitApp, make_server
server = make_server(DigitApp(load_model(sys.argv[1])[0]), "127.0.0.1", 0)   # the token: GLASSNET_TOKEN
server.request_seconds = float(sys.argv[2])
print(server.server_address[1], server.max_connections, flush=True)
server.serve_forever()
"""


@pytest.fixture
def start_server(model_file):
    processes = []

    def start(request_seconds):
        process = subprocess.Popen([sys.executable, "-c", SERVER, str(model_file), str(request_seconds)],
                                   stdout=subprocess.PIPE, text=True, env=os.environ | {"GLASSNET_TOKEN": TOKEN})
        processes.append(process)
        port, max_connections = map(int, process.stdout.readline().split())
        return process, port, max_connections

    yield start
    for process in processes:
        process.kill()
        process.wait(timeout=DEADLINE)


class SlowSenders:
    """Connections that send a request one header line every 0.2 s and never finish it; reconnect when dropped."""

    def __init__(self, port, count):
        self.port, self.dropped, self.stop = port, 0, threading.Event()
        self.sockets = [self._connect() for _ in range(count)]
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE)
        sock.sendall(b"GET / HTTP/1.1\r\n")
        return sock

    def _feed(self):
        while not self.stop.wait(0.2):
            for i, sock in enumerate(self.sockets):
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    self.dropped += 1
                    sock.close()
                    self.sockets[i] = self._connect()

    def close(self):
        self.stop.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()


def get_page(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    connection.request("GET", "/", headers=AUTH)
    status = connection.getresponse().status
    connection.close()
    return status


def open_files(pid):
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts descriptors in /proc")
def test_real_users_are_served_while_slow_senders_exceed_the_open_file_limit(start_server):
    process, port, max_connections = start_server(request_seconds=60)
    assert max_connections == 24                         # half of 64 descriptors, less a reserve
    senders = SlowSenders(port, count=100)              # more connections than the server has descriptors
    try:
        for _ in range(5):
            assert get_page(port) == 200
            assert open_files(process.pid) < 64
        assert process.poll() is None
    finally:
        senders.close()


def test_a_request_that_does_not_arrive_in_time_is_hung_up_on(start_server):
    _, port, _ = start_server(request_seconds=1)
    deadline = time.monotonic() + DEADLINE
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        try:
            while time.monotonic() < deadline:          # a header line every 0.2 s, well within the idle timeout
                sock.sendall(b"X-Slow: 1\r\n")
                sock.settimeout(0.2)
                try:
                    if sock.recv(4096) == b"":
                        break                           # the server closed the connection
                except TimeoutError:
                    continue
            else:
                pytest.fail(f"the server held a request that never finished for {DEADLINE:.0f} s")
        except (BrokenPipeError, ConnectionResetError):
            pass                                        # closed while we were writing: also hung up on
    assert get_page(port) == 200
