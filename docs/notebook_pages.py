"""The notebook pages: a docs page holding ``<!-- glassnet-notebook: NAME.ipynb -->`` shows that notebook, run.

One rendering serves two readers. Run as a script (``make pages``, or ``python docs/notebook_pages.py [PAGE …]``
for some pages only, as paths from the repository root), this executes every notebook a page names and writes
the result into the page, after its marker and up to ``<!-- end of generated notebook: NAME.ipynb -->``: the
Markdown cells as they are (GitHub and the site both draw their $…$ math), the code in ``python`` fences,
printed output in ``text`` fences, tables as Markdown, and plots as files in docs/assets/pages/ (NAME-1.png,
NAME-2.png, … in the order the notebook draws them, also those a Markdown output holds, such as a lab's folded
answer; each shown by an ``<img>`` element, which GitHub and the site both draw, inside a fold too), so that
the page opened in the repository shows the text, the numbers and the figures. The site build (docs/hooks.py)
renders the same way from a fresh execution and puts that in place of the block, with the plots inlined, so the
site never shows stale numbers.

A notebook that reads MNIST (all but those whose metadata says ``"glassnet": {"needs_mnist": false}``) runs only
when ``GLASSNET_DATA`` names the data. Without it the site shows the committed block, from the last ``make
pages`` run, and says so; ``make pages`` refuses to run.

Outputs are made the same on every run: the kernel's string hashing is seeded, and the parts of an image file
that carry no pixels (PNG text chunks, SVG metadata and matplotlib's random SVG ids) are dropped or renumbered.
The same on every run of one machine, that is: float32 sums round differently with another processor's BLAS
kernels or SIMD, and another matplotlib draws other bytes, so each block records the machine it was made on
(``python docs/notebook_pages.py --machine`` prints this one's). tests/test_notebook_pages.py holds a page to
its notebook exactly on that machine, and elsewhere up to what rounding can move.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ASSETS = DOCS / "assets" / "pages"
MARKER = "<!-- glassnet-notebook: {name} -->"
END = "<!-- end of generated notebook: {name} -->"
NOTE = ("<!-- generated from {name} by `make pages` (python docs/notebook_pages.py): do not edit by hand; "
        "edit the notebook and run `make pages` again -->")
MADE_ON = "<!-- made on: {machine} -->"   # the line after NOTE: where the block's numbers and plots were computed
MADE_ON_LINE = re.compile(r"^<!-- made on: (?P<machine>.*) -->$", re.M)
# a marker, then the generated block up to its end marker when the page has one (a new page holds the marker only)
BLOCK = re.compile(r"<!-- glassnet-notebook: (?P<name>[\w.-]+\.ipynb) -->\n?"
                   r"(?:(?P<body>.*?)<!-- end of generated notebook: (?P=name) -->\n?)?", re.S)
NOT_RUN = ('!!! note "Not executed in this build"\n    MNIST was not at hand (set `GLASSNET_DATA`), '
           "so this page shows the code without its output.")
NOT_RUN_COMMITTED = ('!!! note "Not executed in this build"\n    MNIST was not at hand (set `GLASSNET_DATA`), '
                     "so the output below is that of the last `make pages` run, kept with the page.")
# a plot a Markdown output holds in itself (a lab's answer, folded in <details>): taken out to a file like the rest
EMBEDDED = re.compile(r'<img class="notebook-output" alt="(?P<alt>[^"]*)" src="data:image/png;base64,(?P<png>[^"]+)">')
LINKED = re.compile(r'(<img class="notebook-output" alt="[^"]*" src=")(?!data:)')   # a committed block's plot
HEAD = re.compile(r"\A(?:\s*<!--.*?-->)*\s*")   # the comments a committed block starts with: NOTE and MADE_ON
CACHE = "GLASSNET_NOTEBOOK_CACHE"   # a folder of executed notebooks, by content: one test session's build and checks

# an image's file name (NAME-N.png) and its bytes -> the address the page shows it from
ImageLink = Callable[[str, bytes], str]


def needs_mnist(path: Path) -> bool:
    import nbformat

    return bool(nbformat.read(path, as_version=4).metadata.get("glassnet", {}).get("needs_mnist", True))


def runnable(path: Path) -> bool:
    """Whether the notebook can run here: it reads no MNIST, or ``GLASSNET_DATA`` names the data."""
    return not needs_mnist(path) or bool(os.environ.get("GLASSNET_DATA"))


def executed(path: Path) -> Any:
    """The notebook run top to bottom in a fresh kernel, in its own folder, plots as PNG outputs (as in Jupyter)."""
    import nbformat
    from nbclient import NotebookClient

    cache = os.environ.get(CACHE)
    cached = Path(cache) / f"{hashlib.sha256(path.read_bytes()).hexdigest()}.ipynb" if cache else None
    if cached is not None and cached.exists():
        return nbformat.read(cached, as_version=4)
    notebook = nbformat.read(path, as_version=4)
    env = os.environ | {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONHASHSEED": "0"}
    # a cell's deadline is one only a hang reaches: the ladder's training cells take seconds on a quiet machine
    # and minutes with every core busy
    NotebookClient(notebook, timeout=1800, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, cached.with_suffix(".part"))
        cached.with_suffix(".part").replace(cached)
    return notebook


def render(notebook: Any, name: str, image: ImageLink) -> str:
    """The notebook as Markdown: its text cells as they are, its code, and the outputs it holds."""
    parts, count = [], 0

    def shown(data: bytes, kind: str, alt: str = "") -> str:
        nonlocal count
        count += 1
        source = image(f"{Path(name).stem}-{count}.{kind}", data)
        return f'<img class="notebook-output" alt="{alt or html.escape(f"figure {count} of {name}")}" src="{source}">'

    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source.strip())
        elif cell.cell_type == "code":
            parts.append(_fence(cell.source, "python"))
            for output in _joined_streams(cell.get("outputs", [])):
                data = output.get("data", {})
                kind = "png" if "image/png" in data else "svg" if "image/svg+xml" in data else None
                if kind is not None:
                    parts.append(shown(_image_bytes(data, kind), kind))
                else:
                    parts.append(EMBEDDED.sub(lambda m: shown(_clean_png(base64.b64decode(m["png"])), "png", m["alt"]),
                                              _text_output(output)))
    return "\n\n".join(part for part in parts if part)


def _fence(text: str, language: str) -> str:
    """A fenced block that no run of backticks inside it can close."""
    ticks = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}"


def _joined_streams(outputs: Iterable[Any]) -> list[Any]:
    """Outputs with adjacent pieces of one stream joined: the kernel cuts printed text wherever it flushes."""
    from nbformat import NotebookNode

    joined: list[Any] = []
    for output in outputs:
        if (output.output_type == "stream" and joined and joined[-1].output_type == "stream"
                and joined[-1].name == output.name):
            joined[-1] = NotebookNode(joined[-1] | {"text": joined[-1].text + output.text})
        else:
            joined.append(output)
    return joined


def _text_output(output: Any) -> str:
    if output.output_type == "stream":
        return _fence(output.text, "text")
    if output.output_type == "error":
        return _fence(f"{output.ename}: {output.evalue}", "text")
    data = output.get("data", {})
    if "text/markdown" in data:
        return str(data["text/markdown"]).strip()
    table = _markdown_table(data["text/html"]) if "text/html" in data else None
    if table is not None:
        return table
    if "text/plain" in data:
        return _fence(data["text/plain"], "text")
    return ""


def _image_bytes(data: Any, kind: str) -> bytes:
    if kind == "png":
        return _clean_png(base64.b64decode(data["image/png"]))
    return _clean_svg(str(data["image/svg+xml"])).encode()


def _clean_png(png: bytes) -> bytes:
    """The PNG without its text and time chunks (matplotlib's version string): the same pixels, the same bytes."""
    kept, at = [png[:8]], 8
    while at < len(png):
        length = int.from_bytes(png[at:at + 4], "big")
        chunk = png[at:at + 12 + length]
        if chunk[4:8] not in (b"tEXt", b"zTXt", b"iTXt", b"tIME"):
            kept.append(chunk)
        at += 12 + length
    return b"".join(kept)


def _clean_svg(svg: str) -> str:
    """The SVG without its metadata (a date) and with matplotlib's random ids renumbered in order."""
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)
    ids = {old: f"g{i}" for i, old in enumerate(dict.fromkeys(re.findall(r'\bid="([^"]+)"', svg)), 1)}
    if not ids:
        return svg
    pattern = re.compile(r'(\bid="|#)(' + "|".join(map(re.escape, sorted(ids, key=len, reverse=True))) + r')(?=[")])')
    return pattern.sub(lambda m: m[1] + ids[m[2]], svg)


