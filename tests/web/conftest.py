"""A real server on an ephemeral port of 127.0.0.1, with a small trained model and synthetic test digits; its
owner's token is ``tests.web.client.TOKEN``."""

import threading

import numpy as np
import pytest

from glassnet.checkpoint import save_checkpoint
from glassnet.nn.model import mlp
from glassnet.web.server import DigitApp, make_server
from tests.mnist_fixtures import synthetic_digits
from tests.web.client import TOKEN


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for a module's tests (the system's: tests.web.chromium)."""
    from tests.web.chromium import launch

    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def model_file(tmp_path_factory):
    model = mlp([784, 32, 16, 10], rng=np.random.default_rng(0), dropout=0.2)
    model.forward(np.random.default_rng(1).random((8, 784)))          # non-trivial running statistics
    path = tmp_path_factory.mktemp("model") / "model.npz"
    save_checkpoint(path, model, {"epoch": 1})
    return path


@pytest.fixture(scope="session")
def server(model_file):
    from glassnet.checkpoint import load_model

    model, _ = load_model(model_file)
    images, labels = synthetic_digits(50, 4)
    httpd = make_server(DigitApp(model, images, labels), "127.0.0.1", 0, TOKEN)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """A server following a run that has a short record and a controller (no training loop obeys it)."""
    from glassnet.diagnostics.record import RECORD_NAME, Controller
    from glassnet.web.live import LiveRun

    run = tmp_path_factory.mktemp("followed-run")
    (run / RECORD_NAME).write_bytes(b'{"kind": "meta", "epoch": 0}\n{"kind": "tick", "epoch": 1, "step": 1}\n')
    httpd = make_server(DigitApp(None, live=LiveRun(run, Controller())), "127.0.0.1", 0, TOKEN)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def serve_live():
    """Start servers that follow a run folder (``serve_live(run_dir, controller=None)`` → base URL); stopped after."""
    from glassnet.web.live import LiveRun

    started = []

    def start(run_dir, controller=None):
        httpd = make_server(DigitApp(None, live=LiveRun(run_dir, controller)), "127.0.0.1", 0, TOKEN)
        # a short poll: shutdown() waits for it, once per test
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        started.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()
