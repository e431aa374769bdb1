"""The live training view: `glassnet train --watch` and `glassnet serve RUN --live`, end to end.

Every wait is for a condition (a record written, a state reported), never for a length of time, so
the tests hold on a fast machine and a slow one.
"""

import json
import signal
import urllib.error
import urllib.request

import numpy as np
import pytest

from glassnet.diagnostics.lines import read_records
from glassnet.diagnostics.record import RECORD_NAME
from tests.helpers import wait_for
from tests.mnist_fixtures import write_mnist_folder
from tests.web.chromium import draw_vertical_stroke, launch, needs_chromium, wait_until
from tests.web.processes import DEADLINE, Process, base_of, stop_all, token_of

pytestmark = pytest.mark.slow                       # every test here starts glassnet processes


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_mnist_folder(tmp_path_factory.mktemp("live") / "data", n_train=2000, n_test=300, gz=False)


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test():
    yield
    stop_all()


def _get(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=DEADLINE) as response:
        return json.loads(response.read())


def _control(url: str, action: str, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url + "/api/live/control", json.dumps({"action": action}).encode(),
                                     {"Content-Type": "application/json"} | headers)
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _epochs(run) -> list[int]:
    return [r["epoch"] for r in read_records(run / RECORD_NAME) if r["kind"] == "epoch"]


TRAIN = ["--hidden", "64,32", "--batch-size", "50", "--watch-port", "0", "--quiet"]


def test_controls_need_the_owner_and_the_page_origin_and_stop_keeps_the_checkpoint(data_dir, tmp_path):
    run = tmp_path / "run"
    train = Process("train", "--data-dir", str(data_dir), "--out", str(run), "--epochs", "500", *TRAIN, "--watch")
    owner_url = train.owner_url("live view: ")
    url, token = base_of(owner_url), token_of(owner_url)
    wait_for(lambda: _epochs(run), timeout=DEADLINE)
    state = _get(url + "/api/live/state", token)
    assert state["controllable"] and token not in json.dumps(state)
    name = f"glassnet-token-{url.rsplit(':', 1)[1]}"
    header, cookie = {"Authorization": f"token {token}"}, {"Cookie": f"{name}={token}"}
    assert _control(url, "pause", {})[0] == 403                                       # not the owner
    assert _control(url, "pause", {"Authorization": "token " + "x" * 32})[0] == 403   # a wrong token
    assert _control(url, "pause", {"Cookie": f"{name}=", "Origin": url})[0] == 403    # an empty cookie
    assert _control(url, "pause", cookie)[0] == 403                                   # the cookie, not from the page
    assert _control(url, "pause", cookie | {"Origin": "http://evil.example"})[0] == 403   # from another site
    assert _control(url, "pause", header | {"Origin": "http://evil.example"})[0] == 403
    assert _control(url, "explode", header)[0] == 400
    status, paused = _control(url, "pause", cookie | {"Origin": url})                  # the page's own request
    assert status == 200 and paused["paused"]
    step = wait_for(lambda: _get(url + "/api/live/state", token)["paused_at_step"], timeout=DEADLINE)
    size = (run / RECORD_NAME).stat().st_size
    assert _get(url + "/api/live/state", token)["paused_at_step"] == step
    assert (run / RECORD_NAME).stat().st_size == size
    assert _control(url, "stop", header)[0] == 200                                    # a script's request
    assert train.popen.wait(timeout=DEADLINE) == 0
    out = train.finish()
    assert f"stopped from the live view after step {step}" in out and f"--resume {run}" in out
    assert train.popen.returncode == 0 and (run / "model.npz").exists()
    end = read_records(run / RECORD_NAME)[-1]
    reason = f"stopped from the live view after step {step}"
    assert (end["kind"], end["finished"], end["reason"]) == ("end", False, reason)


def test_the_record_survives_kill_9_and_resume_continues_it(data_dir, tmp_path):
    run = tmp_path / "run"
    train = Process("train", "--data-dir", str(data_dir), "--out", str(run), "--epochs", "6", *TRAIN, "--watch")
    train.owner_url("live view: ")
    wait_for(lambda: len(_epochs(run)) >= 2, timeout=DEADLINE)
    train.finish(sig=signal.SIGKILL)
    records = read_records(run / RECORD_NAME)
    assert records[0]["kind"] == "meta" and len(_epochs(run)) >= 2
    resumed = Process("train", "--data-dir", str(data_dir), "--resume", str(run), "--watch", "--watch-port", "0")
    resumed.wait_for_line("training finished")
    resumed.finish()
    lines = (run / RECORD_NAME).read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line) for line in lines[:-1])   # whole lines only
    assert _epochs(run) == [1, 2, 3, 4, 5, 6]                      # each epoch once, in order
    kinds = [json.loads(line)["kind"] for line in lines[:-1]]
    assert kinds.count("meta") == 1 and kinds[-1] == "end" and kinds.count("end") == 1


