"""MkDocs hook: the backward-stepping page's graph, computed from glassnet's tiny network when the site is built.

A page holding ``<!-- glassnet-backprop-stepper -->`` gets, in its place, the graph of one training forward
and backward pass of the on-ramp's tiny network (``glassnet.learn.tiny``, recorded and laid out by
``glassnet.learn.graph``) as JSON in a ``<script type="application/json">``, with the script that draws and
steps it (docs/javascripts/stepper.js) and its style sheet. Without JavaScript, the page shows the same graph
drawn whole. The marker is replaced in the finished page, after the search index has read the page's text.
"""

from __future__ import annotations

import json
from typing import Any

from mkdocs.utils import get_relative_url

MARKER = "<!-- glassnet-backprop-stepper -->"


def on_post_page(output: str, page: Any, **kwargs: Any) -> str:
    if MARKER not in output:
        return output
    return output.replace(MARKER, stepper(page.url))


def stepper(page_url: str) -> str:
    """The stepper's HTML for the page at ``page_url`` (site-relative, e.g. "backprop-stepper/")."""
    from glassnet.learn.graph import network_graph
    from glassnet.learn.tiny import tiny_network

    graph = network_graph(*tiny_network())
    script = get_relative_url("javascripts/stepper.js", page_url)
    style = get_relative_url("stylesheets/stepper.css", page_url)
    return (f'<link rel="stylesheet" href="{style}">\n'
            '<div class="backprop-stepper" id="backprop-stepper">'
            f'<noscript><div class="stepper-graph">\n{graph.svg()}\n</div></noscript></div>\n'
            f'<script type="application/json" id="backprop-stepper-data">{script_json(graph.drawing())}</script>\n'
            f'<script src="{script}"></script>')


def script_json(data: Any) -> str:
    """``data`` as JSON to put inside a <script> element: no "<", ">" or "&" in it, so that no "</script>" or
    "<!--" in a name can end the element early (JSON.parse reads the escapes back)."""
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
