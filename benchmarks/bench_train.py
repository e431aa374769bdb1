"""glassnet against PyTorch on the CPU, side by side in one process: training, inference, memory.

    python benchmarks/bench_train.py [--data-dir DIR] [--epochs 5] [--json benchmarks/results.json]
    python benchmarks/bench_train.py --threads 1,2,4,8,16 [--epochs 3] [--json docs/figures/thread-curve.json]

Trains the reference model (784-256-128-10, BatchNorm, Dropout 0.2, Adam,
float32) with both libraries on the same MNIST, alternating epochs
(glassnet, torch, glassnet, torch, …) after one warm-up epoch each, so that
drift of this shared machine hits both. PyTorch gets the same thread count as
NumPy's BLAS. Reports medians and the ratio glassnet / PyTorch for batch 64,
128 and 256, the GEMM lower bound (the same matrix products alone, in NumPy),
inference latency and throughput, and the peak RSS of a training run of each
(measured in child processes). glassnet trains on the BLAS thread count ``fit`` chooses by default
(``glassnet.train.threads.automatic``, a rule of the machine). Needs the ``ref`` extra (torch==2.13.0)
and threadpoolctl (``dev`` extra).

With ``--threads``, the curve instead: for each BLAS thread count (PyTorch given the same), the
training epoch at batch 128 (glassnet, PyTorch, the matrix products alone), in rounds that take
every count and contender in turn, and inference on the 10,000 test images: the folded network in
one call on that many BLAS threads, the same rows in blocks over a pool of that many workers with
one BLAS thread each (what ``predict_proba`` runs), the layer path pooled alike, and PyTorch; and the
count training chooses by itself (the rule) and the one ``--threads measure`` measures.
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
from glassnet.nn import blas
from glassnet.nn.fused import FusedMLP
from glassnet.nn.kinds import fold
from glassnet.nn.losses import softmax
from glassnet.nn.model import mlp
from glassnet.train import TrainData, TrainingState, train_epoch
from glassnet.train.threads import automatic, measure

SIZES = [784, 256, 128, 10]


def blas_info() -> dict[str, object]:
    from threadpoolctl import threadpool_info

    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    return {"blas": [{k: pool.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                     for pool in blas],
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset"),
            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "unset")}


def machine() -> dict[str, object]:
    """The machine the figures come from: CPU, the cores this process may use, BLAS build and versions."""
    import torch

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    library = blas.blas()
    return {"cpu": model, "cores": blas.available_cores(), "blas": library.config() if library else "unknown",
            "blas_threads": blas.starting_threads(), "numpy": np.__version__, "torch": torch.__version__,
            "python": platform.python_version()}


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
        self.threads: int | None = None            # None: the count fit chooses by default

    def measure(self) -> dict[str, object]:
        """The thread count ``--threads measure`` would choose for this run, and the figures it measured."""
        return measure(self.model, self.run.optimizer, self.data, self.run.config.batch_size,
                       fused=self.fused is not None)

    def epoch(self) -> float:
        with blas.pinned(self.threads or automatic()["count"]):
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


def median_seconds(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def curve(counts: list[int], x: np.ndarray, y: np.ndarray, x_test: np.ndarray, epochs: int,
          batch_size: int = 128, rounds: int = 5) -> dict[str, object]:
    """Training epochs and test-set inference at each BLAS thread count (PyTorch on as many threads), every
    count and contender in turn in each round; medians. And the count training chooses by itself."""
    import torch

    trainers = {"glassnet": GlassnetTrainer(batch_size, x, y), "torch": TorchTrainer(batch_size, x, y),
                "bound": GemmBound(batch_size, len(x))}
    auto, measured = automatic(), trainers["glassnet"].measure()
    library = blas.blas()
    assert library is not None, "the BLAS's thread count cannot be set here"

    def on(n: int) -> None:
        library.set_threads(n)
        torch.set_num_threads(n)
        trainers["glassnet"].threads = n       # type: ignore[attr-defined]

    epochs_s: dict[str, list[float]] = {}
    on(max(counts))
    for trainer in trainers.values():
        trainer.epoch()                                                      # warm-up
    for _ in range(epochs):
        for n in counts:
            on(n)
            for name, trainer in trainers.items():
                epochs_s.setdefault(f"{name}_{n}", []).append(trainer.epoch())
    ours = mlp(SIZES, rng=np.random.default_rng(0), dropout=0.2).eval()
    folded, theirs = fold(ours), torch_model().eval()
    contenders = {"one_call": lambda n: softmax(folded.infer(x_test)),
                  "pooled": lambda n: folded.predict_proba(x_test, workers=n),
                  "layers_pooled": lambda n: ours.predict_proba(x_test, workers=n),
                  "torch": lambda n: torch.softmax(theirs(torch.from_numpy(x_test)), 1)}
    infer_s: dict[str, list[float]] = {}
    with torch.no_grad():
        for _ in range(rounds):
            for n in counts:
                on(n)
                for name, fn in contenders.items():
                    infer_s.setdefault(f"{name}_{n}", []).append(median_seconds(lambda f=fn, k=n: f(k), 10))
    on(blas.starting_threads())
    rows = []
    bits = {}                                  # does the count change a product's bits? a training step's first
    for dtype in (np.float32, np.float64):
        a, b = x[:batch_size].astype(dtype), np.random.default_rng(0).standard_normal((784, 256)).astype(dtype)
        products = []
        for n in counts:
            library.set_threads(n)
            products.append(a @ b)
        bits[f"{np.dtype(dtype).name}_first_layer_product_same_bits"] = all(
            np.array_equal(p, products[0]) for p in products)
    library.set_threads(blas.starting_threads())
    for n in counts:
        row: dict[str, object] = {"threads": n}
        row |= {f"{name}_epoch_s": statistics.median(epochs_s[f"{name}_{n}"]) for name in trainers}
        row |= {f"{name}_test_set_s": statistics.median(infer_s[f"{name}_{n}"]) for name in contenders}
        rows.append(row)
    best = min(rows, key=lambda r: r["glassnet_epoch_s"])  # type: ignore[arg-type,return-value]
    chosen = next((r for r in rows if r["threads"] == auto["count"]), None)
    summary: dict[str, object] = {"auto": auto, "measured": measured, "bits": bits, "best_threads": best["threads"],
                                  "best_epoch_s": best["glassnet_epoch_s"]}
    if chosen is not None:
        summary |= {"auto_epoch_s": chosen["glassnet_epoch_s"],
                    "auto_over_best": chosen["glassnet_epoch_s"] / best["glassnet_epoch_s"]}  # type: ignore[operator]
    by_threads = {str(r["threads"]): r for r in rows}
    return {"batch_size": batch_size, "epochs": epochs, "rows": rows, "by_threads": by_threads} | summary


def print_curve(result: dict[str, object]) -> None:
    print(f"\ntraining epoch at batch {result['batch_size']} (s, medians of {result['epochs']}) and the 10,000 test "
          "images (ms, folded network unless named)")
    print(f"{'threads':>7}{'glassnet':>10}{'PyTorch':>9}{'GEMMs':>8}   {'one call':>9}{'pooled':>8}"
          f"{'layers pooled':>14}{'PyTorch':>9}")
    for row in result["rows"]:  # type: ignore[attr-defined]
        print(f"{row['threads']:>7}{row['glassnet_epoch_s']:>10.3f}{row['torch_epoch_s']:>9.3f}"
              f"{row['bound_epoch_s']:>8.3f}   {1e3 * row['one_call_test_set_s']:>9.2f}"
              f"{1e3 * row['pooled_test_set_s']:>8.2f}{1e3 * row['layers_pooled_test_set_s']:>14.2f}"
              f"{1e3 * row['torch_test_set_s']:>9.2f}")
    auto = result["auto"]
    measured = result["measured"]
    print(f"training chooses {auto['count']} thread(s) by itself ({auto['source']}); "  # type: ignore[index]
          f"--threads measure: {measured['count']} ({measured.get('seconds_per_step', {})}); "  # type: ignore[index,attr-defined]
          f"the fastest epoch above is on {result['best_threads']}")
    print(f"the same first-layer product on each count, bit for bit: {result['bits']}")


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
    parser.add_argument("--threads", help="the curve instead: BLAS thread counts, e.g. 1,2,4,8,16")
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
    if args.threads:
        info = machine()
        print(json.dumps(info))
        result = curve([int(n) for n in args.threads.split(",")], x, y, to_inputs(mnist.test_images), args.epochs)
        print_curve(result)
        if args.json:
            args.json.write_text(json.dumps({"info": info} | result, indent=1) + "\n")
        return
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
