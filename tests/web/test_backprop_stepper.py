"""The backward-stepping page of the built docs in headless Chromium: each gradient it shows, step by step, is the
one ``check_model`` compares with finite differences (parameters and input) or the one a layer's own backward
pass returns (the layers' outputs), to the four decimals it shows."""

import functools
import http.server
import re
import threading

import numpy as np
import pytest

from glassnet.learn.tiny import tiny_network
from glassnet.nn.gradcheck import check_model, numerical_gradient
from glassnet.nn.losses import softmax_cross_entropy
from tests.web.chromium import launch, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [needs_chromium, pytest.mark.slow]

# from the loss back to the input: each node after every node computed from it
WALK = ["loss", "layer 3", "3.bias", "3.weight", "layer 2", "layer 1", "1.beta", "1.gamma", "layer 0", "0.weight", "x"]
SHOWN = 0.5e-4 + 1e-8          # four decimals shown, and the finite differences' own error (about 1e-9 here)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def stepper_url(site):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/backprop-stepper/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def expected():
    """Each node's value and gradient, computed here without glassnet.learn.graph: the parameters' and the input's
    gradients by the centred differences of ``check_model`` (which must pass), the layers' by their backward."""
    model, x, labels = tiny_network()
    assert check_model(model, x, labels, rng=np.random.default_rng(0)).passed()

    def loss():
        return softmax_cross_entropy(model.forward(x), labels)[0]

    grads = {name: numerical_gradient(loss, p.value, np.arange(p.size)) for name, p in model.named_params().items()}
    grads["x"] = numerical_gradient(loss, x, np.arange(x.size))
    values = {name: p.value.ravel() for name, p in model.named_params().items()} | {"x": x.ravel()}
    out = x
    for i, layer in enumerate(model.layers):
        out = layer.forward(out)
        values[f"layer {i}"] = out.ravel()
    values["loss"], grad = softmax_cross_entropy(out, labels)
    grads["loss"] = 1.0
    for i, layer in reversed(list(enumerate(model.layers))):
        grads[f"layer {i}"] = grad.ravel()
        grad = layer.backward(grad)
    return {name: np.atleast_1d(v) for name, v in values.items()}, {name: np.atleast_1d(g) for name, g in grads.items()}


SHOWN_NUMBERS = """() => Object.fromEntries([...document.querySelectorAll('#backprop-stepper g.node')].map(g =>
    [g.dataset.node, {value: [...g.querySelectorAll('text.value')].map(t => t.textContent),
                      grad: [...g.querySelectorAll('text.grad')].map(t => t.textContent)}]))"""
CURRENT = "() => document.querySelector('#backprop-stepper g.node.current')?.dataset.node ?? null"


def _numbers(texts):
    return np.array([float(t) for t in texts])


@pytest.mark.parametrize("width", [1280, 390])
def test_stepping_back_through_the_tiny_network_shows_checked_gradients(stepper_url, expected, width):
    values, grads = expected
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": width, "height": 900})
        requests, errors = [], []
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(stepper_url)
        page.wait_for_selector("#backprop-stepper svg g.node")
        shown = page.evaluate(SHOWN_NUMBERS)
        assert page.evaluate(CURRENT) is None and all(not any(node["grad"]) for node in shown.values())
        for name, value in values.items():                     # the forward values are there from the start
            np.testing.assert_allclose(_numbers(shown[name]["value"]), value, rtol=0, atol=0.5e-4 + 1e-12)
        next_button, back_button = page.get_by_role("button", name="Next"), page.get_by_role("button", name="Step back")
        for step, name in enumerate(WALK, start=1):
            next_button.click()
            assert page.evaluate(CURRENT) == name
            shown = page.evaluate(SHOWN_NUMBERS)
            for reached in WALK[:step]:
                np.testing.assert_allclose(_numbers(shown[reached]["grad"]), grads[reached], rtol=0, atol=SHOWN,
                                           err_msg=f"the gradient shown at {reached!r}, step {step}")
            for later in WALK[step:]:
                assert not any(shown[later]["grad"]), f"{later!r} shows a gradient at step {step}"
            assert page.locator(".stepper-status").text_content().startswith(f"Step {step} of {len(WALK)}")
        assert next_button.is_disabled()
        back_button.click()                                    # back: the input's gradient is gone again
        assert page.evaluate(CURRENT) == WALK[-2] and not any(page.evaluate(SHOWN_NUMBERS)["x"]["grad"])
        page.locator(".stepper-graph").press("ArrowRight")     # and the keyboard steps forward
        assert page.evaluate(CURRENT) == "x" and all(page.evaluate(SHOWN_NUMBERS)["x"]["grad"])

        # every text at least 11 px as drawn (an SVG scaled down to fit would shrink its 12 px text), and the
        # page itself never wider than the screen: the graph's frame scrolls instead
        smallest = page.evaluate("""() => Math.min(
            ...[...document.querySelectorAll('#backprop-stepper text')].map(t =>
                parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a),
            ...[...document.querySelectorAll('#backprop-stepper button, #backprop-stepper .stepper-status')].map(e =>
                parseFloat(getComputedStyle(e).fontSize)))""")
        assert smallest >= 11
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert errors == [] and all(url.startswith(stepper_url.split("/backprop")[0]) for url in requests)
        browser.close()


def test_the_onramp_works_one_entry_of_each_vector_jacobian_product_by_hand(site):
    page = (site / "onramp" / "index.html").read_text()
    for entry, matrix_form in [(r"Σₙ X\[n,0\] G\[n,1\]", r"\(Xᵀ G\)\[0,1\]"),
                               (r"Σⱼ G\[2,j\] W\[0,j\]", r"\(G Wᵀ\)\[2,0\]")]:      # as the page prints them
        by_hand = re.search(rf"= (-?\d\.\d{{8}})   {entry}", page)
        as_matrix = re.search(rf"{matrix_form} = (-?\d\.\d{{8}})   the matrix form", page)
        assert by_hand and as_matrix and by_hand[1] == as_matrix[1]
