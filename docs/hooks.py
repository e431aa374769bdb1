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

Notebooks: a page holding ``<!-- glassnet-notebook: NAME.ipynb -->`` gets that notebook, executed at build
time (nbclient), with its printed output, tables and plots inline, in place of the block that ``make pages``
wrote into the page for the repository view. docs/notebook_pages.py does both, with one rendering; it says
what a build without ``GLASSNET_DATA`` shows.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import notebook_pages  # beside this file: MkDocs puts a hook's folder on the path while loading it
from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.+?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.+?)\\\]</div>', re.S)
_TEX_INLINE = re.compile(r"\\\((.+?)\\\)", re.S)
_NAV = re.compile(r"<nav\b.*?</nav>", re.S)
_CLI_MARKER = "<!-- glassnet-cli-help -->"
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
    return notebook_pages.site_markdown(markdown, docs)


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
