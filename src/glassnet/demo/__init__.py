"""The pretrained reference model that ships with glassnet (``model.npz``; made by scripts/make_demo_model.py).

Wherever a command takes a model, the name ``demo`` means this one.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

NAME = "demo"


def demo_model_path() -> Path:
    """The file of the pretrained model inside the installed package."""
    return Path(str(resources.files("glassnet.demo").joinpath("model.npz")))
