"""glassnet against PyTorch on the CPU, side by side in one process: training, inference, memory.

    python benchmarks/bench_train.py [--data-dir DIR] [--epochs 5] [--json benchmarks/results.json]

Trains the reference model (784-256-128-10, BatchNorm, Dropout 0.2, Adam,
float32) with both libraries on the same MNIST, alternating epochs
(glassnet, torch, glassnet, torch, …) after one warm-up epoch each, so that
drift of this shared machine hits both. PyTorch gets the same thread count as
NumPy's BLAS. Reports medians and the ratio glassnet / PyTorch for batch 64,
128 and 256, the GEMM lower bound (the same matrix products alone, in NumPy),
inference latency and throughput, and the peak RSS of a training run of each
(measured in child processes). Needs the ``ref`` extra (torch==2.13.0) and
threadpoolctl (``dev`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from glassnet.config import TrainConfig
from glassnet.data.mnist import load_mnist, to_inputs
from glassnet.nn.fused import FusedMLP
from glassnet.nn.kinds import fold
from glassnet.nn.model import mlp
from glassnet.train import TrainData, TrainingState, train_epoch

SIZES = [784, 256, 128, 10]


def blas_info() -> dict[str, object]:
    from threadpoolctl import threadpool_info

    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    return {"blas": [{k: pool.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                     for pool in blas],
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset"),
            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "unset")}


def blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=1)


class GlassnetTrainer:
    """The product's own training step (``glassnet.train.train_epoch``), one epoch per call.

    ``engine="fast"`` is what ``fit`` runs by default (FusedMLP and FusedAdam); ``"layers"`` is the
    layer-by-layer path with the textbook Adam, as the docs derive it.
    """

    def __init__(self, batch_size: int, x: np.ndarray, y: np.ndarray, engine: str = "fast") -> None:
        config = TrainConfig(batch_size=batch_size, engine=engine)
        self.data = TrainData(x, y, x[:2], y[:2])
        self.run = TrainingState(config, self.data)
        self.model = self.run.model
        self.fused = FusedMLP(self.model) if engine == "fast" else None

    def epoch(self) -> float:
        started = time.perf_counter()
        train_epoch(self.run, self.data, fused=self.fused)
        return time.perf_counter() - started


def torch_model():  # type: ignore[no-untyped-def]
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.BatchNorm1d(256), torch.nn.ReLU(), torch.nn.Dropout(0.2),
        torch.nn.Linear(256, 128), torch.nn.BatchNorm1d(128), torch.nn.ReLU(), torch.nn.Dropout(0.2),
        torch.nn.Linear(128, 10))


class TorchTrainer:
    """The idiomatic PyTorch loop for the same recipe: randperm batches, Adam, StepLR per epoch."""

    def __init__(self, batch_size: int, x: np.ndarray, y: np.ndarray) -> None:
        import torch

        torch.manual_seed(0)
        self.torch = torch
        self.model = torch_model()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=10, gamma=0.95)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
        self.batch_size = batch_size

    def epoch(self) -> float:
        torch = self.torch
        started = time.perf_counter()
        self.model.train()
        order = torch.randperm(len(self.x))
        for start in range(0, len(self.x), self.batch_size):
            indices = order[start:start + self.batch_size]
            loss = torch.nn.functional.cross_entropy(self.model(self.x[indices]), self.y[indices])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        self.scheduler.step()
        return time.perf_counter() - started


class GemmBound:
    """One epoch's forward and backward matrix products alone, at the same shapes, in NumPy.

    Per step: forward x·W for 3 layers, dW = xᵀ·G for 3 layers, dx = G·Wᵀ for the 2 upper layers
    (the input needs no gradient). This is the floor for any implementation built on NumPy's BLAS.
    """

    def __init__(self, batch_size: int, n_samples: int) -> None:
        rng = np.random.default_rng(0)
        self.weights = [rng.standard_normal((a, b), dtype=np.float32) for a, b in zip(SIZES[:-1], SIZES[1:])]
        self.acts = [rng.standard_normal((batch_size, a), dtype=np.float32) for a in SIZES]
        self.grads = [rng.standard_normal((batch_size, b), dtype=np.float32) for b in SIZES[1:]]
        self.steps = -(-n_samples // batch_size)

    def epoch(self) -> float:
        started = time.perf_counter()
        for _ in range(self.steps):
            for layer, w in enumerate(self.weights):
                self.acts[layer] @ w
                self.acts[layer].T @ self.grads[layer]
                if layer > 0:
                    self.grads[layer] @ w.T
        return time.perf_counter() - started


def alternate(batch_size: int, x: np.ndarray, y: np.ndarray, epochs: int) -> dict[str, object]:
    """Epochs of glassnet (both engines), PyTorch and the GEMM bound in rotation, so that drift hits all alike."""
    runners = {"glassnet": GlassnetTrainer(batch_size, x, y),
               "layers": GlassnetTrainer(batch_size, x, y, engine="layers"), "torch": TorchTrainer(batch_size, x, y),
               "bound": GemmBound(batch_size, len(x))}
    times: dict[str, list[float]] = {name: [] for name in runners}
    for runner in runners.values():
        runner.epoch()                                   # warm-up
    for _ in range(epochs):
        for name, runner in runners.items():
            times[name].append(runner.epoch())
    ours, layers, theirs, bound = (statistics.median(times[name]) for name in ("glassnet", "layers", "torch", "bound"))
    return {"batch_size": batch_size, "glassnet_s": ours, "torch_s": theirs, "ratio": ours / theirs,
            "gemm_bound_s": bound, "glassnet_over_bound": ours / bound, "bound_over_torch": bound / theirs,
            "layers_s": layers, "layers_ratio": layers / theirs,
            "glassnet_all_s": times["glassnet"], "layers_all_s": times["layers"], "torch_all_s": times["torch"],
            "bound_all_s": times["bound"]}


def inference(x_test: np.ndarray, repeats: int = 1000, rounds: int = 5) -> dict[str, float]:
    """Latency and throughput of the layers' ``predict_proba``, of the folded network (``fold``, what
    ``glassnet evaluate``, predict and the exports run) and of PyTorch, each the median over ``rounds``
    rounds that take every contender in turn; and the bound: the three matrix products alone."""
    import torch

    ours = mlp(SIZES, rng=np.random.default_rng(0), dropout=0.2).eval()
    folded = fold(ours)
    theirs = torch_model().eval()
    weights = [op.weight for op in folded.affine]

    def products(x: np.ndarray) -> np.ndarray:
        return x @ weights[0] @ weights[1] @ weights[2]

    contenders = {"glassnet": ours.predict_proba, "folded": folded.predict_proba, "gemm": products,
                  "torch": lambda x: torch.softmax(theirs(torch.from_numpy(x)), 1)}
    cases = {"one_image_us": (x_test[:1], repeats, 1e6), "batch128_per_s": (x_test[:128], 200, None),
             "test_set_s": (x_test, 10, 1.0)}

    def median_seconds(fn, x: np.ndarray, n: int) -> float:  # type: ignore[no-untyped-def]
        fn(x)
        times = []
        for _ in range(n):
            started = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    samples: dict[str, list[float]] = {}
    with torch.no_grad():
        for _ in range(rounds):
            for case, (x, n, _) in cases.items():
                for name, fn in contenders.items():
                    samples.setdefault(f"{name}_{case}", []).append(median_seconds(fn, x, n))
    result = {}
    for key, values in samples.items():
        seconds = statistics.median(values)
        scale = cases[key.split("_", 1)[1]][2]
        result[key] = 128 / seconds if scale is None else seconds * scale
    for name in ("glassnet", "folded", "gemm"):                  # how many times PyTorch's speed
        result[f"{name}_speedup_one_image"] = result["torch_one_image_us"] / result[f"{name}_one_image_us"]
        result[f"{name}_speedup_batch128"] = result[f"{name}_batch128_per_s"] / result["torch_batch128_per_s"]
        result[f"{name}_speedup_test_set"] = result["torch_test_set_s"] / result[f"{name}_test_set_s"]
    return result


def peak_rss_child(which: str, data_dir: str | None, epochs: int = 2) -> None:
    """Run in a child process: load MNIST, train ``epochs`` at batch 128, print peak RSS (MiB)."""
    mnist = load_mnist(data_dir, download=False)
    y = mnist.train_labels
    if which == "glassnet":
        trainer = GlassnetTrainer(128, mnist.train_images.reshape(-1, 784), y)   # uint8, as glassnet train
    else:
        trainer = TorchTrainer(128, to_inputs(mnist.train_images), y)             # float32 tensors
    for _ in range(epochs):
        trainer.epoch()
    with open("/proc/self/status") as status:
        peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    print(json.dumps({"peak_rss_mib": peak_kib / 1024}))


def peak_rss(which: str, data_dir: str | None) -> float:
    command = [sys.executable, __file__, "--rss-child", which] + (["--data-dir", data_dir] if data_dir else [])
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return float(json.loads(output.strip().splitlines()[-1])["peak_rss_mib"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="MNIST folder (default: GLASSNET_DATA, then the cache)")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per library and batch size")
    parser.add_argument("--batch-sizes", default="64,128,256")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--rss-child", choices=["glassnet", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    threads = blas_threads()
    torch.set_num_threads(threads)
    if args.rss_child:
        peak_rss_child(args.rss_child, args.data_dir)
        return
    mnist = load_mnist(args.data_dir, download=False)
    x, y = to_inputs(mnist.train_images), mnist.train_labels               # float32 for both libraries
    info = {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "torch": torch.__version__, "threads": threads} | blas_info()
    print(json.dumps(info))
    training = [alternate(int(b), x, y, args.epochs) for b in args.batch_sizes.split(",")]
    infer = inference(to_inputs(mnist.test_images))
    memory = {"glassnet_peak_rss_mib": peak_rss("glassnet", args.data_dir),
              "torch_peak_rss_mib": peak_rss("torch", args.data_dir)}
    print(f"\ntraining epoch, median of {args.epochs} (alternating), seconds")
    print(f"{'batch':>6}{'glassnet':>10}{'PyTorch':>10}{'ratio':>8}{'GEMM bound':>12}{'× bound':>9}"
          f"{'layer path':>12}{'ratio':>8}")
    for row in training:
        print(f"{row['batch_size']:>6}{row['glassnet_s']:>10.3f}{row['torch_s']:>10.3f}{row['ratio']:>8.2f}"
              f"{row['gemm_bound_s']:>12.3f}{row['glassnet_over_bound']:>9.2f}"
              f"{row['layers_s']:>12.3f}{row['layers_ratio']:>8.2f}")
    print("\ninference              layers    folded   PyTorch   GEMMs alone")
    rows = (("one_image_us", "one image (µs)", ".1f"), ("batch128_per_s", "batch 128 (images/s)", ".0f"),
            ("test_set_s", "10,000 images (s)", ".4f"))
    for case, label, form in rows:
        print(f"{label:<21}" + "".join(f"{infer[f'{name}_{case}']:>10{form}}"
                                       for name in ("glassnet", "folded", "torch", "gemm")))
    print(f"\npeak RSS, 2 training epochs (MiB): glassnet {memory['glassnet_peak_rss_mib']:.0f}, "
          f"PyTorch {memory['torch_peak_rss_mib']:.0f}")
    if args.json:
        args.json.write_text(json.dumps({"info": info, "training": training, "inference": infer,
                                         "memory": memory}, indent=1) + "\n")


if __name__ == "__main__":
    main()
