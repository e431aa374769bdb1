"""MkDocs hooks: math rendered to MathML at build time (no JavaScript, no CDN), and the CLI help.

pymdownx.arithmatex (generic mode) leaves TeX in ``<span class="arithmatex">\\( … \\)</span>`` and
``<div class="arithmatex">\\[ … \\]</div>``; this hook converts each to MathML with latex2mathml,
which every current browser renders natively.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.+?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.+?)\\\]</div>', re.S)
_CLI_MARKER = "<!-- glassnet-cli-help -->"


def _mathml(tex: str, display: str) -> str:
    return convert(html.unescape(tex).strip(), display=display)


def on_page_content(content: str, **kwargs: object) -> str:
    content = _BLOCK.sub(lambda m: f'<div class="math-block">{_mathml(m.group(1), "block")}</div>', content)
    return _INLINE.sub(lambda m: _mathml(m.group(1), "inline"), content)


def on_page_markdown(markdown: str, **kwargs: object) -> str:
    if _CLI_MARKER not in markdown:
        return markdown
    from glassnet.cli import build_parser

    parser = build_parser()
    sections = [f"```text\n{parser.format_help()}```"]
    subcommands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sub in subcommands.choices.items():
        sections.append(f"## glassnet {name}\n\n```text\n{sub.format_help()}```")
    return markdown.replace(_CLI_MARKER, "\n\n".join(sections))
