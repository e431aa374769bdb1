"""Small helpers shared by tests."""

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def all_values(model) -> np.ndarray:
    """Every parameter of a model, concatenated into one new vector (for bit-for-bit comparisons)."""
    return np.concatenate([p.value.ravel() for p in model.params()])


def wait_for(condition: Callable[[], Any], timeout: float = 120, what: str = "the condition") -> Any:
    """Poll ``condition`` until it returns something true, and return that; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
