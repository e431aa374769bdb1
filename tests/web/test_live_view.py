"""The live view as a student reads it, in Chromium, on the record of a real (short) `glassnet train --watch` run:
readable type and no overlapping text at 1280 and 390 px, one step range for every chart, one tensor or layer at
a time, the healthy band drawn, no stray line, and W − W₀ on both tabs.
"""

import numpy as np
import pytest

from glassnet.checkpoint import load_model
from glassnet.diagnostics.lines import read_records
from glassnet.diagnostics.record import RECORD_NAME
from glassnet.web.live import first_layer_start
from tests.mnist_fixtures import write_mnist_folder
from tests.web.chromium import draw_vertical_stroke, needs_chromium, wait_until
from tests.web.processes import Process, stop_all

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [needs_chromium, pytest.mark.slow]

CHARTS = ["learning", "lr", "updates", "grads", "dead", "spread", "batchnorm"]
SMALLEST_PX = 11

# Every piece of text the reader sees, as boxes: text nodes (by their line boxes), SVG text elements and selects
# (whose chosen option is their text), each with its font size and a short description for failure messages.
TEXT_BOXES = """() => {
  const boxes = [];
  const add = (element, rects, text) => {
    const size = parseFloat(getComputedStyle(element).fontSize);
    for (const r of rects) if (r.width > 0.5 && r.height > 0.5) boxes.push({ text: text.trim().slice(0, 40), size,
      left: r.left + scrollX, right: r.right + scrollX, top: r.top + scrollY, bottom: r.bottom + scrollY });
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode());) {
    const element = node.parentElement;
    if (!node.textContent.trim() || element.closest("select, script, style")) continue;
    if (element instanceof SVGElement) { add(element, [element.getBoundingClientRect()], node.textContent); continue; }
    const range = document.createRange();
    range.selectNodeContents(node);
    add(element, [...range.getClientRects()], node.textContent);
  }
  for (const select of document.querySelectorAll("select")) {
    add(select, [select.getBoundingClientRect()], select.selectedOptions[0]?.textContent || "(select)");
  }
  return boxes;
}"""

# Canvases that carry drawn text, and the size the text is drawn at in the canvas's own pixels.
CANVAS_TEXT_PX = {"#confusion": 12}


