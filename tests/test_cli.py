"""The glassnet command end to end on a small synthetic MNIST-format folder."""

import json
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from glassnet.cli import main
from tests.mnist_fixtures import synthetic_digits, write_mnist_folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_mnist_folder(tmp_path_factory.mktemp("data") / "mnist", n_train=300, n_test=100)


@pytest.fixture(scope="module")
def run_dir(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", "--data-dir", str(data_dir), "--epochs", "2", "--hidden", "32,16",
                 "--batch-size", "32", "--out", str(out), "--quiet"]) == 0
    return out


def test_train_writes_a_complete_run_folder(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {"model.npz", "config.toml", "history.csv", "history.json", "metrics.json", "report.md"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    history = json.loads((run_dir / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    assert (run_dir / "history.csv").read_text().splitlines()[0].startswith("epoch,train_loss")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["dataset"]["official"] is False and 0 <= metrics["test"]["accuracy"] <= 1
    report = (run_dir / "report.md").read_text()
    assert "not the official MNIST" in report and "macro avg" in report
    assert "epochs = 2" in (run_dir / "config.toml").read_text()


def test_plots_when_matplotlib_is_installed(run_dir):
    pytest.importorskip("matplotlib")
    for name in ("learning_curves", "confusion_matrix", "per_class_f1", "misclassified", "first_layer_weights"):
        assert (run_dir / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("command", ["train", "lr-find"])
@pytest.mark.parametrize("start", ["/dev/zero", "fifo", "missing.npz"])
def test_a_start_model_that_cannot_be_read_is_refused_before_anything_is_made(command, start, data_dir, tmp_path,
                                                                            capsys):
    if start == "fifo":
        os.mkfifo(tmp_path / "fifo")
    path = start if start.startswith("/") else str(tmp_path / start)
    out = tmp_path / "run"
    assert main([command, "--data-dir", str(data_dir), "--init-from", path, "--epochs", "1", "--out", str(out),
                 "--quiet"]) == (2 if start == "missing.npz" else 1)          # a usage error, or a file refused
    error = capsys.readouterr().err
    assert ("no such model file" if start == "missing.npz" else "not a regular file; name the model file") in error
    assert not out.exists()


def test_train_refuses_to_overwrite_a_run(run_dir, data_dir, capsys):
    assert main(["train", "--data-dir", str(data_dir), "--out", str(run_dir), "--quiet"]) == 1
    assert "already holds a run" in capsys.readouterr().err


def test_evaluate_json(run_dir, data_dir, capsys):
    assert main(["evaluate", str(run_dir), "--data-dir", str(data_dir), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["official"] is False and len(record["confusion_matrix"]) == 10


def test_evaluate_text(run_dir, data_dir, capsys):
    assert main(["evaluate", str(run_dir / "model.npz"), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "confusion matrix" in out


def test_predict_npy(run_dir, tmp_path, capsys):
    images, _ = synthetic_digits(3, seed=9)
    np.save(tmp_path / "batch.npy", images)
    np.save(tmp_path / "one.npy", images[0].reshape(784).astype(np.float32) / 255)
    files = [tmp_path / "batch.npy", tmp_path / "one.npy"]
    assert main(["predict", str(run_dir), *map(str, files), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in records] == [f"{tmp_path / 'batch.npy'}[{i}]" for i in range(3)] + \
        [str(tmp_path / "one.npy")]
    assert all(len(r["probabilities"]) == 10 and abs(sum(r["probabilities"]) - 1) < 1e-4 for r in records)
    assert records[3]["prediction"] == records[0]["prediction"]            # same digit, two encodings


def test_predict_png_dark_ink_on_light_paper(run_dir, tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image")                               # the 'image' extra
    images, _ = synthetic_digits(3, seed=9)
    np.save(tmp_path / "digit.npy", images[1])
    Image.fromarray(255 - images[1]).save(tmp_path / "paper.png")
    assert main(["predict", str(run_dir), str(tmp_path / "digit.npy"), str(tmp_path / "paper.png"), "--json"]) == 0
    npy, png = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert png["prediction"] == npy["prediction"]                          # the inverted PNG reads the same
    np.testing.assert_allclose(png["probabilities"], npy["probabilities"], atol=0.05)


@pytest.mark.parametrize("content, message", [
    (b"not an image", "not a readable"),
    (b"", "not a readable"),
])
def test_predict_bad_files(run_dir, tmp_path, capsys, content, message):
    for name in ("bad.png", "bad.npy"):
        (tmp_path / name).write_bytes(content)
        assert main(["predict", str(run_dir), str(tmp_path / name)]) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err


def test_predict_missing_file(run_dir, tmp_path, capsys):
    assert main(["predict", str(run_dir), str(tmp_path / "nope.png")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_info(run_dir, capsys):
    assert main(["info", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "MLP 784-32-16-10" in out and "total parameters" in out and "test accuracy" in out
    assert main(["info", str(run_dir), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["parameters"] == 784 * 32 + 64 + 32 * 16 + 32 + 16 * 10 + 10


def test_info_shows_the_demo_model_s_record(capsys):
    from glassnet.checkpoint import read_checkpoint
    from glassnet.demo import demo_model_path

    meta, _ = read_checkpoint(demo_model_path())
    demo = meta["demo"]
    assert main(["info", "demo"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"test accuracy {demo['test_accuracy']:.2%} ({demo['dataset']})" in lines
    assert f"seed {demo['seed']}" in lines and f"made by: {demo['command']}" in lines
    assert f"recipe: {demo['recipe']}" in lines
    assert main(["info", "demo", "--json"]) == 0
    recorded = json.loads(capsys.readouterr().out)["recorded"]
    assert recorded == {key: demo[key] for key in ("test_accuracy", "dataset", "seed", "recipe", "command")} | \
        {"epochs": meta["epoch"]}


def test_gradcheck_command(capsys):
    assert main(["gradcheck", "--batch", "4", "--samples", "5"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "0.weight" in out


def test_resume_refuses_other_flags(run_dir, capsys):
    assert main(["train", "--resume", str(run_dir), "--lr", "0.1"]) == 2
    assert "--resume continues a run" in capsys.readouterr().err


def test_resume_a_finished_run_is_a_no_op_that_rewrites_the_report(run_dir, data_dir):
    before = np.load(run_dir / "model.npz")["param/0.weight"]
    report = (run_dir / "report.md").read_text()
    (run_dir / "report.md").unlink()
    assert main(["train", "--resume", str(run_dir), "--data-dir", str(data_dir), "--quiet"]) == 0
    np.testing.assert_array_equal(np.load(run_dir / "model.npz")["param/0.weight"], before)
    rewritten = (run_dir / "report.md").read_text()
    assert "macro avg" in rewritten
    def figures(text):
        return [line for line in text.splitlines() if line.startswith(("| this run", "Best class"))]

    assert figures(rewritten) == figures(report) != []                         # the same run, the same figures


@pytest.mark.parametrize("argv, code, message", [
    (["train", "--epochs", "0"], 1, "'epochs' must be"),
    (["train", "--lr", "fast"], 2, "invalid float value"),
    (["train", "--hidden", "a,b"], 2, "comma-separated integers"),
    (["frobnicate"], 2, "invalid choice"),
    (["info", "/nonexistent/model.npz"], 1, "no such model file"),
    (["train", "--data-dir", "/nonexistent", "--no-download", "--epochs", "1"], 1, "MNIST not found"),
    (["gradcheck", "--seed", "-1"], 2, "--seed in [0, 2**63)"),
    (["serve", "--port", "70000"], 2, "--port must be in 0-65535"),
    (["train", "--watch", "--watch-port", "-5"], 2, "--watch-port must be in 0-65535"),
    (["train", "--out", ""], 2, "--out needs the name of a new folder"),
    (["lr-find", "--start-lr", "1", "--end-lr", "0.1"], 1, "needs 0 < start lr < end lr"),
    (["lr-find", "--steps", "3"], 1, "takes 20 to 100000 steps, got 3"),
    (["lr-find", "--init-from", "/nonexistent/model.npz"], 2, "--init-from /nonexistent/model.npz: no such model"),
    (["lr-find", "--plateau-factor", "2"], 1, "'plateau_factor' must be in (0, 1)"),
])
def test_errors_are_one_clear_line_without_traceback(tmp_path, argv, code, message):
    result = subprocess.run([sys.executable, "-m", "glassnet", *argv], capture_output=True, text=True,
                            cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                               "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert result.returncode == code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("flags, code, message", [
    (["--hidden", "1000000000"], 1, "of a network of at most 80,000,000 parameters"),
    (["--hidden", "120000"], 1, "of a network of at most 80,000,000 parameters"),
    (["--batch-size", str(10**12)], 0, ""),
    (["--validation-size", "299"], 1, "leaves fewer than 2 training images"),
])
def test_impossible_sizes_are_one_clear_line(data_dir, tmp_path, flags, code, message):
    result = subprocess.run([sys.executable, "-m", "glassnet", "train", "--data-dir", str(data_dir), "--epochs", "1",
                             "--out", str(tmp_path / "run"), "--quiet", *flags], capture_output=True, text=True)
    assert result.returncode == code and message in result.stderr and "Traceback" not in result.stderr


def test_a_batch_larger_than_the_data_is_the_whole_data(data_dir, tmp_path):
    assert main(["train", "--data-dir", str(data_dir), "--epochs", "1", "--batch-size", "1000000000000",
                 "--out", str(tmp_path / "run"), "--quiet"]) == 0


def test_quiet_prints_no_epoch_lines(data_dir, tmp_path, capsys):
    assert main(["train", "--data-dir", str(data_dir), "--epochs", "2", "--out", str(tmp_path / "run"),
                 "--quiet"]) == 0
    assert "epoch " not in capsys.readouterr().out


def test_resume_refuses_other_data_and_a_preset(run_dir, tmp_path, capsys):
    other = write_mnist_folder(tmp_path / "other", n_train=123, n_test=45, gz=False)
    assert main(["train", "--resume", str(run_dir), "--data-dir", str(other), "--quiet"]) == 1
    assert "trained on other data" in capsys.readouterr().err
    assert main(["train", "--resume", str(run_dir), "--preset", "best"]) == 2


def test_info_into_a_closed_pipe_is_quiet(run_dir):
    done = subprocess.run(f"{sys.executable} -m glassnet info {run_dir} | head -c 1", shell=True,
                          capture_output=True, text=True)
    assert done.returncode == 0 and "Traceback" not in done.stderr and "disk" not in done.stderr


@pytest.mark.parametrize("blank", [np.zeros((28, 28), np.uint8), np.full((50, 40), 255, np.uint8),
                                   np.zeros((1, 1)), np.full((30, 30, 3), 200, np.uint8)])
def test_a_blank_page_is_said_to_be_blank_with_exit_status_3(tmp_path, capsys, blank):
    np.save(tmp_path / "page.npy", blank)
    assert main(["predict", "--model", "demo", str(tmp_path / "page.npy")]) == 3
    assert "blank (no ink found)" in capsys.readouterr().out
    assert main(["predict", "--model", "demo", str(tmp_path / "page.npy"), "--json"]) == 3
    assert json.loads(capsys.readouterr().out) == {"file": str(tmp_path / "page.npy"), "blank": True,
                                                   "prediction": None, "probabilities": None}


def test_an_rgb_npy_array_is_one_color_image(tmp_path, capsys):
    images, _ = synthetic_digits(1, 5)
    ink = np.repeat((255 - images[0])[:, :, None], 3, axis=2)            # dark ink on white, RGB
    np.save(tmp_path / "color.npy", np.kron(ink, np.ones((4, 4, 1), np.uint8)))
    assert main(["predict", "--model", "demo", str(tmp_path / "color.npy"), "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_an_npz_archive_named_npy_is_named_as_such(tmp_path, capsys):
    with open(tmp_path / "digits.npy", "wb") as f:            # np.savez to an open file keeps the name
        np.savez(f, images=synthetic_digits(2, 1)[0])
    assert main(["predict", "--model", "demo", str(tmp_path / "digits.npy")]) == 1
    assert "an .npz archive, not a .npy array" in capsys.readouterr().err


def test_an_npy_too_large_is_refused_from_its_header_without_reading_it(tmp_path, capsys):
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1), np.uint8))
    header["shape"] = (100_000, 100_000)                       # 10 GB declared, a few bytes on disk
    with open(tmp_path / "huge.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(b"\0" * 64)
    assert main(["predict", "--model", "demo", str(tmp_path / "huge.npy")]) == 1
    assert "not a readable .npy array" in capsys.readouterr().err   # shorter than its header says


def test_an_npy_beyond_the_pixel_limit_is_refused_before_its_pixels_are_read(tmp_path, capsys):
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1), np.uint8))
    header["shape"] = (8_000, 8_000)                           # 64 million pixels, limit 50 million
    with open(tmp_path / "big.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.truncate(f.tell() + 8_000 * 8_000)                   # sparse: no disk or memory spent
    tracemalloc.start()
    assert main(["predict", "--model", "demo", str(tmp_path / "big.npy")]) == 1
    assert tracemalloc.get_traced_memory()[1] < 20_000_000        # the 64 MB of pixels were never read
    tracemalloc.stop()
    assert "64,000,000 values is too large (limit 50,000,000)" in capsys.readouterr().err


def test_a_plain_npy_named_as_a_model_is_refused_without_reading_it(tmp_path, capsys):
    np.save(tmp_path / "model.npy", np.zeros((28, 28), np.uint8))
    (tmp_path / "model.npy").rename(tmp_path / "model.npz")
    assert main(["info", str(tmp_path / "model.npz")]) == 1
    assert "a single NumPy array (.npy), not a glassnet model" in capsys.readouterr().err


def test_files_may_follow_an_option(tmp_path, capsys):
    digits = synthetic_digits(2, 3)[0]
    for i in range(2):
        np.save(tmp_path / f"{i}.npy", digits[i])
    assert main(["predict", "demo", "--json", str(tmp_path / "0.npy"), str(tmp_path / "1.npy")]) == 0
    assert [json.loads(line)["file"] for line in capsys.readouterr().out.splitlines()] == [
        str(tmp_path / "0.npy"), str(tmp_path / "1.npy")]
    with pytest.raises(SystemExit):
        main(["predict", "demo", "--jsn", str(tmp_path / "0.npy")])
    assert "unrecognized arguments: --jsn" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform != "linux", reason="file names as raw bytes")
@pytest.mark.parametrize("flags", [[], ["--json"]])
def test_a_file_name_that_is_not_utf8_prints_escaped_on_a_strict_utf8_stdout(tmp_path, flags):
    import os

    path = tmp_path / os.fsdecode(b"digit-\xff.npy")
    np.save(path, synthetic_digits(1, 3)[0][0])
    done = subprocess.run([sys.executable, "-c", "import sys; from glassnet.cli import main; sys.exit(main())",
                           "predict", "demo", *flags, str(path)], capture_output=True,
                          env=os.environ | {"PYTHONIOENCODING": "utf-8:strict"}, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert b"digit-\\udcff.npy" in done.stdout


def test_models_of_another_shape_and_deep_metadata_are_one_clear_line(tmp_path, capsys):
    from glassnet.checkpoint import save_checkpoint
    from glassnet.nn.model import mlp

    save_checkpoint(tmp_path / "small.npz", mlp([100, 8, 10], rng=np.random.default_rng(0)), {})
    np.save(tmp_path / "digit.npy", synthetic_digits(1, 1)[0][0])
    assert main(["predict", str(tmp_path / "small.npz"), str(tmp_path / "digit.npy")]) == 1
    assert "reads 100 inputs" in capsys.readouterr().err
    deep = "[" * 100_000 + "]" * 100_000
    np.savez(tmp_path / "deep.npz", meta=np.frombuffer(('{"format_version": 2, "x": ' + deep + "}").encode(), np.uint8))
    assert main(["info", str(tmp_path / "deep.npz")]) == 1
    assert "nested too deeply" in capsys.readouterr().err


@pytest.mark.parametrize("record", [
    {"config": "x", "metrics": [1], "epoch": {"a": 1}},
    {"metrics": {"test": "x", "dataset": 3}},
    {"metrics": {"test": {"accuracy": 0.5, "macro": {"f1": 0.5}}, "dataset": None}},
])
@pytest.mark.parametrize("flags", [[], ["--json"]])
def test_info_shows_a_damaged_record_as_absent(tmp_path, record, flags, capsys):
    from glassnet.checkpoint import save_checkpoint
    from glassnet.nn.model import mlp

    save_checkpoint(tmp_path / "model.npz", mlp([784, 8, 10], rng=np.random.default_rng(0)), record)
    assert main(["info", str(tmp_path / "model.npz"), *flags]) == 0
    out = capsys.readouterr().out
    if flags:
        json.loads(out)


@pytest.mark.parametrize("damage", [
    {"config": "x"},
    {"config": [1, 2]},
    {"history": "x"},
    {"history": [1, "a"]},
    {"history": [{"epoch": 1}]},
    {"history": [{"epoch": "one", "train_loss": 0.1, "train_accuracy": 0.9, "eval_loss": 0.1,
                  "eval_accuracy": 0.9, "lr": 0.001, "seconds": 1.0}]},
    {"epoch": "x"},
    {"early_stopping": "abc"},
    {"early_stopping": {}},
    {"early_stopping": {"best": "x", "best_epoch": 1, "wait": 0}},
    {"step": 10**400},
])
def test_resume_from_a_damaged_training_record_is_one_clear_line(run_dir, data_dir, tmp_path, capsys, damage):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    with np.load(run / "model.npz") as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays["meta"].tobytes()) | damage
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(run / "model.npz", **arrays)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert main(["train", "--resume", str(run), "--data-dir", str(data_dir), "--epochs", "3", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "cannot be resumed" in err and "Traceback" not in err, err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before           # nothing of the run was touched


def test_lr_find_writes_its_curve_and_suggestion_and_only_reads_the_run(run_dir, data_dir, tmp_path, capsys):
    model = (run_dir / "model.npz").read_bytes()
    out = tmp_path / "lr-find"
    assert main(["lr-find", "--data-dir", str(data_dir), "--hidden", "32,16", "--batch-size", "32", "--steps", "30",
                 "--init-from", str(run_dir), "--out", str(out), "--quiet"]) == 0
    assert (run_dir / "model.npz").read_bytes() == model
    found = json.loads((out / "lr_find.json").read_text())
    printed = capsys.readouterr().out
    assert f"suggested lr {found['suggestion']:.2e} (steepest descent of the smoothed loss)" in printed
    assert found["rule"] == "steepest descent of the smoothed loss" and found["init_from"].endswith("model.npz")
    rows = (out / "lr_find.csv").read_text().splitlines()
    assert rows[0] == "step,lr,loss,smoothed_loss" and len(rows) == found["steps"] + 1


def test_lr_find_without_matplotlib_writes_the_csv_and_says_so_in_one_line(data_dir, tmp_path, capsys, monkeypatch):
    from glassnet.report import plots

    monkeypatch.setattr(plots, "matplotlib_available", lambda: False)
    out = tmp_path / "lr-find"
    assert main(["lr-find", "--data-dir", str(data_dir), "--hidden", "16", "--batch-size", "32", "--steps", "20",
                 "--out", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["lr_find.csv", "lr_find.json"]
    notes = [line for line in capsys.readouterr().out.splitlines() if "matplotlib" in line]
    assert notes == ["no plot: matplotlib is not installed (pip install 'glassnet[plot]'); the curve is in lr_find.csv"]


def test_lr_find_refuses_to_write_into_a_run_folder(run_dir, data_dir, capsys):
    model = (run_dir / "model.npz").read_bytes()
    assert main(["lr-find", "--data-dir", str(data_dir), "--out", str(run_dir), "--quiet"]) == 1
    error = capsys.readouterr().err
    assert "already holds a run" in error and len(error.strip().splitlines()) == 1
    assert (run_dir / "model.npz").read_bytes() == model
