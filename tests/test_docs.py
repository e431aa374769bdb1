"""The documentation builds strictly and offline, and the tutorial notebook runs top to bottom."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

from glassnet.learn.labs import LABS
from tests.conftest import REAL_DATA

ROOT = Path(__file__).parents[1]


@pytest.mark.slow
def test_mkdocs_build_is_strict_and_offline(site):
    batchnorm = (site / "derivations" / "batchnorm" / "index.html").read_text()
    assert "<math" in batchnorm and "arithmatex" not in batchnorm          # math became MathML at build time
    pages = [p.read_text() for p in site.rglob("*.html")]
    remote = [m for page in pages for m in re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', page)]
    assert remote == [], f"pages load remote assets: {sorted(set(remote))[:5]}"
    assert "glassnet serve" in (site / "cli" / "index.html").read_text()   # generated CLI reference
    assert "BatchNorm" in (site / "api" / "index.html").read_text()         # generated API reference
    assert (site / "assets" / "fonts" / "STIXMath-Regular.woff2").stat().st_size > 100_000


@pytest.mark.slow
def test_no_tex_is_left_in_any_page_and_the_search_index_holds_tex_not_flattened_math(site):
    for page in site.rglob("*.html"):
        text = re.sub(r"<(pre|code)\b.*?</\1>", "", page.read_text(), flags=re.S)   # code may quote TeX
        assert not re.search(r"\\\(|\\\[|\\frac|\\hat", text), f"raw TeX in {page.relative_to(site)}"
        assert "mathvariant=" not in text and "<menclose" not in text        # Chromium draws neither
    index = json.loads((site / "search" / "search_index.json").read_text())
    softmax = " ".join(doc["text"] for doc in index["docs"] if doc["location"].startswith("derivations/softmax"))
    assert "\\hat Y" in softmax


@pytest.mark.slow
def test_the_onramp_is_computed_at_build_time(site):
    page = (site / "onramp" / "index.html").read_text()
    assert "f = 20.25" in page and "finite difference +27.000000" in page     # the three-node graph, run
    assert "largest relative error" in page and "PASS" in page                # the tiny network, checked
    assert "235,530 parameters in all" in page and "<table>" in page          # the shape table, generated
    assert page.count("finite difference +27.000000") == 1                    # the run replaced the page's block
    assert "make pages" not in page and "assets/pages/" not in page


def _shows_its_output(page: str, name: str, images: int) -> None:
    """With MNIST the build ran the notebook and inlined its plots; without, the page shows the committed run."""
    assert page.count('class="notebook-output"') >= images
    if REAL_DATA:
        assert "Not executed in this build" not in page and "assets/pages/" not in page
    else:
        assert "last <code>make pages</code> run" in page and page.count(f'"../assets/pages/{name}-') >= images


START_HERE = ["gradient-descent.md", "onramp.md", "backprop-stepper.md", "one-idea-at-a-time.md"]


def test_start_here_is_the_first_section_in_reading_order_and_its_notebooks_are_stored_without_outputs():
    yaml = pytest.importorskip("yaml")
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    assert list(nav[0]) == ["Start here"]
    assert [page for entry in nav[0]["Start here"] for page in entry.values()] == START_HERE
    for path in DOCS.glob("*.ipynb"):        # the outputs live in the pages (make pages), not in the notebooks
        cells = json.loads(path.read_text())["cells"]
        assert all(not cell.get("outputs") and cell.get("execution_count") is None for cell in cells), path.name


def _accuracy(pattern: str, page: str) -> float:
    found = re.search(pattern + r" (\d+\.\d\d)%", page)
    assert found, f"not printed: {pattern}"
    return float(found[1])


@pytest.mark.slow
def test_the_gradient_descent_page_is_computed_at_build_time(site):
    if not REAL_DATA:
        pytest.skip("GLASSNET_DATA is not set; the build shows the notebook without running it")
    page = (site / "gradient-descent" / "index.html").read_text()
    assert "<td>0.6000</td>" in page and "<td>+0.6000</td>" in page          # the first step by hand, from code
    assert "largest difference: " in page and "least squares (lstsq)" in page  # the line, against lstsq
    text = re.sub(r"<[^>]+>", "", page)
    assert "gradient descent" in text.lower() and "SGD" in text
    assert page.count('class="notebook-output"') >= 4                          # the plots, inline
    assert 88 < _accuracy("test accuracy of softmax regression after 5 epochs of SGD:", text) < 95


@pytest.mark.slow
def test_the_ladder_is_computed_at_build_time_and_its_first_row_is_the_first_pages_model(site):
    if not REAL_DATA:
        pytest.skip("GLASSNET_DATA is not set; the build shows the notebook without running it")
    text = re.sub(r"<[^>]+>", "", (site / "one-idea-at-a-time" / "index.html").read_text())
    first_page = re.sub(r"<[^>]+>", "", (site / "gradient-descent" / "index.html").read_text())
    rows = [_accuracy(f"row {i}, [^:]+: test accuracy", text) for i in range(1, 9)]
    assert rows[0] == _accuracy("test accuracy of softmax regression after 5 epochs of SGD:", first_page)
    assert rows[-1] > rows[0] + 3                                              # the reference recipe beats row 1
    assert "steps to reach a thousandth of the start" in text and "Adam's RMS step" in text   # both problems, shown


@pytest.mark.slow
def test_the_labs_and_training_health_pages_show_their_output(site):
    labs = (site / "labs" / "index.html").read_text()
    measured = re.search(r"inference mode \(any batch size\): +accuracy \d", labs)     # printed, not quoted code
    assert measured
    _shows_its_output(labs, "labs", 5)
    folds = [m.start() for m in re.finditer('<details class="lab-result">', labs)]
    asked = [labs.index(lab.question[:40]) for lab in LABS.values()]
    assert len(folds) == len(LABS) and all(a < f for a, f in zip(asked, folds))       # each question, then its fold
    assert measured.start() > folds[0]                                                 # the answer inside the fold
    assert "FAIL in 0.weight, 0.bias, input" in labs and "Traceback" not in labs
    health = (site / "training-health" / "index.html").read_text()
    assert "update / weight at step 290" in health and "pixels whose weights never moved" in health
    _shows_its_output(health, "training-health", 3)


@pytest.mark.slow
def test_the_tutorial_page_shows_the_notebooks_output(site):
    page = (site / "tutorial" / "index.html").read_text()
    assert "PASS" in page and "epoch 5" in page                             # printed by the notebook's cells
    _shows_its_output(page, "tutorial", 3)


DOCS = ROOT / "docs"
SOURCE = ROOT / "src" / "glassnet"


def _code_lines(block: str) -> list[str]:
    """The lines of a quoted code block that must stand in the source (blank and comment-only lines aside),
    with runs of spaces folded: the alignment of a trailing comment may differ, its words may not."""
    return [" ".join(line.split()) for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("page", sorted(p.name for p in (DOCS / "derivations").glob("*.md")))
def test_code_quoted_in_a_derivation_stands_in_the_source(page):
    """Every line of every Python block on a derivation page is a line of glassnet's source, comment included."""
    source = {" ".join(line.split()) for path in SOURCE.rglob("*.py") for line in path.read_text().splitlines()}
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "derivations" / page).read_text(), flags=re.S)
    assert blocks
    missing = [line for block in blocks for line in _code_lines(block) if line not in source]
    assert not missing, f"{page} quotes lines that are not in src/glassnet: {missing}"


