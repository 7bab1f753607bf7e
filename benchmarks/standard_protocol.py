"""Benchmark: the standard-protocol targets, measured side by side in one run through the real CLI.

    python benchmarks/standard_protocol.py [--full-dir DIR] [--seeds 0 1 2] [--only NAME ...]

DIR defaults to $MNIST_TUI_REAL_MNIST_FULL (the whole MNIST: 60,000 train + 10,000 test).
Every row is one `mnist-tui --batch` run with its default preset unless the row says otherwise;
accuracy is always on images the model never trained on (the 10,000 test images), or for
clustering one-to-one (Hungarian) over every image clustered. Targets:

  cnn         standard protocol (train 60,000 less validation, score 10,000): ≥ 0.996 test
              accuracy as the mean of the seeds, ≤ 240 s of training each;
  tsne-gmm    default preset on all 70,000 images: one-to-one ≥ 0.98, ≤ 90 s end to end;
  vgg16-1k    --weights none --input-size 32, 1,000 images, 1 epoch: ≥ 0.5 on the test split;
  vgg16-6k    --weights none --input-size 32, 6,000 images, 10 epochs: ≥ 0.95 on the test split;
  offline     --weights imagenet with the weights URL unreachable: one `error:` line, exit 2,
              within 10 s.

The machine's load (1-minute average) is printed beside each row: timings on a shared 2-core
machine are only comparable within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from statistics import mean

ROWS = ("cnn", "tsne-gmm", "vgg16-1k", "vgg16-6k", "offline")


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


def batch(args: list[str], runs_dir: str, env: dict | None = None,
          json_out: bool = True) -> tuple[dict | None, str, int, float]:
    """(result, stderr, exit code, wall seconds); progress goes to stderr with the JSON."""
    cmd = [sys.executable, "-m", "mnist_tui", "--batch", "--runs-dir", runs_dir,
           *(["--json", "-"] if json_out else []), *args]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False,
                         env={**os.environ, **(env or {})})
    wall = time.perf_counter() - t
    try:
        result = json.loads(out.stdout) if out.stdout.strip() else None
    except ValueError:
        result = None
    return result, out.stderr, out.returncode, wall


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def verdict(ok: bool) -> str:
    return "MET" if ok else "not met"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full-dir", default=os.environ.get("MNIST_TUI_REAL_MNIST_FULL"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--only", nargs="+", choices=ROWS, default=list(ROWS))
    args = ap.parse_args()
    if not args.full_dir:
        sys.exit("error: no data: pass --full-dir or set MNIST_TUI_REAL_MNIST_FULL")
    runs_dir = tempfile.mkdtemp(prefix="bench-runs-")
    data = ["--data-dir", args.full_dir]
    print(f"{'row':<26} {'seed':>4} {'images':>7} {'accuracy':>9} {'train s':>8} "
          f"{'total s':>8} {'load':>5}")

    def show(label: str, seed, r: dict, acc_key: str, train_key: str = "training") -> None:
        t = r["timings"]
        print(f"{label:<26} {seed:>4} {r['dataset']['n_samples']:>7,} "
              f"{r['metrics'][acc_key]:>9.4f} {t.get(train_key, 0):>8.1f} {t['total']:>8.1f} "
              f"{load():>5}", flush=True)

    summary = []
    def seeds_of(job: str, label: str, acc_key: str, train_key: str) -> list[dict]:
        """One default run of `job` per seed, each shown as it ends."""
        rs = []
        for s in args.seeds:
            r, err, code, _ = batch(["--job", job, *data, "--seed", str(s)], runs_dir)
            if code != 0:
                sys.exit(f"{job} seed {s} failed ({code}): {err[-2000:]}")
            rs.append(r)
            show(label, s, r, acc_key, train_key)
        return rs

    if "cnn" in args.only:
        rs = seeds_of("cnn", "cnn standard protocol", "accuracy", "training")
        accs = [r["metrics"]["accuracy"] for r in rs]
        slowest = max(r["timings"]["training"] for r in rs)
        summary.append(f"cnn: mean {mean(accs):.4f} (spread {max(accs) - min(accs):.4f}) "
                       f"≥ 0.996 {verdict(mean(accs) >= 0.996)}; slowest training "
                       f"{slowest:.0f} s ≤ 240 s {verdict(slowest <= 240)}")
    if "tsne-gmm" in args.only:
        rs = seeds_of("tsne-gmm", "tsne-gmm all images", "accuracy_hungarian", "tsne")
        accs = [r["metrics"]["accuracy_hungarian"] for r in rs]
        slowest = max(r["timings"]["total"] for r in rs)
        summary.append(f"tsne-gmm: mean one-to-one {mean(accs):.4f} (spread "
                       f"{max(accs) - min(accs):.4f}) ≥ 0.98 {verdict(min(accs) >= 0.98)} "
                       f"(every seed); slowest {slowest:.0f} s end to end ≤ 90 s "
                       f"{verdict(slowest <= 90)}")
    vgg = ["--job", "vgg16", *data, "--weights", "none", "--input-size", "32"]
    for row, extra, target in (("vgg16-1k", ["--samples", "1000", "--epochs", "1"], 0.5),
                               ("vgg16-6k", ["--samples", "6000", "--epochs", "10"], 0.95)):
        if row not in args.only:
            continue
        r, err, code, _ = batch([*vgg, *extra], runs_dir)
        if code != 0:
            sys.exit(f"{row} failed ({code}): {err[-2000:]}")
        show(f"{row} random weights 32px", 0, r, "accuracy")
        acc = r["metrics"]["accuracy"]
        summary.append(f"{row}: {acc:.4f} ≥ {target} {verdict(acc >= target)}"
                       + (f"; warnings: {r['warnings']}" if r.get("warnings") else ""))
    if "offline" in args.only:
        keras_home = tempfile.mkdtemp(prefix="bench-keras-")
        r, err, code, wall = batch(["--job", "vgg16", *data, "--input-size", "32"], runs_dir,
                                   env={"KERAS_HOME": keras_home,
                                        "MNIST_TUI_WEIGHTS_URL": closed_port_url()},
                                   json_out=False)   # stderr then holds only the error
        lines = err.strip().splitlines()
        ok = code == 2 and len(lines) == 1 and lines[0].startswith("error:") and wall <= 10
        print(f"{'vgg16 imagenet offline':<26} {'':>4} {'':>7} {'':>9} {'':>8} {wall:>8.1f} "
              f"{load():>5}")
        summary.append(f"offline: exit {code}, {len(lines)} stderr line(s), {wall:.1f} s ≤ 10 s "
                       f"{verdict(ok)}: {lines[-1] if lines else ''}")
    print()
    for line in summary:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
