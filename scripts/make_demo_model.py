"""Make the pretrained model that ships in the package: the reference recipe, seed 0, on MNIST.

    python scripts/make_demo_model.py [--data-dir DIR]

Trains `glassnet train`'s reference recipe (the `seed` preset, seed 0, 50 epochs) from scratch,
measures its test accuracy with `evaluate`, and writes src/glassnet/demo/model.npz: the model
alone (no optimizer state, about 1 MB), with the recipe, the seed, the accuracy and this command in
its metadata. `glassnet serve` with no trained model, `glassnet predict --model demo` and
`glassnet info demo` use it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from glassnet.checkpoint import save_checkpoint
from glassnet.config import PRESETS
from glassnet.data.mnist import load_mnist
from glassnet.train import TrainData, evaluate, fit
from glassnet.version import __version__

OUT = Path(__file__).parents[1] / "src" / "glassnet" / "demo" / "model.npz"
COMMAND = "python scripts/make_demo_model.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="MNIST folder (default: GLASSNET_DATA, then the cache)")
    args = parser.parse_args()
    mnist = load_mnist(args.data_dir)
    data = TrainData(mnist.train_images.reshape(-1, 784), mnist.train_labels, mnist.test_images.reshape(-1, 784),
                     mnist.test_labels, description={"name": mnist.name, "official": mnist.official})
    config = PRESETS["seed"]
    result = fit(config, data)
    loss, accuracy, _ = evaluate(result.model, data.x_eval, data.y_eval)
    save_checkpoint(OUT, result.model, {
        "glassnet_version": __version__, "config": config.to_dict(), "epoch": config.epochs,
        "demo": {"recipe": "the reference recipe (--preset seed)", "seed": config.seed, "command": COMMAND,
                 "test_accuracy": accuracy, "test_loss": loss, "dataset": mnist.name}})
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB): test accuracy {accuracy:.2%}")


if __name__ == "__main__":
    main()
