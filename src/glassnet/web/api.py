"""The JSON API, independent of HTTP: a request's body or query in, an answer out, ``BadRequest`` (a 400) otherwise.

Every JSON body goes through ``parse_json_object``, so every way a body can fail to parse (bad
UTF-8, bad JSON, NaN, a number past Python's digit limit, nesting past its stack, a non-object) is
a 400 that says what to send.

``POST /api/predict`` takes ``{"image": [[...], ...]}`` (a 2-D grayscale drawing,
values in [0, 1]) or ``{"pixels": [784 values]}``; the digit goes through the
same preprocessing as ``glassnet predict``. The answer holds the 28×28 image
the network saw, the ten probabilities, the prediction, every hidden layer's
activations (the outputs of its activation layers), the first-layer units that
responded most, each with a 28×28 image of what training added to its weights,
W − W₀ (or of its weights W, when the random start W₀ is not known: the
answer's ``unit_images`` says which), and the saliency map:
∂p(predicted)/∂input, scaled to [−1, 1], where a little more ink would most
raise (positive) or lower (negative) the network's confidence in its answer.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import numpy as np
from numpy.typing import NDArray

from glassnet.data.preprocess import preprocess_digit
from glassnet.diagnostics.stats import saliency
from glassnet.nn.kinds import role_of
from glassnet.nn.layers import Linear
from glassnet.nn.losses import softmax
from glassnet.nn.model import Sequential

MAX_SIDE = 512
TOP_UNITS = 6
ACTIONS = ("pause", "resume", "stop")


class BadRequest(ValueError):
    """The request is malformed; the message goes back to the client with status 400."""


def _reject_constant(name: str) -> float:
    raise BadRequest(f"non-finite number {name} in the request; send finite numbers")


def parse_json_object(body: bytes, expected: str) -> dict[str, Any]:
    """A request body as a JSON object; ``BadRequest`` (a 400) for anything else, whatever made it fail.

    ``expected`` says what to send instead ('{"action": "pause"}').
    """
    try:
        request = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except BadRequest:
        raise
    # ValueError: JSONDecodeError, UnicodeDecodeError, and an integer past Python's digit limit;
    # RecursionError: nesting deeper than the parser's stack
    except (ValueError, RecursionError) as e:
        raise BadRequest(f"the body is not valid JSON ({type(e).__name__}: {str(e)[:200]}); send {expected}") from None
    if not isinstance(request, dict):
        raise BadRequest(f"the body is a JSON {type(request).__name__}, not an object; send {expected}")
    return request


def parse_action(body: bytes) -> str:
    """The live view's control request: pause, resume or stop; ``BadRequest`` otherwise."""
    expected = '{"action": "pause"} (or "resume", "stop")'
    action = parse_json_object(body, expected).get("action")
    if action not in ACTIONS:
        raise BadRequest(f"unknown action {str(action)[:40]!r}; send {expected}")
    return str(action)


def parse_offset(query: str) -> int:
    """The ``offset`` of a record request's query: one whole number of ASCII digits; ``BadRequest`` otherwise."""
    try:
        fields = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query), max_num_fields=4)
    except ValueError:
        raise BadRequest("the query must be offset=N, a byte offset (a whole number ≥ 0)") from None
    offsets = fields.pop("offset", ["0"])
    if fields or len(offsets) != 1:
        raise BadRequest("the query must be offset=N once, and nothing else")
    if not (offsets[0].isascii() and offsets[0].isdigit() and len(offsets[0]) <= 15):
        raise BadRequest(f"offset must be a byte offset, a whole number ≥ 0 in ASCII digits, got {offsets[0][:20]!r}")
    return int(offsets[0])


