"""The live training view: `glassnet train --watch` and `glassnet serve RUN --live`, end to end.

Every wait is for a condition (a record written, a state reported), never for a length of time, so
the tests hold on a fast machine and a slow one.
"""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from glassnet.diagnostics.record import RECORD_NAME, read_records
from tests.helpers import wait_for
from tests.mnist_fixtures import write_mnist_folder
from tests.web.chromium import draw_vertical_stroke, launch, needs_chromium


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_mnist_folder(tmp_path_factory.mktemp("live") / "data", n_train=2000, n_test=300, gz=False)


STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test():
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


class Process:
    """A glassnet command in a child process; a thread collects its output, line by line."""

    def __init__(self, *args: str) -> None:
        self.popen = subprocess.Popen([sys.executable, "-u", "-m", "glassnet", *args], stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, env=os.environ | {"GLASSNET_DATA": ""})
        STARTED.append(self.popen)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.popen.stdout], daemon=True).start()

    def wait_for_line(self, start: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if line.startswith(start):
                return line.strip()
        raise AssertionError(f"no line starting {start!r}; output:\n{''.join(self.seen)}")

    def url(self) -> str:
        return self.wait_for_line("live view: ").removeprefix("live view: ").removesuffix("/#training")

    def finish(self, sig: int = signal.SIGINT) -> str:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        self.popen.wait(timeout=60)
        time.sleep(0)                                      # let the reader thread drain the pipe
        while True:
            try:
                self.seen.append(self.lines.get(timeout=2))
            except queue.Empty:
                return "".join(self.seen)


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _control(url: str, action: str, token: str | None, origin: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"} | ({"X-Glassnet-Token": token} if token else {}) | \
        ({"Origin": origin} if origin else {})
    request = urllib.request.Request(url + "/api/live/control", json.dumps({"action": action}).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _epochs(run) -> list[int]:
    return [r["epoch"] for r in read_records(run / RECORD_NAME)[0] if r["kind"] == "epoch"]


TRAIN = ["--hidden", "64,32", "--batch-size", "50", "--watch-port", "0", "--quiet"]


@pytest.mark.slow
def test_controls_need_the_token_and_the_page_origin_and_stop_keeps_the_checkpoint(data_dir, tmp_path):
    run = tmp_path / "run"
    train = Process("train", "--data-dir", str(data_dir), "--out", str(run), "--epochs", "500", *TRAIN, "--watch")
    url = train.url()
    wait_for(lambda: _epochs(run))
    state = _get(url + "/api/live/state")
    assert state["controllable"] and not state["finished"] and len(state["token"]) > 20
    origin = url                                                   # what the page itself sends
    assert _control(url, "pause", None, origin)[0] == 403         # no token
    assert _control(url, "pause", "x" * 32, origin)[0] == 403     # a wrong one
    assert _control(url, "pause", state["token"], "http://evil.example")[0] == 403   # another site
    assert _control(url, "explode", state["token"], origin)[0] == 400
    status, paused = _control(url, "pause", state["token"], origin)
    assert status == 200 and paused["paused"]
    step = wait_for(lambda: _get(url + "/api/live/state")["paused_at_step"])
    size = (run / RECORD_NAME).stat().st_size
    assert _get(url + "/api/live/state")["paused_at_step"] == step and (run / RECORD_NAME).stat().st_size == size
    assert _control(url, "stop", state["token"], origin)[0] == 200
    assert train.popen.wait(timeout=60) == 0
    out = train.finish()
    assert f"stopped from the live view after step {step}" in out and f"--resume {run}" in out
    assert train.popen.returncode == 0 and (run / "model.npz").exists()


@pytest.mark.slow
def test_the_record_survives_kill_9_and_resume_continues_it(data_dir, tmp_path):
    run = tmp_path / "run"
    train = Process("train", "--data-dir", str(data_dir), "--out", str(run), "--epochs", "6", *TRAIN, "--watch")
    train.url()
    wait_for(lambda: len(_epochs(run)) >= 2)
    train.finish(sig=signal.SIGKILL)
    records, _ = read_records(run / RECORD_NAME)                  # every complete line parses
    assert records[0]["kind"] == "meta" and len(_epochs(run)) >= 2
    resumed = Process("train", "--data-dir", str(data_dir), "--resume", str(run), "--watch", "--watch-port", "0")
    resumed.wait_for_line("training finished")
    resumed.finish()
    lines = (run / RECORD_NAME).read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line) for line in lines[:-1])   # whole lines only
    assert _epochs(run) == [1, 2, 3, 4, 5, 6]                      # each epoch once, in order
    assert sum(json.loads(line)["kind"] == "meta" for line in lines[:-1]) == 1


@pytest.mark.slow
@needs_chromium
def test_watch_in_chromium_curves_pause_resume_draw_stop_and_replay(data_dir, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    run = tmp_path / "run"
    train = Process("train", "--data-dir", str(data_dir), "--out", str(run), "--epochs", "500", *TRAIN, "--watch")
    url = train.url()
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "/#training")
        for n in (1, 2, 3):                                       # the curves gain points, again and again
            page.wait_for_function(f"window.glassnetLive.epochs.length >= {n}", timeout=120_000)
        assert page.locator("#training-view").is_visible() and not page.locator("#draw-view").is_visible()
        page.click("#pause")
        page.wait_for_function("window.glassnetLive.state.paused_at_step !== null", timeout=120_000)
        seen = page.evaluate("window.glassnetLive.polls")        # a whole poll after the one that saw the pause
        page.wait_for_function(f"window.glassnetLive.polls >= {seen + 1}", timeout=60_000)
        paused = page.evaluate("[window.glassnetLive.state.paused_at_step, window.glassnetLive.offset, "
                               "window.glassnetLive.polls]")
        page.wait_for_function(f"window.glassnetLive.polls >= {paused[2] + 3}", timeout=60_000)
        assert page.evaluate("[window.glassnetLive.state.paused_at_step, window.glassnetLive.offset]") == paused[:2]
        assert "Paused at step" in page.inner_text("#run-status")
        page.screenshot(path=str(tmp_path / "live.png"), full_page=True)
        page.click("#resume")
        page.wait_for_function(f"window.glassnetLive.offset > {paused[1]}", timeout=120_000)
        # the draw pad answers with the newest checkpoint, with its saliency map
        page.click("#tab-draw")
        draw_vertical_stroke(page)
        page.wait_for_function("window.glassnet.lastResponse && !window.glassnet.lastResponse.blank "
                               "&& !window.glassnet.pending && !window.glassnet.dirty", timeout=60_000)
        answer = page.evaluate("window.glassnet.lastResponse")
        assert abs(sum(answer["probabilities"]) - 1) < 1e-3 and np.shape(answer["saliency"]) == (28, 28)
        page.click("#tab-training")
        page.click("#stop")
        assert train.popen.wait(timeout=60) == 0
        recorded = len(read_records(run / RECORD_NAME)[0])
        # replay: serve the stopped run; the page receives the whole record
        serve = Process("serve", str(run), "--live", "--port", "0")
        replay_url = serve.wait_for_line("serving ").split(" on ")[1].split()[0].removesuffix("#training")
        page.goto(replay_url + "#training")
        page.wait_for_function(f"window.glassnetLive.records.length === {recorded}", timeout=60_000)
        assert page.locator("#pause").is_disabled()
        assert "only 'glassnet train --watch' can pause it" in page.inner_text("#run-status")
        serve.finish()
        browser.close()
    assert (tmp_path / "live.png").stat().st_size > 50_000
