"""The live view's screenshots in the docs, from a real run: docs/assets/live-view-1280.png and -390.png.

Trains the reference recipe for a few epochs on MNIST with ``glassnet train --watch``, waits for the run to
finish (the view then replays its whole record), and saves the Training tab, full page, at 1280 and 390 px
wide in the system Chromium (Playwright drives it).

    GLASSNET_DATA=/path/to/mnist nice -n 10 python scripts/screenshot_live.py --epochs 3
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

WIDTHS = (1280, 390)
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def owner_url(train: subprocess.Popen[str]) -> str:
    """The live view's address that ``glassnet train --watch`` prints, once training has finished."""
    assert train.stdout is not None
    url = None
    for line in train.stdout:
        print(line, end="", flush=True)
        if line.startswith("live view: "):
            url = line.split()[-1]
        if line.startswith("training finished") and url:
            return url
    sys.exit(f"the run ended before its live view said training finished (exit {train.wait()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data-dir", help="MNIST folder (default: $GLASSNET_DATA)")
    parser.add_argument("--out", type=Path, default=Path("docs/assets"), help="where the PNG files go")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("needs the system Chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / f"reference-{args.epochs}-epochs"            # the name the page shows
        command = [sys.executable, "-u", "-m", "glassnet", "train", "--out", str(run),
                   "--epochs", str(args.epochs), "--watch", "--watch-port", "0", "--quiet", "--no-download",
                   *(["--data-dir", args.data_dir] if args.data_dir else [])]
        train = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            url = owner_url(train)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
                for width in WIDTHS:
                    page = browser.new_page(viewport={"width": width, "height": 900})
                    page.goto(url)
                    page.wait_for_function("() => window.glassnetLive.end !== null && window.glassnetLive.polls > 1",
                                           timeout=600_000)
                    path = args.out / f"live-view-{width}.png"
                    page.screenshot(path=str(path), full_page=True)
                    print(f"saved {path}")
                    page.close()
                browser.close()
        finally:
            train.terminate()                          # the view stays up after training until told to stop
            train.wait()


if __name__ == "__main__":
    main()