@needs_chromium
def test_watch_in_chromium_curves_pause_resume_draw_stop_and_replay(data_dir, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    run = tmp_path / "run"
    train = Process("train", "--data-dir", str(data_dir), "--out", str(run), "--epochs", "500", *TRAIN, "--watch")
    owner_url = train.owner_url("live view: ")
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(owner_url)
        assert page.url == base_of(owner_url) + "/#training"       # the token left the address bar
        for n in (1, 2, 3):                                       # the curves gain points, again and again
            wait_until(page, f"window.glassnetLive.epochs.length >= {n}")
        assert page.locator("#training-view").is_visible() and not page.locator("#draw-view").is_visible()
        page.click("#pause")
        wait_until(page, "window.glassnetLive.state.paused_at_step !== null")
        seen = page.evaluate("window.glassnetLive.polls")        # a whole poll after the one that saw the pause
        wait_until(page, f"window.glassnetLive.polls >= {seen + 1}")
        paused = page.evaluate("[window.glassnetLive.state.paused_at_step, window.glassnetLive.offset, "
                               "window.glassnetLive.polls]")
        wait_until(page, f"window.glassnetLive.polls >= {paused[2] + 3}")
        assert page.evaluate("[window.glassnetLive.state.paused_at_step, window.glassnetLive.offset]") == paused[:2]
        assert "Paused at step" in page.inner_text("#run-status")
        page.screenshot(path=str(tmp_path / "live.png"), full_page=True)
        page.click("#resume")
        wait_until(page, f"window.glassnetLive.offset > {paused[1]}")
        # the draw pad answers with the newest checkpoint, with its saliency map
        page.click("#tab-draw")
        draw_vertical_stroke(page)
        wait_until(page, "window.glassnet.lastResponse && !window.glassnet.lastResponse.blank "
                         "&& !window.glassnet.pending && !window.glassnet.dirty")
        answer = page.evaluate("window.glassnet.lastResponse")
        assert abs(sum(answer["probabilities"]) - 1) < 1e-3 and np.shape(answer["saliency"]) == (28, 28)
        page.click("#tab-training")
        page.click("#stop")
        assert train.popen.wait(timeout=DEADLINE) == 0
        recorded = len(read_records(run / RECORD_NAME))
        # replay: serve the stopped run; the page receives the whole record
        serve = Process("serve", str(run), "--live", "--port", "0")
        page.goto(serve.owner_url("serving "))
        wait_until(page, f"window.glassnetLive.taken === {recorded}")
        assert page.locator("#pause").is_disabled()
        assert page.inner_text("#run-status").startswith("Stopped (stopped from the live view after step ")
        serve.finish()
        browser.close()
    assert (tmp_path / "live.png").stat().st_size > 50_000


@needs_chromium
def test_an_extended_run_is_shown_training_with_its_controls_on(data_dir, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    run = tmp_path / "run"
    first = Process("train", "--data-dir", str(data_dir), "--out", str(run), "--epochs", "1", *TRAIN, "--watch")
    first.wait_for_line("training finished")
    first.finish()
    assert (run / "metrics.json").exists() and read_records(run / RECORD_NAME)[-1]["finished"] is True
    extended = Process("train", "--data-dir", str(data_dir), "--resume", str(run), "--epochs", "500", "--watch",
                       "--watch-port", "0")
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page()
        page.goto(extended.owner_url("live view: "))
        wait_until(page, "window.glassnetLive.epochs.length >= 2")
        wait_until(page, "!document.getElementById('pause').disabled")
        assert not page.inner_text("#run-status").startswith("Finished")
        page.click("#stop")
        assert extended.popen.wait(timeout=DEADLINE) == 0
        browser.close()


def test_watch_records_updates_that_underflow_as_not_finite_and_trains_on(data_dir, tmp_path):
    run = tmp_path / "run"
    train = Process("train", "--data-dir", str(data_dir), "--out", str(run), "--epochs", "1", "--hidden", "16",
                    "--batch-size", "50", "--lr", "1e-50", "--watch", "--watch-port", "0", "--quiet")
    train.wait_for_line("training finished")
    out = train.finish()
    assert train.popen.returncode == 0 and "Traceback" not in out
    records = read_records(run / RECORD_NAME)
    assert any(r.get("nonfinite", {}).get("/update_ratios/1.beta") == "NaN" for r in records)
    assert records[-1]["kind"] == "end" and records[-1]["finished"] is True