class _Table(HTMLParser):
    """The rows of a plain HTML table (a pandas DataFrame's); ``plain`` turns False at anything else."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.tables, self.plain = 0, True
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables += 1
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.plain &= bool(self.rows) and not any(k in ("colspan", "rowspan") for k, _ in attrs)
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(" ".join("".join(self._cell).split()).replace("|", "\\|"))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _markdown_table(source: str) -> str | None:
    """An HTML table as a Markdown table, first row as the header; None where Markdown cannot say it."""
    parser = _Table()
    parser.feed(re.sub(r"<style\b.*?</style>", "", str(source), flags=re.S))
    rows = [row for row in parser.rows if row]
    if parser.tables != 1 or not parser.plain or not rows or len({len(row) for row in rows}) != 1:
        return None
    lines = [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join([lines[0], "|" + "---|" * len(rows[0]), *lines[1:]])


def inline_image(file: str, data: bytes) -> str:
    """The site's image: the bytes in the page itself, as the site has always shown notebook plots."""
    mime = "image/png" if file.endswith(".png") else "image/svg+xml"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def site_markdown(markdown: str, docs: Path) -> str:
    """The page as the site shows it: each notebook block replaced by a fresh run, or, where that cannot run
    here, by the committed block (or the bare code, for a page that has none yet) with a note saying so."""
    import nbformat

    def block(match: re.Match[str]) -> str:
        path = docs / match["name"]
        if runnable(path):
            return render(executed(path), match["name"], inline_image) + "\n"
        if match["body"] is not None:
            # a page's address is one folder below its file (labs.md is shown as labs/): so are its plots' links
            body = LINKED.sub(r"\g<1>../", HEAD.sub("", match["body"]))
            return f"{NOT_RUN_COMMITTED}\n\n{body.rstrip()}\n"
        return f"{NOT_RUN}\n\n{render(nbformat.read(path, as_version=4), match['name'], inline_image)}\n"

    return BLOCK.sub(block, markdown)


