"""End to end in a real headless Chromium (system package) driven by Playwright: draw, watch, compare.

Skips when Playwright or /usr/bin/chromium is missing; CI installs both.
"""

import contextlib
import io
import json

import numpy as np
import pytest

from glassnet.cli import main
from tests.web.chromium import launch, needs_chromium, wait_until
from tests.web.client import TOKEN

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [needs_chromium, pytest.mark.slow]



@pytest.fixture(scope="module")
def page(server):
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page.goto(f"{server}/?token={TOKEN}")                      # the owner's URL
        wait_until(page, "window.glassnet && window.glassnet.lastResponse !== null")
        yield page
        browser.close()


def settled(page):
    """Every change has its answer: the page marks a change 'dirty' at once (in the event handler that
    made it) and stays 'pending' until the answer is shown, so no fixed wait is needed."""
    wait_until(page, "!window.glassnet.pending && !window.glassnet.dirty")


def draw_seven(page):
    box = page.locator("#pad").bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + 80, y0 + 60)
    page.mouse.down()
    for x, y in [(200, 60), (150, 150), (115, 235)]:
        page.mouse.move(x0 + x, y0 + y, steps=10)
    page.mouse.up()


def test_drawing_updates_everything_and_matches_glassnet_predict(page, model_file, tmp_path):
    page.click("#clear")
    settled(page)
    assert page.evaluate("window.glassnet.lastResponse.blank")
    draw_seven(page)
    settled(page)
    result = page.evaluate("window.glassnet.lastResponse")
    assert not result["blank"]
    # the page shows the answer, ten bars that add up, and activations of both hidden layers
    assert page.inner_text("#answer") == str(result["prediction"])
    widths = page.eval_on_selector_all("#bars .bar > span", "spans => spans.map(s => parseFloat(s.style.width))")
    assert len(widths) == 10 and abs(sum(widths) - 100) < 0.5
    assert page.locator("#layers canvas.activation").count() == 2
    assert page.locator("#units canvas").count() == 6
    seen = page.evaluate("""() => { const c = document.getElementById('seen');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s; }""")
    assert seen > 0                                        # the 28×28 view is painted
    page.screenshot(path=str(tmp_path / "draw-a-digit.png"), full_page=True)
    assert (tmp_path / "draw-a-digit.png").stat().st_size > 10_000

    # the exact pixels the page sent, through the command line, give the same answer
    pixels = np.array(page.evaluate("window.glassnet.lastRequest.image"), np.float32)
    np.save(tmp_path / "drawing.npy", pixels)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["predict", str(model_file), str(tmp_path / "drawing.npy"), "--json"]) == 0
    record = json.loads(buffer.getvalue())
    assert record["prediction"] == result["prediction"]
    np.testing.assert_allclose(record["probabilities"], result["probabilities"], atol=2e-6)


def test_random_test_digit_button_shows_its_label(page):
    page.click("#sample")
    wait_until(page, "document.getElementById('truth').textContent.includes('true label')")
    settled(page)
    assert not page.evaluate("window.glassnet.lastResponse.blank")
    assert "true label" in page.inner_text("#truth")
