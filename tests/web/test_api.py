"""The JSON API against the real server: answers, and every bad request refused without harm."""

import json
import re
import socket
from urllib.parse import urlparse

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glassnet.checkpoint import load_model
from glassnet.data.preprocess import preprocess_digit
from glassnet.diagnostics.record import RECORD_NAME, Controller
from glassnet.web.handler import MAX_BODY
from tests.web.client import AUTH_LINE, DEADLINE, TOKEN, request


def drawing(seed=0):
    image = np.zeros((112, 112))
    image[20:90, 50:62] = 1.0                                         # a thick "1"
    return image


def test_predict_a_drawing(server, model_file):
    status, result, _ = request(server, "POST", "/api/predict", {"image": drawing().tolist()})
    assert status == 200
    assert np.array(result["input"]).shape == (28, 28)
    assert len(result["probabilities"]) == 10 and abs(sum(result["probabilities"]) - 1) < 1e-4
    assert result["prediction"] == int(np.argmax(result["probabilities"]))
    assert [layer["size"] for layer in result["activations"]] == [32, 16]
    assert all(min(layer["values"]) >= 0 for layer in result["activations"])       # after ReLU
    assert len(result["top_units"]) == 6 and np.array(result["top_units"][0]["weights"]).shape == (28, 28)
    # the same pixels through the library give the same answer (same preprocessing code)
    model, _ = load_model(model_file)
    expected = model.predict_proba(preprocess_digit(drawing().astype(np.float32)).reshape(1, 784))[0]
    np.testing.assert_allclose(result["probabilities"], expected, atol=2e-6)


def test_predict_784_pixels(server):
    pixels = np.zeros((28, 28))
    pixels[4:24, 13:15] = 1.0
    status, result, _ = request(server, "POST", "/api/predict", {"pixels": pixels.ravel().tolist()})
    assert status == 200 and not result["blank"]


def test_blank_drawing(server):
    status, result, _ = request(server, "POST", "/api/predict", {"image": [[0.0] * 20] * 20})
    assert status == 200 and result["blank"] and not any(map(any, result["input"]))


def test_sample(server):
    status, result, _ = request(server, "GET", "/api/sample")
    assert status == 200 and 0 <= result["label"] <= 9 and len(result["pixels"]) == 784
    assert 0 <= min(result["pixels"]) and max(result["pixels"]) <= 1


def test_page_and_static_files(server):
    status, body, response = request(server, "GET", "/")
    assert status == 200 and b"<canvas" in body and response.getheader("Content-Type").startswith("text/html")
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        status, body, response = request(server, "GET", f"/static/{name}")
        assert status == 200 and body and kind in response.getheader("Content-Type")


BAD_BODIES = [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"image": [[0.1]], "pixels": [0.1]}', "either"),
    (b'{"pixels": [0.5, 0.5]}', "784 numbers"),
    (b'{"pixels": "abc"}', "must be a list"),
    (b'{"image": [[0.1, 0.2], [0.3]]}', "same length"),
    (b'{"image": [[0.1, "x"]]}', "only numbers"),
    (b'{"image": [[true, false]]}', "only numbers"),
    (b'{"image": [[0.1, [0.2]]]}', "only numbers"),
    (b'{"image": [0.1, [0.2]]}', "only numbers"),
    (b'{"image": [[0.1], 0.2]}', "mixes rows"),
    (b'{"image": []}', "rectangular"),
    (b'{"image": [[]]}', "rectangular"),
    (b'{"image": [[NaN, 0.1]]}', "non-finite"),
    (b'{"image": [[Infinity]]}', "non-finite"),
    (b'{"image": [[1e400]]}', "non-finite"),
    (b'{"image": [[1.5, 0.1]]}', r"[0, 1]"),
    (b'{"image": [[-0.1, 0.1]]}', r"[0, 1]"),
    (json.dumps({"image": [[0.0] * 600] * 2}).encode(), "at most 512"),
    (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
    (b'{"a":' * 100000 + b"1" + b"}" * 100000, "not valid JSON"),
    (b'{"pixels": [' + b"1" * 5000 + b"]}", "not valid JSON"),        # past Python's integer digit limit
    (b"1", "a JSON int, not an object"),
    (b'"image"', "a JSON str, not an object"),
    (b"null", "a JSON NoneType, not an object"),
    (b"", "not valid JSON"),
]


@pytest.mark.parametrize("body, message", BAD_BODIES)
def test_bad_requests_get_400_with_a_json_message(server, body, message):
    status, result, _ = request(server, "POST", "/api/predict", body, {"Content-Type": "application/json"})
    assert status == 400, result
    assert message in result["error"]


