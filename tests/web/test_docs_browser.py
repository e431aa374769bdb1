"""The docs as a learner sees them: a derivation page rendered in headless Chromium at desktop and phone width."""

import functools
import http.server
import threading

import pytest

from tests.web.chromium import launch, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [needs_chromium, pytest.mark.slow]


@pytest.fixture(scope="module")
def docs_url(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.log_message = lambda *args: None
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize("width", [1280, 390])
def test_a_derivation_page_draws_its_math(docs_url, width):
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": width, "height": 900})
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(docs_url + "/derivations/batchnorm/")
        page.wait_for_load_state("networkidle")
        page.evaluate("document.fonts.ready")
        # the math font came from the site itself, and the page uses it
        assert page.evaluate("[...document.fonts].some(f => f.family === 'STIX Math' && f.status === 'loaded')")
        assert any(url.startswith(docs_url) and url.endswith("STIXMath-Regular.woff2") for url in requests)
        assert all(url.startswith(docs_url) or url.startswith("data:") for url in requests)
        # the boxed result has a box
        border = page.evaluate("getComputedStyle(document.querySelector('math .boxed')).borderTopWidth")
        assert float(border.removesuffix("px")) >= 1
        # a subscript sits below the baseline: x_n is not drawn as "xn"
        drop = page.evaluate("""() => { const s = document.querySelector('math msub');
            const [base, sub] = [s.children[0].getBoundingClientRect(), s.children[1].getBoundingClientRect()];
            return sub.bottom - base.bottom; }""")
        assert drop > 1
        # no TeX is visible anywhere, table of contents included
        text = page.evaluate("document.body.innerText")
        assert "\\(" not in text and "\\frac" not in text and "\\hat" not in text
        toc = page.evaluate("[...document.querySelectorAll('nav.md-nav--secondary')].map(n => n.innerHTML).join('')")
        assert "\\(" not in toc
        browser.close()
