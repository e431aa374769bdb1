"""The package as users install it: sdist and wheel built, their contents checked, the wheel installed into a
fresh virtual environment with no extras and the oldest NumPy it declares, and used there."""

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parents[1]
OLDEST_NUMPY = "1.26.4"            # the floor in pyproject.toml: numpy>=1.26


def _tracked_files_in(folder: Path) -> Path:
    """A copy of the files git tracks (what a clean clone holds) in ``folder``."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes((ROOT / name).read_bytes())
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """sdist and wheel, built by setuptools' PEP 517 backend from a copy of the tracked files."""
    source = _tracked_files_in(tmp_path_factory.mktemp("source"))
    code = ("from setuptools import build_meta as b; import json; "
            "print(json.dumps([b.build_sdist('dist'), b.build_wheel('dist')]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=source, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    sdist, wheel = json.loads(done.stdout.strip().splitlines()[-1])
    return source / "dist" / sdist, source / "dist" / wheel


@pytest.mark.slow
def test_the_wheel_and_sdist_hold_what_users_need_and_nothing_else(built):
    sdist, wheel = built
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("glassnet/demo/model.npz", "glassnet/py.typed", "glassnet/web/static/index.html",
                   "glassnet/web/static/app.js", "glassnet/web/static/live.js", "glassnet/web/static/style.css",
                   "glassnet/learn/workbook/linear.py", "glassnet/nn/layers.py"):
        assert needed in names, needed
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n or n.endswith(".pyc")]
    assert wheel.stat().st_size < 2_000_000
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    assert any(m.endswith("src/glassnet/demo/model.npz") for m in members)
    assert not [m for m in members if "__pycache__" in m or m.endswith(".pyc")]


@pytest.mark.slow
def test_the_wheel_works_in_a_fresh_environment_with_the_oldest_numpy(built, tmp_path):
    _, wheel = built
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"numpy=={OLDEST_NUMPY}"], check=True)
    subprocess.run([*pip, str(wheel)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("GLASSNET_DATA", "PYTHONPATH")} | {
        "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def glassnet(*args):
        return subprocess.run([str(venv / "bin" / "glassnet"), *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path)

    modules = subprocess.run([str(venv / "bin" / "python"), "-c", "import numpy, glassnet.nn.model; "
                              "print(numpy.__version__)"], capture_output=True, text=True, env=env)
    assert modules.stdout.strip() == OLDEST_NUMPY, modules.stderr
    info = glassnet("info", "demo", "--json")
    assert info.returncode == 0 and json.loads(info.stdout)["parameters"] == 235_530, info.stderr
    digits = np.zeros((2, 28, 28), np.uint8)
    digits[:, 4:24, 13:15] = 255                                  # two "1"s
    np.save(tmp_path / "ones.npy", digits)
    predicted = glassnet("predict", "--model", "demo", str(tmp_path / "ones.npy"), "--json")
    assert predicted.returncode == 0, predicted.stderr
    assert [json.loads(line)["prediction"] for line in predicted.stdout.splitlines()] == [1, 1]
    token = "wheel-test-token-0123456789"                         # the server answers only its owner
    serve = subprocess.Popen([str(venv / "bin" / "glassnet"), "serve", "--port", "0"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env | {"GLASSNET_TOKEN": token}, cwd=tmp_path)
    try:
        url = serve.stdout.readline().split(" on ")[1].split()[0]
        assert url.endswith(f"/?token={token}")
        import urllib.request

        request = urllib.request.Request(url.removesuffix(f"?token={token}") + "api/predict",
                                         json.dumps({"pixels": [0.0] * 784}).encode(),
                                         {"Content-Type": "application/json", "Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["blank"] is True
    finally:
        serve.terminate()
        serve.communicate(timeout=10)


LAST_SETUPTOOLS_BELOW_THE_FLOOR = "76.1.0"      # setuptools before 77 cannot read license = "MIT" (PEP 639)


@pytest.mark.slow
@pytest.mark.parametrize(("version", "builds"), [("floor", True), (LAST_SETUPTOOLS_BELOW_THE_FLOOR, False)])
def test_the_setuptools_floor_is_true(tmp_path, version, builds):
    """pyproject.toml's build requirement is the oldest setuptools that builds the package: it does, the
    release before it does not."""
    import tomllib

    floor = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"][0]
    assert floor.startswith("setuptools>=")
    wanted = floor if version == "floor" else f"setuptools=={version}"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    pinned = wanted.replace(">=", "==")                       # the floor itself, not whatever is newest
    subprocess.run([*pip, "install", "--quiet", pinned], check=True)
    source = _tracked_files_in(tmp_path / "source")
    done = subprocess.run([*pip, "wheel", "--quiet", "--no-build-isolation", "--no-deps", "-w", str(tmp_path / "dist"),
                           str(source)], capture_output=True, text=True)
    assert (done.returncode == 0) == builds, done.stderr[-2000:]
