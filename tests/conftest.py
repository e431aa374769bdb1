"""Shared fixtures: a seeded generator, and the real MNIST folder for slow tests."""

import os
from pathlib import Path

import numpy as np
import pytest

# read once at import: some tests isolate themselves by clearing the variable
REAL_DATA = os.environ.get("GLASSNET_DATA")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def mnist_dir() -> Path:
    """The folder named by GLASSNET_DATA (CI: ../shared/data/mnist); skip when unset."""
    folder = REAL_DATA
    if not folder:
        pytest.skip("GLASSNET_DATA is not set; point it at a folder with the MNIST IDX files")
    return Path(folder)
