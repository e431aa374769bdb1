"""`glassnet serve` as a user starts it: finds a model, prints its address, serves, stops on Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import urllib.request


def start_serve(tmp_path):
    """`glassnet serve` started in tmp_path as a user would, with no MNIST and an empty cache."""
    env = {k: v for k, v in os.environ.items() if k != "GLASSNET_DATA"} | {"XDG_CACHE_HOME": str(tmp_path)}
    return subprocess.Popen([sys.executable, "-m", "glassnet", "serve", "--port", "0", "--data-dir",
                             str(tmp_path / "no-data")], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)

def test_serve_without_a_trained_model_serves_the_pretrained_one(tmp_path):
    process = start_serve(tmp_path)
    try:
        line = process.stdout.readline()
        assert "glassnet/demo/model.npz" in line
        url = line.split(" on ")[1].split()[0]
        request = urllib.request.Request(url + "api/predict", json.dumps({"pixels": [0.0] * 784}).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["blank"] is True
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    assert "serving the pretrained demo model" in err and "test accuracy 98" in err and "glassnet train" in err


def test_serve_uses_the_newest_run_and_stops_cleanly(tmp_path, model_file):
    run = tmp_path / "runs" / "20260101-000000"
    run.mkdir(parents=True)
    (run / "model.npz").write_bytes(model_file.read_bytes())
    process = start_serve(tmp_path)
    try:
        line = process.stdout.readline()
        assert "runs/20260101-000000/model.npz" in line and "http://127.0.0.1:" in line
        url = line.split(" on ")[1].split()[0]
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200 and b"<canvas" in response.read()
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "random test digit" in err and "Traceback" not in err
