"""The pages in Chromium against a run folder written by someone else: markup stays text, nothing runs, wrong
types show what they can, "finished" comes from the record, and only the owner gets in.

Every payload would set ``window.pwned`` if it ran; an ``<img>`` in the document would mean a string
was parsed as markup, whether or not the CSP then stopped its handler.
"""

import json

import pytest

from glassnet.diagnostics.record import RECORD_NAME, Controller
from tests.web.chromium import needs_chromium, wait_until
from tests.web.client import TOKEN

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [needs_chromium, pytest.mark.slow]


def payload(n: int) -> str:
    return f"<img src=x onerror=window.pwned={n}>"


def write_record(run, *records) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / RECORD_NAME).write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in records))


META = {"kind": "meta", "epoch": 0, "layers": ["Linear", "BatchNorm", "ReLU", "Linear"],
        "params": ["0.weight", "1.gamma", "1.beta", "3.weight"], "probe_labels": [0, 1, 2, 3]}
STEP = {"kind": "step", "epoch": 1, "step": 20, "loss": 0.5, "accuracy": 0.8, "loss_smooth": 0.6,
        "accuracy_smooth": 0.7, "lr": 1e-3, "grad_norms": {"0.weight": 0.1, "3.weight": 0.2},
        "update_ratios": {"0.weight": 1e-3, "1.beta": None}, "nonfinite": {"/update_ratios/1.beta": "NaN"},
        "activations": [{"layer": "2 ReLU", "counts": [1, 2, 3], "edges": [0, 1], "mean": 0.1, "std": 0.2,
                         "dead": 0.25, "not_finite": 0}], "batchnorm": {"1": [0.9, 1.1, -0.1, 0.1]}}
EPOCH = {"kind": "epoch", "epoch": 1, "step": 40, "train_loss": 0.4, "train_accuracy": 0.9, "eval_loss": 0.5,
         "eval_accuracy": 0.85, "lr": 1e-3, "seconds": 1.0, "confusion": [[5, 1], [2, 4]],
         "mistakes": [{"label": 1, "predicted": 0, "confidence": 0.6, "pixels": [0] * 784}],
         "pca": [[0, 0], [1, 1], [2, 0], [0, 2]], "mosaic": {"units": 1, "scale": 1.0, "values": [1] * 784}}


@pytest.fixture
def open_page(browser):
    """Open ``url`` in a fresh page; the errors thrown in it are collected in ``page.errors``."""
    pages = []

    def open_(url):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.goto(url)
        pages.append(page)
        return page

    yield open_
    for page in pages:
        page.close()


def owner_url(url, view="#training"):
    return f"{url}/?token={TOKEN}{view}"


def settled(page, records: int) -> None:
    """The page has taken ``records`` records and drawn them, and polled once more since."""
    wait_until(page, f"window.glassnetLive.taken === {records} && window.glassnetLive.polls >= 1")
    polls = page.evaluate("window.glassnetLive.polls")
    wait_until(page, f"window.glassnetLive.polls > {polls}")


def test_markup_in_every_string_of_a_record_and_in_the_run_name_is_shown_as_text(serve_live, tmp_path, open_page):
    run = tmp_path / payload(1)                              # a folder name is a string from someone else too
    name = payload(2)
    write_record(run, META | {"params": [name, "0.weight"], "layers": [payload(3)]},
                 STEP | {"grad_norms": {name: 0.1}, "update_ratios": {name: 1e-3},
                         "activations": [STEP["activations"][0] | {"layer": payload(4)}],
                         "batchnorm": {payload(5): [0.9, 1.1, -0.1, 0.1]},
                         "nonfinite": {payload(6): payload(7)}},
                 EPOCH | {"mistakes": [EPOCH["mistakes"][0] | {"label": payload(8)}]},
                 {"kind": "end", "epoch": 1, "step": 40, "finished": False, "reason": payload(9)})
    page = open_page(owner_url(serve_live(run)))
    settled(page, 4)
    assert page.evaluate("document.querySelectorAll('img').length") == 0      # nothing became markup
    assert page.evaluate("window.pwned") is None and page.errors == []
    assert page.text_content("#run-name") == payload(1)
    assert payload(5) in page.inner_text("#bn-ranges")
    assert payload(4) in page.inner_text("#histograms")
    assert payload(6) in page.inner_text("#run-notes") and payload(7) in page.inner_text("#run-notes")
    assert page.inner_text("#run-status").startswith(f"Stopped ({payload(9)})")