def test_the_largest_drawing_at_full_float_precision_fits_in_the_body_limit(server):
    value = 2.2250738585072014e-308                              # the longest float reprs in [0, 1]: 23 characters
    image = np.full((512, 512), value)
    image[100:400, 240:270] = 0.9876543210987654                  # a stroke, so the page is not blank
    body = json.dumps({"image": image.tolist()}).encode()
    assert len(body) <= MAX_BODY
    status, result, _ = request(server, "POST", "/api/predict", body)
    assert status == 200 and result["prediction"] in range(10)
    too_wide = json.dumps({"image": np.zeros((1, 513)).tolist()}).encode()
    status, result, _ = request(server, "POST", "/api/predict", too_wide)
    assert status == 400 and "at most 512×512" in result["error"]


def test_too_large_is_413_and_the_body_is_not_read(server):
    status, result, _ = request(server, "POST", "/api/predict", b"x" * (MAX_BODY + 1))
    assert status == 413 and "over the limit" in result["error"]


def test_announced_huge_body_is_refused_without_waiting_for_it(server):
    url = urlparse(server)
    with socket.create_connection((url.hostname, url.port), timeout=DEADLINE) as sock:
        sock.sendall(f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{url.port}\r\n{AUTH_LINE}"
                     "Content-Length: 10000000000\r\n\r\n".encode())
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")


def test_missing_content_length(server):
    url = urlparse(server)
    with socket.create_connection((url.hostname, url.port), timeout=DEADLINE) as sock:
        sock.sendall(f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{url.port}\r\n{AUTH_LINE}\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 411")


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/nope", 404),
    ("GET", "/api/nope", 404),
    ("GET", "/static/nope.js", 404),
    ("GET", "/static/../server.py", 404),
    ("GET", "/static/%2e%2e/server.py", 404),
    ("GET", "/static//etc/passwd", 404),
    ("GET", "/../../etc/passwd", 404),
    ("GET", "/api/predict", 405),
    ("PUT", "/api/predict", 405),
    ("DELETE", "/api/sample", 405),
    ("POST", "/api/sample", 405),
    ("POST", "/", 405),
    ("PATCH", "/static/app.js", 405),
])
def test_unknown_paths_and_methods(server, method, path, status):
    code, result, _ = request(server, method, path, b"{}" if method in ("POST", "PUT", "PATCH") else None)
    assert code == status
    assert result["status"] == status and result["error"]


def test_server_keeps_serving_after_bad_requests(server):
    for body, _ in BAD_BODIES[:5]:
        request(server, "POST", "/api/predict", body)
    url = urlparse(server)
    with socket.create_connection((url.hostname, url.port), timeout=DEADLINE) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        sock.recv(4096)
    status, _, _ = request(server, "POST", "/api/predict", {"pixels": [0.0] * 784})
    assert status == 200


