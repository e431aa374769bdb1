"""`glassnet serve` as a user starts it: finds a model, prints its owner's address, serves, stops on Ctrl-C."""

import http.cookiejar
import json
import os
import urllib.error
import urllib.request

import pytest

from tests.web.processes import DEADLINE, Process, base_of, stop_all, token_of

pytestmark = pytest.mark.slow                       # every test here starts a glassnet process


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test():
    yield
    stop_all()


def start_serve(tmp_path, **env):
    """`glassnet serve` started in tmp_path as a user would, with no MNIST and an empty cache."""
    environment = {k: v for k, v in os.environ.items() if k not in ("GLASSNET_DATA", "GLASSNET_TOKEN")}
    return Process("serve", "--port", "0", "--data-dir", str(tmp_path / "no-data"), cwd=tmp_path,
                   env=environment | {"XDG_CACHE_HOME": str(tmp_path)} | env)


def test_serve_without_a_trained_model_serves_the_pretrained_one(tmp_path):
    process = start_serve(tmp_path)
    line = process.wait_for_line("serving ")
    assert "glassnet/demo/model.npz" in line
    url = next(word for word in line.split() if word.startswith("http://"))
    request = urllib.request.Request(base_of(url) + "/api/predict", json.dumps({"pixels": [0.0] * 784}).encode(),
                                     {"Content-Type": "application/json", "Authorization": f"token {token_of(url)}"})
    with urllib.request.urlopen(request, timeout=DEADLINE) as response:
        assert json.loads(response.read())["blank"] is True
    out = process.finish()
    assert "serving the pretrained demo model" in out and "test accuracy 98" in out and "glassnet train" in out


def test_serve_uses_the_newest_run_prints_its_owners_address_and_stops_cleanly(tmp_path, model_file):
    run = tmp_path / "runs" / "20260101-000000"
    run.mkdir(parents=True)
    (run / "model.npz").write_bytes(model_file.read_bytes())
    process = start_serve(tmp_path)
    line = process.wait_for_line("serving ")
    assert "runs/20260101-000000/model.npz" in line
    url = next(word for word in line.split() if word.startswith("http://"))
    assert url.startswith("http://127.0.0.1:") and len(token_of(url)) >= 40    # 256 random bits
    with pytest.raises(urllib.error.HTTPError) as refused:                      # the page too needs the token
        urllib.request.urlopen(base_of(url) + "/", timeout=DEADLINE)
    assert refused.value.code == 403 and b"printed in the terminal" in refused.value.read()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with browser.open(url, timeout=DEADLINE) as response:                       # the owner's URL: let in
        assert response.status == 200 and b"<canvas" in response.read()
        assert response.url == base_of(url) + "/"                               # and the token left the address
    out = process.finish()
    assert process.popen.returncode == 0
    assert "random test digit" in out and "Traceback" not in out


def test_glassnet_token_fixes_the_token_and_a_bad_one_is_refused_in_one_line(tmp_path):
    process = start_serve(tmp_path, GLASSNET_TOKEN="scripted-token-0123456789")
    assert token_of(process.owner_url("serving ")) == "scripted-token-0123456789"
    process.finish()
    refused = start_serve(tmp_path, GLASSNET_TOKEN="my secret!")
    out = refused.finish(sig=None)
    assert refused.popen.returncode == 1 and "GLASSNET_TOKEN must be 16 to 256 characters" in out
    assert "Traceback" not in out and "my secret!" not in out                 # a secret is not echoed
