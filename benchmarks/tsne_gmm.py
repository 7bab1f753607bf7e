"""Benchmark: the clustering targets, measured side by side in one run through the real CLI.

    python benchmarks/tsne_gmm.py [--data-dir DIR] [--full-dir DIR] [--seeds 0 1 2]

--data-dir defaults to $MNIST_TUI_REAL_MNIST (the real MNIST test set), --full-dir to
$MNIST_TUI_REAL_MNIST_FULL (the whole MNIST). Prints up to three tables:

1. preset `seed` (the reference notebook: 3-D sklearn t-SNE on raw pixels, GMM, one start) vs
   preset `default` on the same 4,800 images — target: default ≥ 5× faster and one-to-one
   accuracy ≥ 0.92;
2. preset `default` on all 10,000 test images for each seed — target: one-to-one accuracy
   ≥ 0.95 as the mean, spread (max − min) ≤ 0.02, each under 60 s;
3. preset `default` on all 70,000 images of the whole MNIST (no --samples: every image) for each
   seed — target: one-to-one accuracy ≥ 0.98, ≤ 90 s end to end (the job's whole total,
   loading included).

"time" is the job's own total minus data loading (preprocessing, PCA, t-SNE, GMM, scoring).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from statistics import mean


def run(data_dir: str, runs_dir: str, *args: str) -> dict:
    cmd = [sys.executable, "-m", "mnist_tui", "--batch", "--job", "tsne-gmm", "--data-dir",
           data_dir, "--runs-dir", runs_dir, "--json", "-", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return json.loads(out.stdout)


def compute_seconds(result: dict) -> float:
    t = result["timings"]
    return t["total"] - t.get("loading", 0.0)


def row(label: str, r: dict) -> str:
    m = r["metrics"]
    return (f"{label:<34} {r['dataset']['n_samples']:>6,} {m['accuracy_hungarian']:>10.4f} "
            f"{m['accuracy_majority']:>10.4f} {m['nmi']:>6.3f} {compute_seconds(r):>8.1f} "
            f"{r['timings'].get('tsne', 0):>7.1f} {r['timings'].get('gmm', 0):>6.1f}")


HEADER = (f"{'run':<34} {'images':>6} {'one-to-one':>10} {'majority':>10} {'NMI':>6} "
          f"{'time s':>8} {'t-SNE s':>7} {'GMM s':>6}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("MNIST_TUI_REAL_MNIST"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--full-dir", default=os.environ.get("MNIST_TUI_REAL_MNIST_FULL"))
    ap.add_argument("--skip-seed-preset", action="store_true")
    ap.add_argument("--only-full", action="store_true", help="only table 3")
    args = ap.parse_args()
    if not args.data_dir:
        sys.exit("error: no data: pass --data-dir or set MNIST_TUI_REAL_MNIST")
    runs_dir = tempfile.mkdtemp(prefix="bench-runs-")
    if not args.only_full:
        test_split_tables(args, runs_dir)
    if args.full_dir:
        full_tables(args, runs_dir)
    return 0


def full_tables(args, runs_dir: str) -> None:
    print(f"\n3. default preset on every image of the whole MNIST, seeds {args.seeds}")
    print(HEADER + f" {'total s':>8}")
    results = []
    for s in args.seeds:
        r = run(args.full_dir, runs_dir, "--preset", "default", "--seed", str(s))
        results.append(r)
        print(row(f"default preset, seed {s}", r) + f" {r['timings']['total']:>8.1f}",
              flush=True)
    accs = [r["metrics"]["accuracy_hungarian"] for r in results]
    totals = [r["timings"]["total"] for r in results]
    print(f"one-to-one accuracy: mean {mean(accs):.4f} (target ≥ 0.98), spread "
          f"{max(accs) - min(accs):.4f}; slowest {max(totals):.1f} s end to end (target ≤ 90 s)")


def test_split_tables(args, runs_dir: str) -> None:

    print("1. the same 4,800 images (subset seed 0), seed 0")
    print(HEADER)
    default = run(args.data_dir, runs_dir, "--preset", "default", "--samples", "4800")
    print(row("default preset", default), flush=True)
    if not args.skip_seed_preset:
        seed = run(args.data_dir, runs_dir, "--preset", "seed", "--samples", "4800")
        print(row("seed preset (notebook)", seed))
        print(f"speed-up: {compute_seconds(seed) / compute_seconds(default):.1f}× "
              f"(target ≥ 5×); default one-to-one {default['metrics']['accuracy_hungarian']:.4f} "
              f"(target ≥ 0.92)")

    print(f"\n2. default preset on all 10,000 images, seeds {args.seeds}")
    print(HEADER)
    results = []
    for s in args.seeds:
        r = run(args.data_dir, runs_dir, "--preset", "default", "--samples", "10000",
                "--seed", str(s))
        results.append(r)
        print(row(f"default preset, seed {s}", r), flush=True)
    accs = [r["metrics"]["accuracy_hungarian"] for r in results]
    times = [compute_seconds(r) for r in results]
    print(f"one-to-one accuracy: mean {mean(accs):.4f} (target ≥ 0.95), spread "
          f"{max(accs) - min(accs):.4f} (target ≤ 0.02); slowest {max(times):.1f} s "
          f"(target < 60 s)")


if __name__ == "__main__":
    sys.exit(main())