def test_sample_without_data_is_503(model_file):
    import threading

    from glassnet.web.server import DigitApp, make_server

    model, _ = load_model(model_file)
    httpd = make_server(DigitApp(model), "127.0.0.1", 0, TOKEN)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        status, _, _ = request(f"http://127.0.0.1:{httpd.server_address[1]}", "GET", "/api/sample")
        assert status == 503
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_api_answers_only_requests_addressed_to_this_machine(server):
    url = urlparse(server)
    with socket.create_connection((url.hostname, url.port), timeout=DEADLINE) as sock:
        sock.sendall(b"GET /api/sample HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        reply = b"".join(iter(lambda: sock.recv(65536), b""))          # until the server closes
    assert reply.startswith(b"HTTP/1.1 403") and b"addressed to" in reply


def test_live_routes_need_a_followed_run(server):
    status, body, _ = request(server, "GET", "/api/live/state")
    assert status == 404 and "follows no training run" in body["error"]


def test_a_live_run_serves_its_newest_checkpoint(tmp_path, rng):
    from glassnet.checkpoint import save_checkpoint
    from glassnet.nn.model import mlp
    from glassnet.web.live import LiveRun

    live = LiveRun(tmp_path)
    assert live.model() is None and live.state() == {"run": tmp_path.name, "controllable": False}
    first = mlp([784, 8, 10], rng=rng)
    save_checkpoint(tmp_path / "model.npz", first, {"epoch": 1})
    loaded, start = live.model()
    assert live.model()[0] is loaded and start is None     # unchanged file: not reloaded; no config, no W₀
    second = mlp([784, 8, 10], rng=rng)
    save_checkpoint(tmp_path / "model.npz", second, {"epoch": 2})
    np.testing.assert_array_equal(live.model()[0].layers[0].weight.value, second.layers[0].weight.value)
    with pytest.raises(PermissionError, match="only 'glassnet train --watch'"):
        live.control("pause")


def test_the_draw_pad_of_a_live_run_shows_w_minus_w0_when_the_checkpoint_says_how_the_run_started(tmp_path, rng):
    from glassnet.checkpoint import save_checkpoint
    from glassnet.config import TrainConfig
    from glassnet.train import initial_model
    from glassnet.web.api import describe
    from glassnet.web.live import first_layer_start

    config = TrainConfig(hidden=(8,), seed=3)
    trained = initial_model(config)
    start = trained.layers[0].weight.value.copy()
    trained.layers[0].weight.value[...] += rng.standard_normal(start.shape).astype(start.dtype)
    save_checkpoint(tmp_path / "model.npz", trained, {"epoch": 1, "config": config.to_dict()})
    model, meta = load_model(tmp_path / "model.npz")
    np.testing.assert_array_equal(first_layer_start(model, meta), start)
    answer = describe(model, np.ones((28, 28), np.float32) * 0.5, start=first_layer_start(model, meta))
    unit = answer["top_units"][0]
    assert answer["unit_images"] == "W - W0"
    np.testing.assert_allclose(np.ravel(unit["weights"]), model.layers[0].weight.value[:, unit["unit"]]
                               - start[:, unit["unit"]], atol=1e-4)
    assert first_layer_start(model, meta | {"init_from": "other.npz"}) is None      # W₀ was another model's
    assert first_layer_start(model, meta | {"config": config.to_dict() | {"hidden": [16]}}) is None
    assert describe(model, np.ones((28, 28), np.float32) * 0.5)["unit_images"] == "W"


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "BREW", "CONNECT"])
def test_unknown_methods_get_a_json_405(server, method):
    status, body, _ = request(server, method, "/api/predict")
    assert status == 405 and method in body["error"]


@pytest.mark.parametrize("length", ["５", "1" * 5000, "12a", "-1", "1e3"])
def test_odd_content_lengths_are_a_400_not_a_500(server, length):
    url = urlparse(server)
    with socket.create_connection((url.hostname, url.port), timeout=DEADLINE) as sock:
        sock.sendall(f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{url.port}\r\n{AUTH_LINE}"
                     f"Content-Length: {length}\r\nConnection: close\r\n\r\n".encode())
        reply = b"".join(iter(lambda: sock.recv(65536), b""))
    assert reply.startswith(b"HTTP/1.1 400"), reply[:80]


def test_a_number_beyond_float64_is_a_400(server):
    status, body, _ = request(server, "POST", "/api/predict", json.dumps({"pixels": [10**400] + [0] * 783}).encode(),
                              {"Content-Type": "application/json"})
    assert status == 400 and "too large" in body["error"]


def _replies(server, raw: bytes) -> list[bytes]:
    """The status lines the server sends back for the raw bytes of one connection."""
    url = urlparse(server)
    with socket.create_connection((url.hostname, url.port), timeout=DEADLINE) as sock:
        sock.sendall(raw)
        reply = b"".join(iter(lambda: sock.recv(65536), b""))
    return re.findall(rb"HTTP/1\.1 \d{3}", reply)              # a body runs straight into the next reply


def _requests(server):
    """A request to smuggle inside a body, and a last request that closes the connection."""
    host = f"Host: 127.0.0.1:{urlparse(server).port}\r\n{AUTH_LINE}".encode()
    return (b"GET /nope HTTP/1.1\r\n" + host + b"\r\n",
            b"GET /api/sample HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n", host)


@pytest.mark.parametrize("path", [b"/", b"/static/app.js", b"/api/sample", b"/api/live/state", b"/nope"])
def test_a_body_on_a_route_that_ignores_it_is_not_read_as_the_next_request(server, path):
    smuggled, last, host = _requests(server)
    first = b"GET " + path + b" HTTP/1.1\r\n" + host + b"Content-Length: %d\r\n\r\n" % len(smuggled)
    statuses = _replies(server, first + smuggled + last)
    assert len(statuses) == 2 and statuses[1].startswith(b"HTTP/1.1 200"), statuses


def test_a_chunked_body_closes_the_connection_instead_of_being_read_as_requests(server):
    smuggled, last, host = _requests(server)
    assert len(_replies(server, b"GET / HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked\r\n\r\n"
                        + smuggled + last)) == 1
    post = b"POST /api/predict HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n{}"
    statuses = _replies(server, post + smuggled)
    assert len(statuses) == 1 and statuses[0].startswith(b"HTTP/1.1 400"), statuses


