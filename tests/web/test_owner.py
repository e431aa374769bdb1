"""The server answers only its owner: the token printed to the terminal, then a cookie or the Authorization header.

Against a real server on 127.0.0.1 (in this process): what anyone else gets, how the owner gets in,
the checks that a forged credential cannot pass, and the headers every answer carries.
"""

import json
from urllib.parse import urlparse

import pytest

from glassnet.diagnostics.record import Controller
from glassnet.web.auth import TOKEN_ENV, TokenError, owner_token
from glassnet.web.handler import CONTENT_SECURITY_POLICY
from tests.web.client import AUTH, AUTH_LINE, TOKEN, raw_exchange, request


def cookie(server, token=TOKEN, port=None):
    return {"Cookie": f"glassnet-token-{port or urlparse(server).port}={token}"}


@pytest.mark.parametrize("method, path", [
    ("GET", "/"),
    ("HEAD", "/"),
    ("GET", "/static/app.js"),
    ("GET", "/static/live.js"),
    ("GET", "/api/sample"),
    ("POST", "/api/predict"),
    ("GET", "/api/live/state"),
    ("GET", "/nope"),
])
def test_anyone_else_gets_403_and_is_told_where_the_owner_finds_the_url(server, method, path):
    body = json.dumps({"pixels": [0.0] * 784}).encode() if method == "POST" else None
    status, answer, response = request(server, method, path, body, auth={})
    assert status == 403
    if path.startswith("/api/"):
        assert "printed in the terminal" in answer["error"]
    else:
        assert response.getheader("Content-Type").startswith("text/plain")    # never markup
        assert method == "HEAD" or b"printed in the terminal" in answer


@pytest.mark.parametrize("headers", [
    {"Authorization": "token wrong-token-0123456789"},
    {"Authorization": f"Bearer {TOKEN}"},                                   # Jupyter's scheme is "token"
    {"Authorization": "token"},
    {"Authorization": f"token {TOKEN}x"},
    {"Authorization": f"token {TOKEN[:-1]}"},
    {"Authorization": "token " + "ä" * 30},
    {"Authorization": "token " + "x" * 60_000},
    {"Cookie": f"glassnet-token-1={TOKEN}"},                               # the cookie of a server on another port
    {"Cookie": "glassnet-token-PORT=wrong-token-0123456789"},
    {"Cookie": "glassnet-token-PORT="},
    {"Cookie": f"glassnet-token={TOKEN}"},
    {"Cookie": f"token={TOKEN}"},
    {"Cookie": f"glassnet-token-PORT {TOKEN}"},
    {"Cookie": ";;;==;="},
    {"X-Glassnet-Token": TOKEN},
])
def test_a_wrong_or_misplaced_credential_gets_403(server, headers):
    port = str(urlparse(server).port)
    headers = {key: value.replace("PORT", port) for key, value in headers.items()}
    status, answer, _ = request(server, "GET", "/api/sample", headers=headers, auth={})
    assert status == 403 and "printed in the terminal" in answer["error"]


@pytest.mark.parametrize("value", [
    f"token {TOKEN}",
    f"Token {TOKEN}",
    f"token\t{TOKEN}",
    f"token   {TOKEN}  ",
])
def test_the_header_is_read_as_jupyter_reads_it(server, value):
    assert request(server, "GET", "/api/sample", headers={"Authorization": value}, auth={})[0] == 200


@pytest.mark.parametrize("path", [
    "/?token=" + TOKEN,
    "/?token=" + TOKEN + "&view=training",
    "/?token=" + "".join(f"%{ord(c):02X}" for c in TOKEN),      # the same token, percent-encoded
])
def test_the_owners_url_sets_an_httponly_strict_cookie_for_this_port_and_drops_the_token(server, path):
    status, _, response = request(server, "GET", path, auth={})
    assert status == 303 and response.getheader("Location") == "/"
    set_cookie = response.getheader("Set-Cookie")
    name = f"glassnet-token-{urlparse(server).port}"
    assert set_cookie.startswith(f"{name}={TOKEN};") and "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    status, body, _ = request(server, "GET", "/", headers=cookie(server), auth={})
    assert status == 200 and b"<canvas" in body


@pytest.mark.parametrize("path", [
    "/?token=wrong-token-0123456789",
    "/?token=",
    "/?token=" + TOKEN + "&token=" + TOKEN,
    "/?token=" + TOKEN[:-1],
    "/?token=%00",
    "/static/app.js?token=" + TOKEN,                         # the token is taken in the printed URL only
    "/api/sample?token=" + TOKEN,
])
def test_a_url_with_a_wrong_token_or_in_the_wrong_place_gets_403_and_no_cookie(server, path):
    status, _, response = request(server, "GET", path, auth={})
    assert status == 403 and response.getheader("Set-Cookie") is None