def parse_digit(body: bytes) -> NDArray[np.float32]:
    """The drawing in a request body as a (H, W) float32 array in [0, 1]; ``BadRequest`` otherwise."""
    expected = 'a JSON object with either "image" (a 2-D list of rows) or "pixels" (784 numbers)'
    request = parse_json_object(body, expected)
    if len(set(request) & {"image", "pixels"}) != 1:
        raise BadRequest(f"send {expected}")
    if "pixels" in request:
        values = _numbers(request["pixels"], "pixels")
        if values.shape != (784,):
            raise BadRequest(f'"pixels" must hold 784 numbers (28×28), got shape {values.shape}')
        image = values.reshape(28, 28)
    else:
        image = _numbers(request["image"], "image")
        if image.ndim != 2 or not (1 <= image.shape[0] <= MAX_SIDE and 1 <= image.shape[1] <= MAX_SIDE):
            raise BadRequest(f'"image" must be a rectangular 2-D list of rows, at most {MAX_SIDE}×{MAX_SIDE}, '
                             f"got shape {image.shape}")
    if not np.isfinite(image).all():
        raise BadRequest("the image contains non-finite values")
    if image.min() < 0.0 or image.max() > 1.0:
        raise BadRequest(f"pixel values must lie in [0, 1], got {image.min():g} to {image.max():g}")
    return image.astype(np.float32)


def _numbers(value: Any, name: str) -> NDArray[np.float64]:
    if not isinstance(value, list):
        raise BadRequest(f'"{name}" must be a list, got {type(value).__name__}')
    nested = bool(value) and type(value[0]) is list
    if nested and set(map(type, value)) != {list}:
        raise BadRequest(f'"{name}" mixes rows and numbers')
    rows = value if nested else [value]
    kinds: set[type] = set().union(*(map(type, row) for row in rows))   # C-level passes: bodies can be large
    if not kinds <= {int, float}:
        raise BadRequest(f'"{name}" must hold only numbers (no strings, booleans, nulls or deeper lists)')
    if nested and len({len(row) for row in rows}) > 1:
        raise BadRequest(f'"{name}" rows must all have the same length')
    try:
        return np.array(value, dtype=np.float64)
    except OverflowError:                               # an integer beyond float64, e.g. 10**400
        raise BadRequest(f'"{name}" holds a number too large to be a pixel value; send values in [0, 1]') from None


def _rounded(values: NDArray[np.floating], digits: int = 4) -> list[Any]:
    return np.round(values.astype(np.float64), digits).tolist()


def describe(model: Sequential, image: NDArray[np.float32],
             start: NDArray[np.floating] | None = None) -> dict[str, Any]:
    """Everything the page shows about how ``model`` reads ``image``; ``start``: the first layer's W₀, if known."""
    digit = preprocess_digit(image)
    outputs = model.trace(digit.reshape(1, 784))
    probabilities = softmax(outputs[-1].astype(np.float64))[0]
    hidden = [out[0] for layer, out in zip(model.layers, outputs) if role_of(layer) == "activation"]
    first_index, first = next((i, layer) for i, layer in enumerate(model.layers) if isinstance(layer, Linear))
    # the first linear layer's units, as the first activation after it shows them (none without one)
    after_first = [out[0] for layer, out in zip(model.layers[first_index:], outputs[first_index:])
                   if role_of(layer) == "activation" and out.shape[1] == first.out_features][:1]
    shown = first.weight.value if start is None else first.weight.value - start
    top_units = [{"unit": int(u), "activation": round(float(units[u]), 4),
                  "weights": _rounded(shown[:, u].reshape(28, 28), 4)}
                 for units in after_first for u in np.argsort(-units, kind="stable")[:TOP_UNITS]]
    gradient, _ = saliency(model, digit.reshape(784))
    return {
        "input": _rounded(digit),
        "saliency": _rounded(gradient.reshape(28, 28) / (float(np.abs(gradient).max()) or 1.0), 3),
        "blank": not bool(digit.any()),
        "probabilities": _rounded(probabilities, 6),
        "prediction": int(probabilities.argmax()),
        "activations": [{"name": f"hidden layer {i + 1}", "size": len(h), "values": _rounded(h, 3)}
                        for i, h in enumerate(hidden)],
        "top_units": top_units,
        "unit_images": "W" if start is None else "W - W0",
    }


def sample(images: NDArray[np.uint8], labels: NDArray[np.uint8], rng: np.random.Generator) -> dict[str, Any]:
    """A random test digit: its 28×28 pixels in [0, 1] and its true label."""
    index = int(rng.integers(len(images)))
    return {"index": index, "label": int(labels[index]), "pixels": _rounded(images[index].reshape(784) / 255.0, 4)}


def finite_json(payload: dict[str, Any]) -> bytes:
    """Serialize a response; the API never emits NaN or Infinity."""
    return json.dumps(payload, allow_nan=False, separators=(",", ":")).encode("utf-8")
