"""The system Chromium for browser tests: where it is, the flags this machine needs, and a stroke on a pad."""

import shutil

import pytest

from tests.web.processes import DEADLINE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# headless, and without the background connections that this machine's closed network refuses
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs the system Chromium (apt-get install chromium)")


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)


def draw_vertical_stroke(page, selector: str = "#pad") -> None:
    """A "1": one stroke down the middle of the drawing pad."""
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 240, steps=10)
    page.mouse.up()


def wait_until(page, condition: str) -> None:
    """Wait for a JavaScript condition to hold, as long as only a hang takes.

    Passed as a function: Playwright polls a bare expression with eval, which the pages' CSP refuses.
    """
    page.wait_for_function(f"() => ({condition})", timeout=DEADLINE * 1000)
