"""The documentation builds strictly and offline, and the tutorial notebook runs top to bottom."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_mkdocs_build_is_strict_and_offline(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("latex2mathml")
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    batchnorm = (site / "derivations" / "batchnorm" / "index.html").read_text()
    assert "<math" in batchnorm and "arithmatex" not in batchnorm          # math became MathML at build time
    pages = [p.read_text() for p in site.rglob("*.html")]
    remote = [m for page in pages for m in re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', page)]
    assert remote == [], f"pages load remote assets: {sorted(set(remote))[:5]}"
    assert "glassnet serve" in (site / "cli" / "index.html").read_text()   # generated CLI reference
    assert "BatchNorm" in (site / "api" / "index.html").read_text()         # generated API reference


@pytest.mark.slow
def test_tutorial_notebook_runs(mnist_dir, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("GLASSNET_DATA", str(mnist_dir))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(ROOT / "docs" / "tutorial.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                      for o in cell.outputs)
    assert "PASS" in outputs and "epoch 5" in outputs


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
