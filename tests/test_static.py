"""Static checks as part of the whole suite (marked slow: outside the quick loop): mypy (strict, see
pyproject.toml) and ruff, at the versions the dev extra pins."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.slow
def test_mypy_strict():
    pytest.importorskip("mypy")
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:]


@pytest.mark.slow
def test_ruff():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (dev extra)")
    paths = ["src", "tests", "benchmarks", "docs/hooks.py", "docs/figures", "scripts"]
    done = subprocess.run([ruff, "check", *paths], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