WRONG_TYPES = [
    {"kind": "meta", "params": "0.weight", "probe_labels": {"0": 1}, "layers": 7},
    {"kind": "tick", "step": "10", "loss": "0.5", "accuracy": [1], "lr": {"a": 1}},
    {"kind": "tick", "step": 30, "loss": 0.5, "loss_smooth": 0.5, "accuracy_smooth": 0.5, "lr": 1e-3},   # good
    {"kind": "step", "step": 20, "grad_norms": [1, 2], "update_ratios": "x", "activations": [1, "a", None,
     {"layer": 5, "counts": "x", "mean": "m", "dead": "d"}], "batchnorm": {"0": "abc", "1": [1, "x"]}},
    {"kind": "step"},
    {"kind": "step", "step": 40, "activations": {"layer": "x"}, "batchnorm": [1, 2], "nonfinite": ["/x"]},
    {"kind": "epoch", "epoch": "1", "step": None, "confusion": "x", "mistakes": [{"pixels": "x"}, 3],
     "pca": [[1], "a", None, [1, 2, 3]], "mosaic": {"units": 10**9, "values": [1, 2]}},
    {"kind": "epoch"},
    {"kind": "epoch", "epoch": 2, "step": 80, "confusion": [[1] * 200] * 200, "mistakes": "x",
     "pca": [[i, i] for i in range(20_000)], "mosaic": {"units": -1, "values": "x"}},
    {"kind": "step", "step": 60, "activations": [{"layer": "1 ReLU", "counts": list(range(200_000))}],
     "grad_norms": {f"t{i}": i for i in range(5_000)}},
    {"kind": "end", "finished": "yes", "reason": ["x"]},
    {"kind": ["tick"]},
]


def test_a_record_with_wrong_types_everywhere_shows_what_it_can_and_throws_nothing(serve_live, tmp_path,
                                                                                    open_page):
    write_record(tmp_path / "run", *WRONG_TYPES)
    page = open_page(owner_url(serve_live(tmp_path / "run")))
    settled(page, len(WRONG_TYPES) - 1)                        # the line whose kind is a list is not a record
    assert page.errors == [] and not page.inner_text("#status").startswith("Live view:")
    assert page.evaluate("window.glassnetLive.ticks.filter(t => t.loss_smooth !== null).length") == 1
    assert page.inner_text("#run-status").startswith("Stopped (no reason recorded)")   # "yes" is not true


@pytest.mark.parametrize("end, others, finished", [
    ({"kind": "end", "epoch": 1, "step": 40, "finished": True, "reason": "training finished"}, {}, True),
    (None, {"metrics.json": "{}"}, False),                    # a stale metrics.json is not the run's word
])
def test_finished_is_what_the_record_says(serve_live, tmp_path, open_page, end, others, finished):
    run = tmp_path / "run"
    write_record(run, META, STEP, EPOCH, *([end] if end else []))
    for name, text in others.items():
        (run / name).write_text(text)
    page = open_page(owner_url(serve_live(run, Controller())))
    settled(page, 3 + bool(end))
    assert page.inner_text("#run-status").startswith("Finished") == finished
    assert page.locator("#pause").is_disabled() == finished


def test_statistics_that_are_not_finite_are_named_under_the_title(serve_live, tmp_path, open_page):
    write_record(tmp_path / "run", META, STEP, STEP | {"step": 40})
    page = open_page(owner_url(serve_live(tmp_path / "run")))
    settled(page, 3)
    assert "/update_ratios/1.beta (NaN, step 20 and 1 more)" in page.inner_text("#run-notes")


def test_lines_skipped_by_the_server_are_counted_on_the_page(serve_live, tmp_path, open_page):
    write_record(tmp_path / "run", META)
    with open(tmp_path / "run" / RECORD_NAME, "ab") as f:
        f.write(b'{"kind": "tick", "loss": NaN}\n{damaged\n')
    page = open_page(owner_url(serve_live(tmp_path / "run")))
    settled(page, 1)
    assert page.inner_text("#run-notes").startswith("2 line(s) of the record were skipped (2 damaged")


def test_the_csp_header_stops_script_that_an_injection_would_bring(server, open_page):
    page = open_page(f"{server}/?token={TOKEN}")
    wait_until(page, "window.glassnet.lastResponse !== null")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=window.pwned=1>')")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<script>window.pwned = 2</script>')")
    with page.expect_event("console", lambda message: "Content Security Policy" in message.text):
        page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=y onerror=window.pwned=3>')")
    assert page.evaluate("window.pwned") is None


def test_only_the_owner_gets_in_and_the_cookie_is_for_this_server_only(server, serve_live, tmp_path, open_page):
    refused = open_page(server + "/")
    assert "403 Forbidden" in refused.inner_text("body") and "printed in the terminal" in refused.inner_text("body")
    page = open_page(f"{server}/?token={TOKEN}")
    assert page.url == server + "/"                            # the token left the address bar
    wait_until(page, "window.glassnet.lastResponse !== null")
    assert TOKEN not in page.evaluate("document.cookie")       # HttpOnly: no script reads it
    other = serve_live(tmp_path)                               # another server on this host, same token
    page.goto(other + "/")                                     # the browser sends it the first server's cookie
    assert "403 Forbidden" in page.inner_text("body")


def test_a_record_of_many_lines_keeps_a_bounded_curve(serve_live, tmp_path, open_page):
    ticks = [{"kind": "tick", "epoch": 1, "step": step, "loss_smooth": 1 / step} for step in range(1, 50_001)]
    write_record(tmp_path / "run", META, *ticks)
    page = open_page(owner_url(serve_live(tmp_path / "run")))
    settled(page, 1 + len(ticks))
    kept = page.evaluate("window.glassnetLive.ticks.map(t => t.step)")
    assert 10_000 <= len(kept) <= 20_000 and kept[-1] == 50_000 and kept == sorted(kept)
    assert page.errors == []
