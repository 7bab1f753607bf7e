"""Benchmark: t-SNE + GMM with self-training (`--preset refined`) against the clustering alone,
measured side by side in one run through the real CLI.

    python benchmarks/refined.py [--full-dir DIR] [--test-dir DIR] [--seeds 0 1 2]

DIR defaults to $MNIST_TUI_REAL_MNIST_FULL (all 70,000 images) and $MNIST_TUI_REAL_MNIST (the
10,000 test images). Every refined run reports both numbers itself (the clustering alone, and
after self-training), so one run per seed and data set gives both columns. Targets (issue 14):
all 70,000: one-to-one ≥ 0.99, spread ≤ 0.003, ≤ 300 s end to end; the 10,000 test images
alone: ≥ 0.985, ≤ 90 s. The machine's load is printed beside each row: on a shared 2-core
machine timings are only comparable within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from statistics import mean


def run(data_dir: str, seed: int, runs: str) -> dict:
    out = os.path.join(runs, f"r-{seed}-{os.path.basename(data_dir)}.json")
    subprocess.run([sys.executable, "-m", "mnist_tui", "--batch", "--job", "tsne-gmm",
                    "--preset", "refined", "--data-dir", data_dir, "--seed", str(seed),
                    "--json", out], env={**os.environ, "MNIST_TUI_RUNS_DIR": runs},
                   stdout=subprocess.DEVNULL, check=True)
    with open(out, encoding="utf-8") as f:
        return json.load(f)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full-dir", default=os.environ.get("MNIST_TUI_REAL_MNIST_FULL"))
    ap.add_argument("--test-dir", default=os.environ.get("MNIST_TUI_REAL_MNIST"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    runs = tempfile.mkdtemp(prefix="refined-bench-")
    print("| data | seed | clustering alone | after self-training | refine s | total s | load |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, data_dir, target, budget in (("all 70,000", args.full_dir, 0.99, 300),
                                           ("10,000 test", args.test_dir, 0.985, 90)):
        if not data_dir:
            print(f"| {name} | skipped: no folder given | | | | | |")
            continue
        after, totals = [], []
        for seed in args.seeds:
            r = run(data_dir, seed, runs)
            a, b = r["metrics_clustering"]["accuracy_hungarian"], r["metrics"]["accuracy_hungarian"]
            t = r["timings"]
            after.append(b)
            totals.append(t["total"])
            load = os.getloadavg()[0]
            print(f"| {name} | {seed} | {a:.4f} | {b:.4f} | {t.get('refine', 0):.0f} | "
                  f"{t['total']:.0f} | {load:.1f} |", flush=True)
        spread = max(after) - min(after)
        print(f"| {name} | mean | | **{mean(after):.4f}** (spread {spread:.4f}; target ≥ "
              f"{target}) | | {mean(totals):.0f} (target ≤ {budget}) | |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