def test_the_sweep_page_quotes_the_example_spec_whole():
    """docs/sweeps.md shows examples/sweeps/lr-dropout-width.toml, which bench_sweep.py runs for its figures."""
    block = re.search(r"```toml\n(.*?)```", (DOCS / "sweeps.md").read_text(), flags=re.S)
    assert block and block[1] == (ROOT / "examples" / "sweeps" / "lr-dropout-width.toml").read_text()


def _readme_speed_rows(figures: dict) -> list[str]:
    """The README's speed tables as they must read: docs/figures/engines.json, formatted."""
    rows = []
    for row in figures["training"]:
        ratio = f"{row['ratio']:.2f}"
        rows.append(f"| {row['batch_size']} | {row['glassnet_s']:.2f} s | {row['torch_s']:.2f} s | "
                    f"{f'**{ratio}**' if row['batch_size'] == 128 else ratio} | {row['gemm_bound_s']:.2f} s | "
                    f"{row['glassnet_over_bound']:.2f} | {row['layers_ratio']:.2f} |")
    infer, memory = figures["inference"], figures["memory"]
    rows += [f"| one image, median latency | {infer['folded_one_image_us']:.0f} µs | "
             f"{infer['torch_one_image_us']:.0f} µs |",
             f"| batch of 128 | {infer['folded_batch128_per_s']:,.0f} images/s | "
             f"{infer['torch_batch128_per_s']:,.0f} images/s |",
             f"| all 10,000 test images | {1e3 * infer['folded_test_set_s']:.0f} ms | "
             f"{1e3 * infer['torch_test_set_s']:.0f} ms |",
             f"| peak RSS, training (2 epochs at batch 128) | **{memory['glassnet_peak_rss_mib']:.0f} MiB** | "
             f"{memory['torch_peak_rss_mib']:.0f} MiB |"]
    return rows


