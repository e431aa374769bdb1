"""MkDocs hooks: math rendered to MathML at build time, notebooks executed and rendered, the CLI help.

Math: pymdownx.arithmatex (generic mode) leaves TeX in ``<span class="arithmatex">\\( … \\)</span>``
and ``<div class="arithmatex">\\[ … \\]</div>``. The search index is built from the page body with
that TeX in it; then ``on_post_page`` converts every formula of the finished page (the table of
contents included) to MathML with latex2mathml, and repairs what Chromium's MathML Core does not
draw: ``mathvariant`` (𝔼, 𝟏, 𝒩 become their Unicode letters), ``menclose`` (a box drawn with CSS)
and the thin space after an operator name such as log. No JavaScript, no CDN: the math font is
served from the site (docs/assets/fonts).

Figures: ``{fig:NAME/KEY:FORMAT}`` in a page is replaced by the value at KEY (dotted) of
docs/figures/NAME.json, formatted; those files are written by docs/figures/make_figures.py from real
runs, so no figure about the model's behaviour is typed by hand. A missing key fails the build.

Notebooks: a page holding ``<!-- glassnet-notebook: NAME.ipynb -->`` gets that notebook, executed
at build time (nbclient), with its printed output, tables and plots inline. A notebook that reads
MNIST (all but those whose metadata says ``"glassnet": {"needs_mnist": false}``) runs only when
``GLASSNET_DATA`` names the data; without it the cells are shown with a note that they were not run.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path
from typing import Any

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.+?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.+?)\\\]</div>', re.S)
_TEX_INLINE = re.compile(r"\\\((.+?)\\\)", re.S)
_NAV = re.compile(r"<nav\b.*?</nav>", re.S)
_CLI_MARKER = "<!-- glassnet-cli-help -->"
_NOTEBOOK_MARKER = re.compile(r"<!-- glassnet-notebook: ([\w.-]+\.ipynb) -->")
_FIGURE = re.compile(r"\{fig:([\w-]+)/([\w.]+)(?::([^}]*))?\}")

# Unicode's mathematical alphanumeric symbols: (first capital, first small, first digit) and the letters
# that Unicode placed earlier, in the Letterlike Symbols block
_ALPHABETS = {
    "double-struck": (0x1D538, 0x1D552, 0x1D7D8,
                      {"C": "ℂ", "H": "ℍ", "N": "ℕ", "P": "ℙ", "Q": "ℚ", "R": "ℝ", "Z": "ℤ"}),
    "bold": (0x1D400, 0x1D41A, 0x1D7CE, {}),
    "script": (0x1D49C, 0x1D4B6, None, {"B": "ℬ", "E": "ℰ", "F": "ℱ", "H": "ℋ", "I": "ℐ", "L": "ℒ", "M": "ℳ",
                                        "R": "ℛ", "e": "ℯ", "g": "ℊ", "o": "ℴ"}),
}
_VARIANT = re.compile(r'<(mi|mn) mathvariant="(double-struck|bold|script)">([A-Za-z0-9]+)</\1>')
_OPERATOR_NAME = re.compile(r"(<mi>(?:log|exp|ln|tanh)</mi>)(?!<mo stretchy=\"false\">&#x00028;)")


def _letter(char: str, variant: str) -> str:
    capital, small, digit, exceptions = _ALPHABETS[variant]
    if char in exceptions:
        return exceptions[char]
    if "A" <= char <= "Z":
        return chr(capital + ord(char) - ord("A"))
    if "a" <= char <= "z":
        return chr(small + ord(char) - ord("a"))
    return chr(digit + ord(char) - ord("0")) if digit is not None else char


def _repair(mathml: str) -> str:
    """Make latex2mathml's output draw correctly in MathML Core (Chromium)."""
    mathml = _VARIANT.sub(lambda m: f"<{m[1]}>{''.join(_letter(c, m[2]) for c in m[3])}</{m[1]}>", mathml)
    mathml = mathml.replace('<menclose notation="box">', '<mrow class="boxed">').replace("</menclose>", "</mrow>")
    return _OPERATOR_NAME.sub(r'\1<mspace width="0.1667em"></mspace>', mathml)


