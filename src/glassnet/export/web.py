"""A trained model as a static web page: the draw-a-digit page with no server, for any static host or a disk.

The folder holds ``index.html``, ``style.css``, ``page.js``, ``glassnet-web.js`` (the MNIST-style
preprocessing of ``glassnet predict`` and the forward pass, in plain JavaScript) and ``weights.js``
(the network with batch norm folded into its linear layers, float32, base64). ``weights.js`` is a
script, not a data file, so that the page also works opened straight from disk (file://). ``index.html``
holds a Content-Security-Policy ``<meta>`` tag (a static host sends no headers of ours) that lets only
the folder's own script files run, and the page shows the model's note as text.
"""

from __future__ import annotations

import base64
import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.atomic import atomic_open
from glassnet.errors import GlassnetError
from glassnet.nn.fused import fold
from glassnet.nn.layers import Linear
from glassnet.nn.model import Sequential

TEMPLATES = ("index.html", "glassnet-web.js", "page.js")


def _float32(array: Any) -> str:
    return base64.b64encode(np.asarray(array, dtype="<f4").tobytes()).decode("ascii")


def weights_script(model: Sequential, note: str = "") -> str:
    """``weights.js``: the folded network, for glassnet-web.js."""
    try:
        folded = fold(model)
    except TypeError as e:
        raise GlassnetError(f"only mlp networks are exported: {e}") from None
    sizes = [layer.in_features for layer in model.layers if isinstance(layer, Linear)] + [model.n_classes]
    payload = {"meta": {"network": f"MLP {'-'.join(map(str, sizes))}, batch norm folded", "note": note},
               "layers": [{"rows": int(w.shape[0]), "cols": int(w.shape[1]), "weight": _float32(w),
                           "bias": _float32(b)} for w, b in zip(folded.weights, folded.biases)]}
    return f"window.GLASSNET_WEIGHTS = {json.dumps(payload)};\n"


def write_web(model: Sequential, folder: str | Path, note: str = "") -> Path:
    """Write the static page for ``model`` into ``folder``, which must not exist yet (nothing is replaced)."""
    if model.n_inputs != 784:
        raise GlassnetError(f"the web page draws 28×28 digits; this model takes {model.n_inputs} inputs")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        raise GlassnetError(f"{folder} already exists; choose a new folder (nothing was written)") from None
    except OSError as e:
        raise GlassnetError(f"cannot create {folder}: {e.strerror or e}") from e
    files = {name: resources.files("glassnet.export").joinpath("web_static", name).read_text(encoding="utf-8")
             for name in TEMPLATES}
    files["style.css"] = resources.files("glassnet.web").joinpath("static", "style.css").read_text(encoding="utf-8")
    files["weights.js"] = weights_script(model, note)
    for name, text in files.items():
        with atomic_open(folder / name, "w") as f:
            f.write(text)
    return folder
