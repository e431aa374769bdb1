"""`glassnet export MODEL --format web`: the page runs the network and the preprocessing in Chromium, with no
server, and gives the numbers the Python code gives."""

import functools
import http.server
import io
import threading

import numpy as np
import pytest

from glassnet.checkpoint import load_model
from glassnet.cli import main
from glassnet.data.mnist import to_inputs
from glassnet.data.preprocess import preprocess_digit, to_unit_gray
from glassnet.demo import demo_model_path
from glassnet.export.web import write_web
from glassnet.nn.layers import ACTIVATIONS
from glassnet.nn.model import mlp
from tests.conftest import REAL_DATA
from tests.mnist_fixtures import mnist_style_digits, synthetic_digits
from tests.test_photos import phone_photo
from tests.web.chromium import draw_vertical_stroke, needs_chromium, wait_until

sync_api = pytest.importorskip("playwright.sync_api")
Image = pytest.importorskip("PIL.Image")
pytestmark = [needs_chromium, pytest.mark.slow]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export") / "site"
    assert main(["export", "demo", "--format", "web", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def page(browser, exported):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((exported / "index.html").as_uri())             # opened from disk: no server at all
    wait_until(page, "document.getElementById('status').textContent.includes('test accuracy')")
    assert errors == []
    yield page
    page.close()


def test_the_page_answers_like_predict_proba_on_50_test_digits(page):
    if REAL_DATA:
        from glassnet.data.mnist import load_mnist

        images = load_mnist(REAL_DATA).test_images[:50]
    else:
        images, _ = synthetic_digits(50, 2)
    x = to_inputs(images.reshape(50, 784))
    model, _ = load_model(demo_model_path())
    got = np.array(page.evaluate("(rows) => rows.map((x) => glassnetWeb.forward(x))", x.astype(float).tolist()))
    np.testing.assert_allclose(got, model.predict_proba(x), rtol=0, atol=1e-5)


def test_the_pages_preprocessing_is_pythons_on_photos(page):
    rng = np.random.default_rng(0)
    digits, _ = synthetic_digits(6, 4)
    for digit in digits:
        photo = np.asarray(Image.open(io.BytesIO(phone_photo(digit, rng))).convert("RGB"))
        gray = to_unit_gray(photo)
        got = np.array(page.evaluate(
            "([h, w, d]) => Array.from(glassnetWeb.preprocess(glassnetWeb.image(h, w, Float64Array.from(d))))",
            [gray.shape[0], gray.shape[1], gray.ravel().astype(float).tolist()]))
        want = preprocess_digit(photo).ravel()
        assert want.any()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_the_pages_preprocessing_is_pythons_and_leaves_mnist_digits_alone(page):
    digits = mnist_style_digits()
    if REAL_DATA:
        from glassnet.data.mnist import load_mnist

        digits = np.concatenate([digits, load_mnist(REAL_DATA).test_images[:20]])
    for digit in digits:
        got = np.array(page.evaluate(
            "(d) => Array.from(glassnetWeb.preprocess(glassnetWeb.image(28, 28, Float64Array.from(d))))",
            (digit / 255).ravel().tolist()))
        np.testing.assert_allclose(got, preprocess_digit(digit).ravel(), rtol=0, atol=1e-5)
        assert np.abs(got - digit.ravel() / 255).mean() < 0.01             # as good as unchanged


def test_drawing_on_the_exported_page_gives_an_answer(page):
    page.click("#clear")
    draw_vertical_stroke(page)
    assert page.inner_text("#answer") in [str(d) for d in range(10)]
    widths = page.eval_on_selector_all("#bars .bar > span", "s => s.map(e => parseFloat(e.style.width))")
    assert len(widths) == 10 and abs(sum(widths) - 100) < 0.5


def test_export_never_replaces_a_folder(exported, capsys):
    assert main(["export", "demo", "--format", "web", str(exported)]) == 1
    assert "already exists" in capsys.readouterr().err


@pytest.fixture(scope="module")
def static_host(tmp_path_factory):
    """A plain static web host (the standard library's), serving a folder the test writes into."""
    root = tmp_path_factory.mktemp("host")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("opened", ["from disk", "from a static host"])
def test_markup_in_the_note_shows_as_text_and_the_csp_stops_inline_script(browser, static_host, opened):
    root, host = static_host
    note = "<img src=x onerror=window.pwned=1>"
    folder = write_web(load_model(demo_model_path())[0], root / opened.replace(" ", "-"), note=note)
    assert "Content-Security-Policy" in (folder / "index.html").read_text()
    url = (folder / "index.html").as_uri() if opened == "from disk" else f"{host}/{folder.name}/index.html"
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    wait_until(page, "document.getElementById('status').textContent.includes('onerror')")
    assert note in page.inner_text("#status") and page.evaluate("document.querySelectorAll('img').length") == 0
    with page.expect_event("console", lambda message: "Content Security Policy" in message.text):
        page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=y onerror=window.pwned=2>')")
    assert page.evaluate("window.pwned") is None and errors == []
    page.close()


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_the_page_runs_every_activation_like_predict_proba(browser, tmp_path, activation):
    """The page's JavaScript interprets the inference program of a network of each activation; an activation
    added to glassnet and not to the page's OPS fails here (and is refused by the export before that)."""
    rng = np.random.default_rng(4)
    model = mlp([784, 32, 16, 10], rng=rng, dropout=0.2, activation=activation)
    for _ in range(3):                                        # running statistics off their start
        model.forward(rng.random((64, 784)).astype(np.float32))
    for p in model.params():
        p.value[...] += 0.1 * rng.standard_normal(p.value.shape).astype(np.float32)
    model.eval()
    write_web(model, tmp_path / "page")
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((tmp_path / "page" / "index.html").as_uri())
    wait_until(page, "window.glassnetWeb !== undefined")
    x = rng.random((20, 784))
    got = np.array(page.evaluate("(rows) => rows.map((x) => glassnetWeb.forward(x))", x.tolist()))
    page.close()
    assert errors == []
    np.testing.assert_allclose(got, model.predict_proba(x), rtol=0, atol=1e-5)
