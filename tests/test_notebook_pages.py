"""The notebook pages read in the repository as on the site: each holds its notebook, run, with its numbers and
figures (written by ``make pages``, docs/notebook_pages.py), and what it holds is what the notebook prints now."""

import base64
import importlib.util
import re
import struct
import zlib
from pathlib import Path

import pytest

from tests.conftest import REAL_DATA

nbformat = pytest.importorskip("nbformat")

DOCS = Path(__file__).parents[1] / "docs"
_spec = importlib.util.spec_from_file_location("notebook_pages", DOCS / "notebook_pages.py")
assert _spec is not None and _spec.loader is not None
pages = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pages)

PAGES = [str(page.relative_to(DOCS)) for page in pages.pages()]


def _png(width: int, height: int, text: bytes = b"") -> bytes:
    """A grey PNG of that size, with a tEXt chunk when ``text`` is given (as matplotlib writes its version)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    pixels = chunk(b"IDAT", zlib.compress(b"".join(b"\0" + b"\x80" * width for _ in range(height))))
    return b"\x89PNG\r\n\x1a\n" + header + (chunk(b"tEXt", text) if text else b"") + pixels + chunk(b"IEND", b"")


def _png_size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_every_notebook_page_holds_its_block_and_every_image_it_links_exists():
    assert {"onramp.md", "labs.md", "training-health.md", "tutorial.md"} <= set(PAGES)
    linked = set()
    for page in PAGES:
        text = (DOCS / page).read_text()
        for name in pages.notebook_names(text):
            head = f"{pages.MARKER.format(name=name)}\n{pages.NOTE.format(name=name)}\n"
            assert head in text and pages.END.format(name=name) in text, \
                f"docs/{page} holds no generated block for {name}: run `make pages`"
        for link in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text):
            image = ((DOCS / page).parent / link).resolve()
            assert image.is_file(), f"docs/{page} links to {link}, which is missing: run `make pages`"
            linked.add(image)
    orphans = sorted(path.name for path in pages.ASSETS.iterdir() if path.resolve() not in linked)
    assert not orphans, f"docs/assets/pages/ holds images no page links to: {orphans}; run `make pages`"


def test_a_notebook_renders_as_markdown_that_reads_on_github_and_in_mkdocs():
    svg = ('<svg><metadata><dc:date>2026-01-01T00:00:00</dc:date></metadata><defs><path id="m8f0a1" d=""/>'
           '<clipPath id="p3c2b9e"><rect/></clipPath></defs><use xlink:href="#m8f0a1" clip-path="url(#p3c2b9e)"/>'
           "</svg>")
    table = ("<style scoped>th {}</style><table><thead><tr><th></th><th>lr</th></tr></thead>"
             "<tbody><tr><th>0</th><td>0.001</td></tr><tr><th>1</th><td>a | b</td></tr></tbody></table>")
    out = nbformat.v4
    notebook = out.new_notebook(cells=[
        out.new_markdown_cell("Take $u = a\\,b$; then\n\n$$f = v^2$$"),
        out.new_code_cell("print('```')", outputs=[out.new_output("stream", name="stdout", text="epoch 1\n"),
                                                   out.new_output("stream", name="stdout", text="epoch 2\n")]),
        out.new_code_cell("plot()", outputs=[
            out.new_output("display_data", data={"image/png": base64.b64encode(_png(3, 2, b"Software\0mpl")).decode()}),
            out.new_output("display_data", data={"image/svg+xml": svg}),
            out.new_output("execute_result", data={"text/html": table, "text/plain": "frame"}, execution_count=1)]),
    ])
    images = {}

    def keep(file, alt, data):
        images[file] = data
        return f"![{alt}](assets/pages/{file})"

    markdown = pages.render(notebook, "lab.ipynb", keep)
    assert markdown.split("\n\n") == [
        "Take $u = a\\,b$; then", "$$f = v^2$$",                         # math as the notebook wrote it
        "````python\nprint('```')\n````",                                 # a fence the code cannot close
        "```text\nepoch 1\nepoch 2\n```",                                 # one stream, however it was flushed
        "```python\nplot()\n```",
        "![figure 1 of lab.ipynb](assets/pages/lab-1.png)", "![figure 2 of lab.ipynb](assets/pages/lab-2.svg)",
        "|  | lr |\n|---|---|\n| 0 | 0.001 |\n| 1 | a \\| b |",
    ]
    assert images["lab-1.png"] == _png(3, 2)                             # the version string gone, pixels kept
    assert images["lab-2.svg"].decode() == ('<svg><defs><path id="g1" d=""/><clipPath id="g2"><rect/></clipPath>'
                                            '</defs><use xlink:href="#g1" clip-path="url(#g2)"/></svg>')


def test_without_mnist_the_site_shows_the_committed_output_and_says_where_it_comes_from(monkeypatch):
    monkeypatch.delenv("GLASSNET_DATA", raising=False)
    committed = (DOCS / "labs.md").read_text()
    shown = pages.site_markdown(committed, DOCS)
    assert shown.startswith("# Labs") and pages.NOT_RUN_COMMITTED in shown
    block = committed[committed.index(pages.NOTE.format(name="labs.ipynb")):]
    numbers = [line for line in block.splitlines() if "accuracy" in line and "%" in line]
    assert numbers and all(line in shown for line in numbers)
    assert "<!--" not in shown.split(pages.NOT_RUN_COMMITTED)[1]       # markers and the note to editors gone
    assert "![figure 1 of labs.ipynb](assets/pages/labs-1.png){ .notebook-output }" in shown   # styled as a fresh plot


def _first_difference(committed: str, fresh: str) -> str:
    for number, (old, new) in enumerate(zip(committed.splitlines(), fresh.splitlines()), 1):
        if old != new:
            return f"line {number} reads {old!r}; the notebook now prints {new!r}"
    return f"the page has {len(committed.splitlines())} lines; the notebook now gives {len(fresh.splitlines())}"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_the_committed_page_is_what_its_notebook_gives_now(page, notebook_cache, monkeypatch):
    """Every number of the repository view comes from a run: the page and its images are what ``make pages``
    writes today (the notebooks run once a session, shared with the site's build)."""
    if REAL_DATA:
        monkeypatch.setenv("GLASSNET_DATA", REAL_DATA)
    else:
        monkeypatch.delenv("GLASSNET_DATA", raising=False)
    path = DOCS / page
    unrunnable = [name for name in pages.notebook_names(path.read_text()) if not pages.runnable(DOCS / name)]
    if unrunnable:
        pytest.skip(f"GLASSNET_DATA is not set; docs/{page} shows {', '.join(unrunnable)}, which reads MNIST")
    monkeypatch.setenv(pages.CACHE, str(notebook_cache))
    fresh, images = pages.generated(path)
    committed = path.read_text()
    assert fresh == committed, \
        f"docs/{page} is out of date with its notebook: {_first_difference(committed, fresh)}; run `make pages`"
    for file, data in images.items():
        kept = (pages.ASSETS / file).read_bytes()
        if file.endswith(".png"):
            assert _png_size(kept) == _png_size(data), f"docs/assets/pages/{file} differs in size: run `make pages`"
        assert kept == data, f"docs/assets/pages/{file} differs from what the notebook draws now: run `make pages`"
