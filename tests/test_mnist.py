"""Finding, validating and downloading MNIST, against a real HTTP server on 127.0.0.1."""

import gzip
import hashlib
import http.server
import threading

import numpy as np
import pytest

from glassnet.data import mnist
from glassnet.data.idx import encode_idx, write_idx
from glassnet.data.mnist import MNIST_FILES, download_file, load_mnist, to_inputs
from glassnet.errors import DatasetError, IdxFormatError
from tests.mnist_fixtures import synthetic_gz_files, write_mnist_folder


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """No test reads or writes the user's real cache or GLASSNET_DATA."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GLASSNET_DATA", raising=False)


def test_loads_a_synthetic_folder_and_says_it_is_not_mnist(tmp_path):
    data = load_mnist(write_mnist_folder(tmp_path / "d"), download=False)
    assert data.train_images.shape == (200, 28, 28) and data.train_images.dtype == np.uint8
    assert data.test_labels.shape == (100,)
    assert not data.official and "not the official MNIST" in data.name
    x = to_inputs(data.train_images)
    assert x.shape == (200, 784) and x.dtype == np.float32 and 0.0 <= x.min() and x.max() == 1.0


@pytest.mark.parametrize("rename", [
    lambda name: name,
    lambda name: name.replace("-idx", ".idx"),
])
def test_accepts_plain_and_dotted_names(tmp_path, rename):
    source = write_mnist_folder(tmp_path / "src", gz=False)
    folder = tmp_path / "d"
    folder.mkdir()
    for name, _ in MNIST_FILES.values():
        (folder / rename(name)).write_bytes((source / name).read_bytes())
    assert len(load_mnist(folder, download=False).train_labels) == 200


def test_search_order_argument_then_env_then_cache(tmp_path, monkeypatch):
    env_folder = write_mnist_folder(tmp_path / "env", n_train=30)
    monkeypatch.setenv("GLASSNET_DATA", str(env_folder))
    assert load_mnist(download=False).folder == env_folder
    arg_folder = write_mnist_folder(tmp_path / "arg", n_train=40)
    assert len(load_mnist(arg_folder, download=False).train_labels) == 40
    monkeypatch.delenv("GLASSNET_DATA")
    cache = write_mnist_folder(tmp_path / "cache" / "glassnet" / "mnist", n_train=50)
    assert load_mnist(download=False).folder == cache


@pytest.mark.parametrize("download", [True, False])
def test_a_data_folder_that_is_a_file_is_named_as_such(tmp_path, monkeypatch, download):
    monkeypatch.delenv("GLASSNET_DATA", raising=False)
    not_a_folder = tmp_path / "mnist.tar"
    not_a_folder.write_bytes(b"x")
    for path in (not_a_folder, "/dev/zero"):
        with pytest.raises(DatasetError, match="is not a folder"):
            load_mnist(path, download=download)


def test_missing_files_offline_says_where_it_looked_and_what_to_do(tmp_path):
    with pytest.raises(DatasetError) as error:
        load_mnist(tmp_path / "empty", download=False)
    message = str(error.value)
    assert str(tmp_path / "empty") in message and "train-images-idx3-ubyte" in message
    assert "--data-dir" in message and "GLASSNET_DATA" in message


@pytest.mark.parametrize("part, array, message", [
    ("train_labels", np.array([1, 2, 12] * 67, np.uint8)[:200], "labels must be digits 0-9"),
    ("train_labels", np.zeros(150, np.uint8), "200 images but .* has 150 labels"),
    ("test_images", np.zeros((100, 28, 27), np.uint8), r"shape \(N, 28, 28\)"),
    ("test_images", np.zeros((100, 28, 28), np.float32), "expected uint8 images"),
])
def test_inconsistent_files_are_refused(tmp_path, part, array, message):
    folder = write_mnist_folder(tmp_path / "d")
    write_idx(folder / (MNIST_FILES[part][0] + ".gz"), array)
    with pytest.raises(DatasetError, match=message) as error:
        load_mnist(folder, download=False)
    assert "idx" in str(error.value)


def test_truncated_file_names_the_file(tmp_path):
    folder = write_mnist_folder(tmp_path / "d", gz=False)
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(IdxFormatError, match="t10k-images-idx3-ubyte: truncated"):
        load_mnist(folder, download=False)


# --- downloads against a local server --------------------------------------------------------

class _Server:
    """A tiny HTTP server on 127.0.0.1 whose behaviour per path the test chooses."""

    def __init__(self, routes):
        self.routes = routes            # path -> bytes | int (status) | ("drop", bytes)
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                route = server.routes.get(self.path, 404)
                if isinstance(route, int):
                    self.send_error(route)
                    return
                dropped = isinstance(route, tuple)
                body = route[1] if dropped else route
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if dropped else body)
                if dropped:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def files():
    return synthetic_gz_files()


@pytest.fixture
def checksums(files, monkeypatch):
    """Make the synthetic files the 'official' ones for the download code."""
    table = {part: (name, hashlib.sha256(gzip.decompress(files[name])).hexdigest())
             for part, (name, _) in MNIST_FILES.items()}
    monkeypatch.setattr(mnist, "MNIST_FILES", table)
    return table


def test_download_success_then_loads_and_is_verified(tmp_path, files, checksums):
    server = _Server({f"/m/{name}.gz": body for name, body in files.items()})
    seen = []
    try:
        data = load_mnist(tmp_path / "d", mirrors=[server.url + "/m/"], timeout=5,
                          progress=lambda name, done, total: seen.append((name, done, total)))
    finally:
        server.close()
    assert data.official                       # the checksum table was patched to these files
    assert len(data.train_labels) == 50
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == sorted(f"{n}.gz" for n in files)
    assert seen and seen[-1][1] == seen[-1][2]


def _download_must_fail(tmp_path, part, served, checksums, message):
    """Serve ``served`` for the file of ``part``: the download fails with ``message`` and leaves nothing."""
    name = MNIST_FILES[part][0]
    server = _Server({f"/{name}.gz": served})
    try:
        with pytest.raises(DatasetError, match=message):
            download_file(name + ".gz", tmp_path / f"{name}.gz", sha256=checksums[part][1],
                          mirrors=[server.url], timeout=5)
    finally:
        server.close()
    assert list(tmp_path.iterdir()) == []


def test_checksum_mismatch_leaves_no_file(tmp_path, files, checksums):
    wrong = gzip.compress(encode_idx(np.ones(50, np.uint8)))
    _download_must_fail(tmp_path, "train_labels", wrong, checksums, "checksum mismatch")


def test_server_error_falls_back_to_next_mirror(tmp_path, files, checksums):
    name = "t10k-labels-idx1-ubyte"
    broken, good = _Server({f"/{name}.gz": 500}), _Server({f"/{name}.gz": files[name]})
    try:
        download_file(name + ".gz", tmp_path / f"{name}.gz", sha256=checksums["test_labels"][1],
                      mirrors=[broken.url, good.url], timeout=5)
    finally:
        broken.close()
        good.close()
    assert broken.requests == [f"/{name}.gz"] and good.requests == [f"/{name}.gz"]
    assert (tmp_path / f"{name}.gz").read_bytes() == files[name]


def test_connection_dropped_mid_file_leaves_no_partial_file(tmp_path, files, checksums):
    dropped = ("drop", files["train-images-idx3-ubyte"])
    _download_must_fail(tmp_path, "train_images", dropped, checksums, "could not download")


def test_no_server_at_all_is_a_clear_offline_error(tmp_path, checksums):
    server = _Server({})
    url = server.url
    server.close()                             # nothing listens on this port now
    with pytest.raises(DatasetError) as error:
        load_mnist(tmp_path / "d", mirrors=[url + "/"], timeout=2)
    message = str(error.value)
    assert "could not download train-images-idx3-ubyte.gz" in message
    assert "GLASSNET_DATA" in message and str(tmp_path / "d") in message
    assert not [p for p in (tmp_path / "d").iterdir()]


@pytest.mark.slow
def test_real_mnist(mnist_dir):
    data = load_mnist(mnist_dir, download=False)
    assert data.official
    assert data.train_images.shape == (60000, 28, 28) and data.test_images.shape == (10000, 28, 28)
    counts = np.bincount(data.train_labels, minlength=10)
    assert counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