def test_a_body_shorter_than_its_content_length_is_a_400_that_says_so(server):
    url = urlparse(server)
    with socket.create_connection((url.hostname, url.port), timeout=DEADLINE) as sock:
        sock.sendall(f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{url.port}\r\n{AUTH_LINE}"
                     'Content-Length: 100\r\n\r\n{"pixels": []}'.encode())
        sock.shutdown(socket.SHUT_WR)                                 # the client has nothing more to send
        reply = b"".join(iter(lambda: sock.recv(65536), b""))
    assert reply.startswith(b"HTTP/1.1 400") and b"ended after 14 of the 100 bytes" in reply, reply[:300]


CONTROL_BODIES = [
    (b'{"action": "explode"}', "unknown action"),
    (b'{"action": ["pause"]}', "unknown action"),
    (b'{"action": null}', "unknown action"),
    (b"{}", "unknown action"),
    (b'["pause"]', "not an object"),
    (b'"pause"', "not an object"),
    (b"{not json", "not valid JSON"),
    (b"\xff", "not valid JSON"),
    (b'{"action": NaN}', "non-finite"),
    (b'{"action": ' + b"1" * 5000 + b"}", "not valid JSON"),
    (b'{"a":' * 100000 + b"1" + b"}" * 100000, "not valid JSON"),
    (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
]


@pytest.mark.parametrize("body, message", CONTROL_BODIES)
def test_bad_control_requests_get_400_with_a_json_message(serve_live, tmp_path, body, message):
    url = serve_live(tmp_path, Controller())
    status, result, _ = request(url, "POST", "/api/live/control", body, {"Content-Type": "application/json"})
    assert status == 400 and message in result["error"], result


@pytest.mark.parametrize("query", [
    "offset=%2B1",
    "offset=+1",
    "offset=-1",
    "offset=%C2%B2",                     # "²": str.isdigit() says yes, int() says no
    "offset=%D9%A1",                     # an Arabic-Indic one: int() would take it
    "offset=1e3",
    "offset=1.0",
    "offset=0x10",
    "offset=",
    "offset",
    "offset=1&offset=2",
    "offset=1&other=2",
    "offset=" + "9" * 16,
    "offset=" + "9" * 5000,
    "&&&",
    "offset=%FF",
    "=".join(["x"] * 50),
])
def test_odd_offsets_get_400(serve_live, tmp_path, query):
    url = serve_live(tmp_path)
    status, result, _ = request(url, "GET", f"/api/live/record?{query}")
    assert status == 400 and "offset" in result["error"], result


def test_an_offset_past_the_end_says_to_read_again_from_the_start(serve_live, tmp_path):
    (tmp_path / RECORD_NAME).write_bytes(b'{"kind": "meta"}\n')
    url = serve_live(tmp_path)
    assert request(url, "GET", "/api/live/record?offset=999999999999999")[1] == {
        "offset": 0, "restart": True, "skipped": {"damaged": 0, "too_long": 0}, "records": []}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.sampled_from(["action", "image", "pixels"]), inner,
                                                                max_size=3))
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),                # NaN and Infinity included
    st.integers(4000, 6000).map(lambda digits: b'{"pixels": [' + b"7" * digits + b'], "action": 1}'),
    st.integers(1, 100_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(1, 100_000).map(lambda depth: b'{"action":' * depth + b"0" + b"}" * depth))
OFFSETS = st.lists(st.sampled_from(["0", "1", "9" * 20, "%C2%B2", "%D9%A1", "%FF", "%00", "+", "-", "e", ".", "%",
                                    "&offset=1", "&x=1", "x", "="]), max_size=4).map("".join)
QUERIES = st.one_of(
    OFFSETS.map(lambda value: "offset=" + value),
    st.lists(st.sampled_from(["offset", "=", "&", ";", "%", "%2"]) | OFFSETS, max_size=8).map("".join),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#"), max_size=30))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(path=st.sampled_from(["/api/predict", "/api/live/control"]), body=BODIES)
def test_no_body_a_client_can_send_gets_a_500(live_server, path, body):
    status, result, _ = request(live_server, "POST", path, body, {"Content-Type": "application/json"})
    assert status in (200, 400, 503) and (status == 200 or result["error"]), (status, result)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(query=QUERIES)
def test_no_query_a_client_can_send_gets_a_500(live_server, query):
    status, result, _ = request(live_server, "GET", f"/api/live/record?{query}")
    assert status in (200, 400), (status, result)