def _mathml(tex: str, display: str) -> str:
    return _repair(convert(html.unescape(tex).strip(), display=display))


def on_post_page(output: str, **kwargs: Any) -> str:
    """Every formula of the finished page to MathML: the body's, then the table of contents'."""
    output = _BLOCK.sub(lambda m: f'<div class="math-block">{_mathml(m[1], "block")}</div>', output)
    output = _INLINE.sub(lambda m: _mathml(m[1], "inline"), output)
    return _NAV.sub(lambda nav: _TEX_INLINE.sub(lambda m: _mathml(m[1], "inline"), nav[0]), output)


def on_page_markdown(markdown: str, page: Any, config: Any, **kwargs: Any) -> str:
    if _CLI_MARKER in markdown:
        markdown = markdown.replace(_CLI_MARKER, _cli_help())
    docs = Path(config["docs_dir"])
    markdown = _FIGURE.sub(lambda m: _figure(docs, m[1], m[2], m[3] or ""), markdown)
    return _NOTEBOOK_MARKER.sub(lambda m: _notebook(docs / m[1]), markdown)


def _figure(docs: Path, name: str, key: str, spec: str) -> str:
    """A measured figure from docs/figures/NAME.json (made by the script beside it), formatted with ``spec``."""
    value: Any = json.loads((docs / "figures" / f"{name}.json").read_text())
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return format(value, spec)


def _cli_help() -> str:
    from glassnet.cli import build_parser

    parser = build_parser()
    sections = [f"```text\n{parser.format_help()}```"]

    def add(parent: Any, prefix: str, level: str) -> None:
        for action in parent._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                for name, sub in action.choices.items():
                    sections.append(f"{level} {prefix} {name}\n\n```text\n{sub.format_help()}```")
                    add(sub, f"{prefix} {name}", level + "#")

    add(parser, "glassnet", "##")
    return "\n\n".join(sections)


def _notebook(path: Path) -> str:
    """The notebook as Markdown: its text cells, its code, and (executed here when MNIST is at hand) its output."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    needs_mnist = notebook.metadata.get("glassnet", {}).get("needs_mnist", True)
    executed = not needs_mnist or bool(os.environ.get("GLASSNET_DATA"))
    if executed:
        from nbclient import NotebookClient

        backend = os.environ.get("MPLBACKEND")
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"   # plots as outputs, as in Jupyter
        try:
            NotebookClient(notebook, timeout=300, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        finally:
            if backend is None:
                del os.environ["MPLBACKEND"]
            else:
                os.environ["MPLBACKEND"] = backend
    parts = [] if executed else ['!!! note "Not executed in this build"\n    MNIST was not at hand '
                                 "(set `GLASSNET_DATA`), so this page shows the code without its output.\n"]
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        elif cell.cell_type == "code":
            parts.append(f"```python\n{cell.source}\n```")
            parts.extend(_output(output) for output in cell.get("outputs", []))
    return "\n\n".join(part for part in parts if part)


def _output(output: Any) -> str:
    if output.output_type == "stream":
        return f'```text\n{output.text.rstrip()}\n```'
    if output.output_type == "error":
        return f'```text\n{output.ename}: {output.evalue}\n```'
    data = output.get("data", {})
    if "image/png" in data:
        png = data["image/png"] if isinstance(data["image/png"], str) else base64.b64encode(data["image/png"]).decode()
        return f'<img class="notebook-output" alt="notebook output" src="data:image/png;base64,{png.strip()}">'
    if "text/markdown" in data:
        return str(data["text/markdown"])
    if "text/plain" in data:
        return f'```text\n{data["text/plain"].rstrip()}\n```'
    return ""
