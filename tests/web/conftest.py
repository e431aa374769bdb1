"""A real server on an ephemeral port of 127.0.0.1, with a small trained model and synthetic test digits."""

import threading

import numpy as np
import pytest

from glassnet.checkpoint import save_checkpoint
from glassnet.nn.model import mlp
from glassnet.web.server import DigitApp, make_server
from tests.mnist_fixtures import synthetic_digits


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
    httpd = make_server(DigitApp(model, images, labels), "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
