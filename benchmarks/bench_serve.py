"""Latency of ``POST /api/predict`` against a real ``glassnet serve`` server on 127.0.0.1.

    python benchmarks/bench_serve.py MODEL [--requests 1000] [--clients 1] [--bad-every 0]

Each client sends its requests one after another over its own keep-alive
connection, the body being a 112×112 drawing as the page sends it. With
``--bad-every K`` every K-th request is malformed (and must get 400). Prints
counts, failures and latency percentiles; the server runs in this process.
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from glassnet.checkpoint import load_model
from glassnet.web.server import DigitApp, make_server

BAD = [b"{not json", b'{"pixels": [1, 2]}', b'{"image": [[NaN]]}', b'{"image": [[2.0]]}', b"[]"]


def drawing(rng: np.random.Generator) -> bytes:
    image = np.zeros((112, 112))
    top, left = rng.integers(5, 40, 2)
    image[top:top + 60, left:left + 12] = 1.0
    return json.dumps({"image": image.round(3).tolist()}).encode()


def client(port: int, n: int, bad_every: int, seed: int, token: str) -> tuple[list[float], int, int]:
    rng = np.random.default_rng(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, failures, bad_ok = [], 0, 0
    bodies = [drawing(rng) for _ in range(8)]
    for i in range(n):
        malformed = bad_every and i % bad_every == bad_every - 1
        body = BAD[i % len(BAD)] if malformed else bodies[i % len(bodies)]
        started = time.perf_counter()
        try:
            connection.request("POST", "/api/predict", body, {"Content-Type": "application/json",
                                                              "Authorization": f"token {token}"})
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status = 0
        latencies.append(time.perf_counter() - started)
        if malformed:
            bad_ok += status == 400
        elif status != 200:
            failures += 1
    connection.close()
    return latencies, failures, bad_ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--requests", type=int, default=1000, help="requests per client")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--bad-every", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    model, _ = load_model(args.model)
    token = secrets.token_urlsafe(32)                         # the server answers only its owner
    server = make_server(DigitApp(model), "127.0.0.1", 0, token)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    client(port, 20, 0, 99, token)                                   # warm-up, then measure memory from here
    rss_before = rss_mib()
    started = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        results = list(pool.map(lambda c: client(port, args.requests, args.bad_every, c, token), range(args.clients)))
    wall = time.perf_counter() - started
    server.shutdown()
    latencies = sorted(ms * 1e3 for r in results for ms in r[0])
    failures = sum(r[1] for r in results)
    n_bad = sum(args.requests // args.bad_every for _ in results) if args.bad_every else 0
    print(f"{len(latencies)} requests from {args.clients} client(s) in {wall:.1f} s "
          f"({len(latencies) / wall:.0f}/s); valid requests failed: {failures}; "
          f"malformed answered 400: {sum(r[2] for r in results)}/{n_bad}")
    figures = {"requests": len(latencies), "clients": args.clients, "seconds": wall, "valid_failed": failures,
               "malformed": n_bad, "malformed_answered_400": sum(r[2] for r in results),
               "median_ms": statistics.median(latencies), "p90_ms": latencies[int(0.9 * len(latencies))],
               "p99_ms": latencies[int(0.99 * len(latencies)) - 1], "max_ms": latencies[-1],
               "rss_before_mib": rss_before, "rss_after_mib": rss_mib()}
    print(f"latency ms: median {figures['median_ms']:.2f}, p90 {figures['p90_ms']:.2f}, "
          f"p99 {figures['p99_ms']:.2f}, max {figures['max_ms']:.2f}; server RSS {rss_before:.0f} → "
          f"{figures['rss_after_mib']:.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


def rss_mib() -> float:
    """Resident memory of this process (the server runs in it), from /proc."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


if __name__ == "__main__":
    main()