def notebook_names(markdown: str) -> list[str]:
    return [match["name"] for match in BLOCK.finditer(markdown)]


def generated(page: Path, docs: Path = DOCS) -> tuple[str, dict[str, bytes]]:
    """The page with every notebook block made afresh, and the image files the blocks link to (by name)."""
    images: dict[str, bytes] = {}

    def link(file: str, data: bytes) -> str:
        images[file] = data
        return Path(os.path.relpath(ASSETS / file, page.parent)).as_posix()

    made_on = MADE_ON.format(machine=machine())

    def block(match: re.Match[str]) -> str:
        name = match["name"]
        body = render(executed(docs / name), name, link)
        return f"{MARKER.format(name=name)}\n{NOTE.format(name=name)}\n{made_on}\n\n{body}\n\n{END.format(name=name)}\n"

    return BLOCK.sub(block, page.read_text()), images


def machine() -> str:
    """This machine as its floats see it, in one line: the processor; NumPy, with the widest SIMD it dispatches
    to; its BLAS, with the kernels OpenBLAS chose for this processor and its threads; matplotlib, which draws
    the plots. Read by a fresh interpreter, as a notebook's kernel starts, where NumPy's is the only BLAS loaded
    (a test session may hold PyTorch's or SciPy's too)."""
    probe = subprocess.run([sys.executable, __file__, "--machine"], capture_output=True, text=True, check=True)
    return probe.stdout.strip()


def _this_machine() -> str:
    from importlib.metadata import version

    import numpy

    cpuinfo = Path("/proc/cpuinfo")
    models = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M) if cpuinfo.exists() else []
    simd = numpy.show_config(mode="dicts")["SIMD Extensions"]
    try:
        from threadpoolctl import threadpool_info  # the dev extra; it asks OpenBLAS (openblas_get_corename)
    except ImportError:   # without it: the BLAS NumPy was built with, its kernels unknown
        built = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = [f"{built['name']} {built['version']}, kernels unknown"]
    else:
        blas = [f"{pool['internal_api']} {pool['version']}, {pool.get('architecture') or 'unknown'} kernels, "
                f"{pool['num_threads']} threads" for pool in threadpool_info() if pool["user_api"] == "blas"]
    return "; ".join([models[0].strip() if models else platform.processor() or platform.machine(),
                      f"NumPy {numpy.__version__}, {(simd['found'] or simd['baseline'])[-1]}", *blas,
                      f"matplotlib {version('matplotlib')}"])


def pages(docs: Path = DOCS) -> list[Path]:
    """The docs pages that show a notebook."""
    return sorted(page for page in docs.rglob("*.md") if notebook_names(page.read_text()))


def main(names: list[str]) -> None:
    """Write the notebook pages named (all when none is) and their images; after a full run, remove the images
    that no page links to any more."""
    chosen = [DOCS.parent / name for name in names] or pages()
    unrunnable = [name for page in chosen for name in notebook_names(page.read_text()) if not runnable(DOCS / name)]
    if unrunnable:
        sys.exit(f"make pages: {', '.join(unrunnable)} read MNIST; set GLASSNET_DATA to the folder holding the "
                 "MNIST files")
    ASSETS.mkdir(parents=True, exist_ok=True)
    written: set[str] = set()
    for page in chosen:
        start = time.perf_counter()
        markdown, images = generated(page)
        page.write_text(markdown)
        for file, data in images.items():
            if not (ASSETS / file).exists() or (ASSETS / file).read_bytes() != data:
                (ASSETS / file).write_bytes(data)
        written |= set(images)
        print(f"{page.relative_to(DOCS.parent)}: {len(images)} images, {time.perf_counter() - start:.0f} s")
    for orphan in sorted(set(os.listdir(ASSETS)) - written) if not names else []:
        (ASSETS / orphan).unlink()
        print(f"removed {(ASSETS / orphan).relative_to(DOCS.parent)}: no page links to it")


if __name__ == "__main__":
    if sys.argv[1:] == ["--machine"]:
        print(_this_machine())
    else:
        main(sys.argv[1:])