def test_requests_not_addressed_to_this_machine_are_refused_even_with_the_token(server):
    port = urlparse(server).port
    for host in (b"Host: evil.example\r\n", b"Host: 127.0.0.1\r\n", f"Host: 127.0.0.1:{port + 1}\r\n".encode(), b""):
        reply = raw_exchange(server, b"GET / HTTP/1.1\r\n" + host + AUTH_LINE.encode() + b"Connection: close\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 403") and b"addressed to" in reply, host


def test_the_token_is_never_in_an_answer(serve_live, tmp_path):
    url = serve_live(tmp_path, Controller())
    for method, path in (("GET", "/"), ("GET", "/api/live/state"), ("GET", "/api/live/record"),
                         ("GET", "/static/live.js"), ("GET", "/static/app.js")):
        status, answer, response = request(url, method, path)
        raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        assert status == 200 and TOKEN.encode() not in raw and TOKEN not in str(response.getheaders()), path


@pytest.mark.parametrize("headers, status", [
    ({"Origin": "URL"}, 200),                                    # the page: its cookie and its origin
    ({}, 403),                                                   # the cookie without the page's origin
    ({"Origin": "http://evil.example"}, 403),
    ({"Origin": "http://127.0.0.1:1"}, 403),                     # a page of another local server
    ({"Origin": "null"}, 403),
])
def test_a_control_sent_with_the_cookie_must_come_from_the_page(serve_live, tmp_path, headers, status):
    url = serve_live(tmp_path, Controller())
    headers = {key: value.replace("URL", url) for key, value in headers.items()}
    code, _, _ = request(url, "POST", "/api/live/control", {"action": "pause"}, cookie(url) | headers, auth={})
    assert code == status


@pytest.mark.parametrize("headers, status", [
    ({}, 200),                                                   # a script: the header is proof enough
    ({"Origin": "http://evil.example"}, 403),
])
def test_a_control_sent_with_the_header_may_come_from_a_script(serve_live, tmp_path, headers, status):
    url = serve_live(tmp_path, Controller())
    assert request(url, "POST", "/api/live/control", {"action": "pause"}, headers)[0] == status


@pytest.mark.parametrize("method, path, body, auth", [
    ("GET", "/", None, True),
    ("GET", "/static/live.js", None, True),
    ("GET", "/api/sample", None, True),
    ("POST", "/api/predict", b"{", True),
    ("GET", "/nope", None, True),
    ("DELETE", "/api/sample", None, True),
    ("GET", "/", None, False),
    ("GET", "/?token=" + TOKEN, None, False),
    ("POST", "/api/predict", b"x" * 8_000_000, True),
])
def test_every_answer_forbids_inline_script_framing_and_sniffing(server, method, path, body, auth):
    _, _, response = request(server, method, path, body, auth=AUTH if auth else {})
    assert response.getheader("Content-Security-Policy") == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert response.getheader("X-Frame-Options") == "DENY" and response.getheader("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize("data, status", [
    (b"GET / HTTP/1.1\r\nX-Huge: " + b"a" * 70_000 + b"\r\n\r\n", b"431"),
    (b"GET / HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 200 + b"\r\n", b"431"),
    (b"GET / HTTP/2.0\r\n\r\n", b"505"),
    (b"GET / HTTP/1.1 extra\r\n\r\n", b"400"),
])
def test_the_standard_librarys_own_errors_are_json_with_the_same_headers(server, data, status):
    reply = raw_exchange(server, data)
    assert reply.startswith(b"HTTP/1.1 " + status) and b"Content-Security-Policy: default-src 'none'" in reply
    assert reply.endswith(b"}") and b'"error"' in reply


@pytest.mark.parametrize("value", [
    "",
    "short",
    "has spaces in it 0123456789",
    "x" * 257,
    "tökentökentökentöken",
    "a/b?c#d&e=f0123456789",
])
def test_glassnet_token_must_look_like_a_token(value):
    with pytest.raises(TokenError, match="16 to 256 characters"):
        owner_token({TOKEN_ENV: value})


def test_glassnet_token_fixes_the_token_and_otherwise_each_server_makes_its_own():
    assert owner_token({TOKEN_ENV: TOKEN}) == TOKEN
    tokens = {owner_token({}) for _ in range(3)}
    assert len(tokens) == 3 and all(len(token) >= 43 for token in tokens)        # 256 random bits each


def test_a_bad_glassnet_token_stops_train_watch_before_it_makes_a_run_folder(tmp_path, monkeypatch, capsys):
    from glassnet.cli import main
    from tests.mnist_fixtures import write_mnist_folder

    data = write_mnist_folder(tmp_path / "data", n_train=100, n_test=20, gz=False)
    monkeypatch.setenv(TOKEN_ENV, "short")
    assert main(["train", "--watch", "--watch-port", "0", "--data-dir", str(data), "--out", str(tmp_path / "run"),
                 "--epochs", "1"]) == 1
    assert TOKEN_ENV in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
