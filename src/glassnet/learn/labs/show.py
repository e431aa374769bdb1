"""The labs in a notebook: ``ask`` shows the question and the lab's code; ``reveal`` shows the measurement
beside the prediction, folded until the reader opens it, with the explanation.

Both return objects that Jupyter shows as Markdown (and the docs build places in the page). The fold is an
HTML ``<details>`` block, so the answer stays hidden until the reader chooses to see it.
"""

from __future__ import annotations

import base64
import html
import inspect
import io
import re
from collections.abc import Callable
from typing import Any

from glassnet.learn.labs.data import LabData
from glassnet.learn.labs.lab import Choice, Lab, Result


class Markdown:
    """Text that Jupyter renders as Markdown."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text


def ask(lab: Lab) -> Markdown:
    """The question, what to predict, and the lab's code (its source, as it will run)."""
    if isinstance(lab.predict, Choice) and not lab.predict.numeric():
        form = "one of the options, by its number or its words:\n\n" + "\n".join(
            f"{i}. {option}" for i, option in enumerate(lab.predict.options, 1))
    else:
        form = lab.predict.describe() + "."
    source = "\n\n".join(inspect.getsource(part).rstrip() for part in lab.code)
    module = inspect.getmodule(lab.code[-1])
    return Markdown(f"**Question.** {lab.question}\n\n**Your prediction:** {form}\n\nWrite it in the next cell "
                    f"(`prediction = …`) before you run the lab.\n\nThe lab's code, from "
                    f"`{module.__name__ if module else 'glassnet.learn.labs'}`:\n\n```python\n{source}\n```")


def reveal(lab: Lab, result: Result, prediction: object = None) -> Markdown:
    """The measurement, the prediction beside it, the plot (if the lab draws one), the explanation: folded."""
    guess = None if prediction is None else lab.parse(str(prediction))
    measured = "\n".join(line or " " for line in result.lines)        # no blank line: it would end the HTML block
    parts = [f"<pre>{html.escape(measured)}</pre>", f"<p><strong>{_inline(lab.compare(guess, result))}</strong></p>"]
    if lab.draw is not None:
        parts.append(_plot(lab.title, lab.draw, result))
    parts += [f"<p>{_inline(lab.explanation)}</p>", f"<p><strong>What to look for in a real run:</strong> "
                                                    f"{_inline(lab.look_for)}</p>"]
    return Markdown('<details class="lab-result"><summary>Show the measurement and what it means</summary>\n'
                    + "\n".join(parts) + "\n</details>")


def run(lab: Lab, data: LabData, prediction: object = None) -> Markdown:
    """Run ``lab`` on ``data`` and reveal the result beside ``prediction`` (read first: a typo fails at once)."""
    if prediction is not None:
        lab.parse(str(prediction))
    return reveal(lab, lab.run(data), prediction)


def _inline(text: str) -> str:
    """Escaped text with `code` spans as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


def _plot(title: str, draw: Callable[[Result, Any], None], result: Result) -> str:
    """What ``draw`` plots of ``result``, as an inline PNG (matplotlib, the 'plot' extra)."""
    from matplotlib.figure import Figure

    figure: Any = Figure(figsize=(6, 3))
    draw(result, figure.subplots())
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100)
    return (f'<img class="notebook-output" alt="{html.escape(title)}: the measurement plotted" '
            f'src="data:image/png;base64,{base64.b64encode(png.getvalue()).decode()}">')
