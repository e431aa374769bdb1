"""Shared fixtures: a seeded generator, the real MNIST folder for slow tests, and the built docs site."""

import os
import subprocess
import sys
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


@pytest.fixture(scope="session")
def notebook_cache(tmp_path_factory) -> Path:
    """The docs' notebooks as executed once in this session, by content (docs/notebook_pages.py): the site's
    build and the check of the committed pages share one run of each."""
    return tmp_path_factory.mktemp("notebooks")


@pytest.fixture(scope="session")
def site(tmp_path_factory, notebook_cache) -> Path:
    """The docs site, built once with ``mkdocs build --strict`` (its notebooks executed when MNIST is at hand)."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("latex2mathml")
    site = tmp_path_factory.mktemp("docs") / "site"
    env = {k: v for k, v in os.environ.items() if k != "GLASSNET_DATA"} | {"MPLBACKEND": "Agg",
                                                                        "GLASSNET_NOTEBOOK_CACHE": str(notebook_cache)}
    if REAL_DATA:
        env["GLASSNET_DATA"] = REAL_DATA
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=Path(__file__).parents[1], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return site
