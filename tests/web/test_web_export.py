"""`glassnet export MODEL --format web`: the page runs the network and the preprocessing in Chromium, with no
server, and gives the numbers the Python code gives."""

import io

import numpy as np
import pytest

from glassnet.checkpoint import load_model
from glassnet.cli import main
from glassnet.data.mnist import to_inputs
from glassnet.data.preprocess import preprocess_digit, to_unit_gray
from glassnet.demo import demo_model_path
from tests.conftest import REAL_DATA
from tests.mnist_fixtures import synthetic_digits
from tests.test_photos import phone_photo
from tests.web.chromium import draw_vertical_stroke, launch, needs_chromium

sync_api = pytest.importorskip("playwright.sync_api")
Image = pytest.importorskip("PIL.Image")
pytestmark = needs_chromium


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export") / "site"
    assert main(["export", "demo", "--format", "web", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def page(exported):
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((exported / "index.html").as_uri())             # opened from disk: no server at all
        page.wait_for_function("document.getElementById('status').textContent.includes('test accuracy')")
        assert errors == []
        yield page
        browser.close()


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


def test_drawing_on_the_exported_page_gives_an_answer(page):
    page.click("#clear")
    draw_vertical_stroke(page)
    assert page.inner_text("#answer") in [str(d) for d in range(10)]
    widths = page.eval_on_selector_all("#bars .bar > span", "s => s.map(e => parseFloat(e.style.width))")
    assert len(widths) == 10 and abs(sum(widths) - 100) < 0.5


def test_export_never_replaces_a_folder(exported, capsys):
    assert main(["export", "demo", "--format", "web", str(exported)]) == 1
    assert "already exists" in capsys.readouterr().err
