"""``glassnet serve``: the draw-a-digit page for a trained model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from glassnet.checkpoint import CHECKPOINT_NAME
from glassnet.cli.common import UsageError, model_path
from glassnet.errors import GlassnetError


def newest_model(root: Path = Path("runs")) -> Path:
    """The most recently written runs/*/model.npz."""
    models = sorted(root.glob(f"*/{CHECKPOINT_NAME}"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise GlassnetError(f"no trained model in {root}/; train one with 'glassnet train' or pass MODEL")
    return models[-1]


def _newest_or_demo() -> Path:
    """The newest trained model, else (saying so) the pretrained one that ships with glassnet."""
    try:
        return newest_model()
    except GlassnetError:
        from glassnet.checkpoint import read_checkpoint
        from glassnet.demo import demo_model_path

        path = demo_model_path()
        demo = read_checkpoint(path)[0].get("demo", {})
        print(f"no trained model in runs/: serving the pretrained demo model ({demo.get('recipe', '?')}, "
              f"seed {demo.get('seed', '?')}, test accuracy {demo.get('test_accuracy', float('nan')):.2%}); "
              "train your own with 'glassnet train'", file=sys.stderr)
        return path


def cmd_serve(args: argparse.Namespace) -> int:
    from glassnet.checkpoint import load_model
    from glassnet.data.mnist import load_mnist
    from glassnet.errors import DatasetError
    from glassnet.web.auth import owner_token
    from glassnet.web.server import DigitApp, make_server

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be in 0-65535 (0 picks a free one), got {args.port}")
    token = owner_token()                          # GLASSNET_TOKEN, checked before anything is loaded
    path = model_path(args.model) if args.model else _newest_or_demo()
    live = None
    if args.live:
        from glassnet.web.live import LiveRun

        run_dir = path.parent if path.suffix == ".npz" else path
        if not run_dir.is_dir():
            raise GlassnetError(f"{run_dir}: no such run folder; pass a run folder to follow with --live")
        live = LiveRun(run_dir)
    model = None if live is not None else load_model(path)[0]
    images: Any = None
    labels: Any = None
    try:
        mnist = load_mnist(args.data_dir, download=False)
        images, labels = mnist.test_images, mnist.test_labels
    except DatasetError:
        print("(MNIST not found: the 'random test digit' button is off; pass --data-dir to turn it on)",
              file=sys.stderr)
    try:
        server = make_server(DigitApp(model, images, labels, live=live), args.host, args.port, token)
    except OSError as e:
        raise GlassnetError(f"cannot listen on {args.host}:{args.port} ({e.strerror or e}); "
                            "choose another --port") from e
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host} lets other machines reach this development server; it answers "
              "only requests addressed to 127.0.0.1 or localhost, with the token. To share the page with a class, "
              "export it: glassnet export MODEL --format web FOLDER", file=sys.stderr)
    url = server.owner_url(args.host, "#training" if live is not None else "")
    print(f"serving {path} on {url}  (Ctrl-C to stop; the address holds this server's token: keep it to "
          "yourself)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