def overlaps(boxes, slack=0.5):
    """The pairs of texts whose boxes share more than ``slack`` px both across and down."""
    return [(a["text"], b["text"]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if min(a["right"], b["right"]) - max(a["left"], b["left"]) > slack
            and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > slack]


@pytest.fixture(scope="module")
def watched_run(tmp_path_factory):
    """A finished `glassnet train --watch` run on synthetic digits, whose live view stays up: (owner URL, run)."""
    folder = tmp_path_factory.mktemp("live-view")
    data = write_mnist_folder(folder / "data", n_train=2000, n_test=300, gz=False)
    run = folder / "run"
    train = Process("train", "--data-dir", str(data), "--out", str(run), "--epochs", "3", "--hidden", "64,32",
                    "--batch-size", "50", "--watch", "--watch-port", "0", "--quiet")
    url = train.owner_url("live view: ")
    train.wait_for_line("training finished")
    yield url, run
    train.finish()
    stop_all()


def open_view(browser, url, run, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(url)
    records = len(read_records(run / RECORD_NAME))
    wait_until(page, f"window.glassnetLive.taken === {records} && window.glassnetLive.end !== null")
    polls = page.evaluate("window.glassnetLive.polls")
    wait_until(page, f"window.glassnetLive.polls > {polls}")           # drawn, and polled once more since
    wait_until(page, "window.glassnet.lastResponse !== null && !window.glassnet.pending")
    return page


def assert_readable(page, width):
    boxes = page.evaluate(TEXT_BOXES)
    assert len(boxes) > 20
    small = [(b["text"], b["size"]) for b in boxes if b["size"] < SMALLEST_PX]
    assert not small, f"text under {SMALLEST_PX} px at {width} px: {small[:10]}"
    assert not overlaps(boxes), f"overlapping text at {width} px: {overlaps(boxes)[:10]}"
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    for selector, px in CANVAS_TEXT_PX.items():       # a canvas shown smaller than it is shrinks its text
        if page.locator(selector).is_visible():
            scale = page.evaluate(f"(() => {{ const c = document.querySelector('{selector}'); "
                                  "return c.getBoundingClientRect().width / c.width; })()")
            assert px * scale >= SMALLEST_PX, f"{selector} text is shown at {px * scale:.1f} px"


@pytest.mark.parametrize("width", [1280, 390])
def test_the_training_view_is_readable_and_every_chart_shares_one_step_range(browser, watched_run, width):
    url, run = watched_run
    page = open_view(browser, url, run, width)
    assert page.locator("#training-view").is_visible()
    for name in CHARTS:                                # the labels are text, not pixels of a canvas
        assert page.locator(f"#chart-{name} svg text.tick").count() >= 4, name
    assert_readable(page, width)
    domains = page.eval_on_selector_all(".chart svg", "charts => charts.map(c => [c.dataset.x0, c.dataset.x1])")
    newest = max(r["step"] for r in read_records(run / RECORD_NAME) if "step" in r)
    assert len(domains) == len(CHARTS) and set(map(tuple, domains)) == {("0", str(newest))}
    page.click("#tab-draw")
    assert page.locator("#draw-view").is_visible()
    assert_readable(page, width)
    assert page.errors == []
    page.close()


def test_the_draw_pads_answer_stays_on_its_own_tab(browser, watched_run):
    url, run = watched_run
    page = open_view(browser, url, run, 1280)                      # the pad has answered its blank drawing
    assert page.evaluate("window.glassnet.lastResponse.blank")
    assert "Predicted" not in page.inner_text("body") and page.inner_text("#status") == ""
    page.click("#tab-draw")
    assert "draw a digit" in page.inner_text("#draw-status")
    page.close()


def test_one_tensor_at_a_time_with_the_healthy_band_drawn(browser, watched_run):
    url, run = watched_run
    page = open_view(browser, url, run, 1280)
    for name in CHARTS[2:]:
        assert page.locator(f"#panel-{name} .healthy").inner_text().startswith("Healthy:")
    series = "(id) => [...document.querySelectorAll(`#${id} path.series`)].map(p => p.dataset.series)"
    assert page.evaluate(series, "chart-updates") == ["layer 0 Linear: weight"]
    band = page.eval_on_selector("#chart-updates rect.band", "r => [r.getBBox().y, r.getBBox().height]")
    ticks = dict(page.eval_on_selector_all("#chart-updates text.tick",       # label → the height it marks
                                           "ts => ts.map(t => [t.textContent, Number(t.getAttribute('y')) - 4])"))
    assert band[1] > 10 and band == pytest.approx([ticks["10⁻²"], ticks["10⁻⁴"] - ticks["10⁻²"]], abs=0.5)
    assert page.locator("#chart-updates line.reference").count() == 1
    options = page.eval_on_selector_all("#pick-grads option", "options => options.map(o => o.value)")
    assert "4.weight" in options and len(options) > 3
    page.select_option("#pick-grads", "4.weight")
    assert page.evaluate(series, "chart-grads") == ["layer 4 Linear: weight"]
    page.select_option("#pick-updates", "1.beta")                 # the 10⁻³ rule is for weight matrices only
    assert page.locator("#chart-updates rect.band").count() == 0
    page.close()


def test_both_tabs_show_what_training_added_w_minus_w0(browser, watched_run):
    url, run = watched_run
    page = open_view(browser, url, run, 1280)
    assert "W − W₀" in page.inner_text("#training-view")
    page.click("#tab-draw")
    draw_vertical_stroke(page)
    wait_until(page, "window.glassnet.lastResponse && !window.glassnet.lastResponse.blank "
                     "&& !window.glassnet.pending && !window.glassnet.dirty")
    answer = page.evaluate("window.glassnet.lastResponse")
    assert answer["unit_images"] == "W - W0" and "W − W₀" in page.inner_text("#units-title")
    assert "W₀" in page.inner_text("#units-note")
    model, meta = load_model(run / "model.npz")
    change = model.layers[0].weight.value - first_layer_start(model, meta)
    for unit in answer["top_units"]:
        np.testing.assert_allclose(np.ravel(unit["weights"]), change[:, unit["unit"]], atol=1e-4)
    page.close()