def test_the_readme_quotes_the_measured_speed_figures():
    """The README is not built by MkDocs, so its speed tables are typed: they must be engines.json's."""
    readme = (ROOT / "README.md").read_text().splitlines()
    figures = json.loads((DOCS / "figures" / "engines.json").read_text())
    missing = [row for row in _readme_speed_rows(figures) if row not in readme]
    assert not missing, f"README.md's speed tables differ from docs/figures/engines.json; they should read {missing}"


def test_the_readmes_limits_are_the_codes():
    """Every row of the README's Limits table states the bound the code enforces."""
    from glassnet import config, files
    from glassnet.checkpoint import MAX_DIRECTORY, MAX_EXPANSION, MAX_META
    from glassnet.diagnostics.lines import MAX_PIECE_BYTES, MAX_PIECE_LINES
    from glassnet.images import MAX_PIXELS
    from glassnet.learn.exercises import TIME_LIMIT
    from glassnet.web.connections import REQUEST_SECONDS
    from glassnet.web.handler import MAX_BODY

    bounds = {
        "model file": f"{files.MODEL.bytes:,} bytes",
        "model file's zip directory": f"{MAX_DIRECTORY:,} bytes",
        "model file's metadata": f"{MAX_META:,} bytes",
        "a member of a model file": f"{MAX_EXPANSION}× its stored size (+1 MiB)",
        "network size": f"{config.MAX_PARAMETERS:,} parameters",
        "config file or sweep spec": f"{files.TOML.bytes:,} bytes",
        "IDX file (unpacked)": f"{files.IDX.bytes:,} bytes",
        "MNIST download": f"{files.DOWNLOAD.bytes:,} bytes",
        "image file": f"{files.IMAGE.bytes:,} bytes",
        "image or `.npy` pixels": f"{MAX_PIXELS:,} pixels",
        "line of a diagnostics record": f"{files.RECORD_LINE.bytes:,} bytes",
        "record read per live-view answer": f"{MAX_PIECE_BYTES:,} bytes",
        "record lines per live-view answer": f"{MAX_PIECE_LINES} lines",
        "request body": f"{MAX_BODY:,} bytes",
        "a request arriving": f"{REQUEST_SECONDS:g} seconds",
        "marker, metrics or history file": f"{files.SMALL_JSON.bytes:,} bytes",
        "workbook exercise file": f"{files.WORKBOOK.bytes:,} bytes",
        "a workbook exercise's checks": f"{TIME_LIMIT:g} seconds",
    }
    if importlib.util.find_spec("optuna"):
        from glassnet.sweep.bounds import MAX_GRID_POINTS
        from glassnet.sweep.failures import MAX_FAILURES_IN_A_ROW
        from glassnet.sweep.storage import PATIENCE_SECONDS

        bounds |= {"failed sweep trials in a row": f"{MAX_FAILURES_IN_A_ROW} trials",
                   "waiting for a sweep's database": f"{PATIENCE_SECONDS} seconds",
                   "sweep grid": f"{MAX_GRID_POINTS:,} points"}
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Limits"):readme.index("## License")]
    rows = {cells[0]: cells[1] for line in table.splitlines() if line.startswith("| ") and "---" not in line
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}
    rows.pop("what")
    assert {k: rows.get(k) for k in bounds} == bounds
    if importlib.util.find_spec("optuna"):
        assert set(rows) == set(bounds), "a row of the table that no bound of the code backs"
