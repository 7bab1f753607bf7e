"""Benchmark: the paths a person waits on before any job, measured side by side in one run.

    python benchmarks/quick_paths.py [--repeats 5] [--data-dir DIR]

These used to be time limits inside the tests (tests/test_cli.py, tests/engine/test_stats.py);
the tests now check only what these paths print and compute, and the speed lives here:

1. `python -m mnist_tui --help` (and the `mnist-tui` script beside this interpreter, when it is
   installed) against a bare interpreter start (`python -c pass`) — the difference is what the
   help itself costs; it imports nothing heavy (the test checks that). Target: under 1 s, the
   interpreter start included (the old test allowed 2 s on a loaded machine).
2. `dataset_stats` (the Dataset screen's numbers) on 70,000 random 28×28 images, beside NumPy's
   own `mean()` + `std()` over the same array for scale (they go through float64; the stats'
   pixel histogram does not, and also counts classes, class means and samples). Target: under 1 s (vectorised: about
   0.3 s on an idle machine; a per-image Python loop, the regression it guards against, takes
   minutes). With real MNIST (--data-dir, default $MNIST_TUI_REAL_MNIST) one more row times it
   on that folder's digits as the Dataset screen loads them;
3. with real MNIST, also reading its test set's IDX files (`read_images` + `read_labels`, the
   gzip inflation and parsing). Target: under 500 ms (a per-byte Python decoder takes tens of
   seconds for its 7.8 MB); tests/engine/test_idx.py still bounds it at 5 s.

Each row is the median and the maximum over --repeats runs. The machine's load (1-minute
average) is printed beside each row: on a shared 2-core machine timings are only comparable
within one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mnist_tui.engine.data.datasets import Dataset, Split
from mnist_tui.engine.data.idx import read_images, read_labels
from mnist_tui.engine.data.mnist_files import load_mnist_dir
from mnist_tui.engine.data.stats import dataset_stats


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall-clock seconds of `repeats` calls of `fn`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def command(*args: str) -> Callable[[], object]:
    def call() -> object:
        return subprocess.run(list(args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              check=True)
    return call


def row(what: str, times: list[float], target: str) -> None:
    print(f"| {what} | {statistics.median(times) * 1000:.0f} | {max(times) * 1000:.0f} | "
          f"{target} | {os.getloadavg()[0]:.1f} |", flush=True)


def random_mnist_sized() -> Dataset:
    rng = np.random.default_rng(0)
    train = Split(rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8),
                  rng.integers(0, 10, 60000))
    test = Split(rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8),
                 rng.integers(0, 10, 10000))
    return Dataset("big", "random", {"train": train, "test": test})


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data-dir", default=os.environ.get("MNIST_TUI_REAL_MNIST"))
    args = ap.parse_args()
    n = args.repeats
    print(f"{n} runs each, {os.cpu_count()} cores")
    print("| what | median ms | max ms | target | load |")
    print("| --- | --- | --- | --- | --- |")

    row("`python -c pass` (interpreter start alone)",
        timed(command(sys.executable, "-c", "pass"), n), "—")
    row("`python -m mnist_tui --help`",
        timed(command(sys.executable, "-m", "mnist_tui", "--help"), n), "< 1000")
    script = Path(sys.executable).with_name("mnist-tui")
    if script.exists():
        row("`mnist-tui --help`", timed(command(str(script), "--help"), n), "< 1000")

    ds = random_mnist_sized()
    images = np.concatenate([s.images for s in ds.splits.values()])
    row("for scale: NumPy `mean()` + `std()` of the same images",
        timed(lambda: (images.mean(), images.std()), n), "—")
    row("`dataset_stats`, 70,000 random 28×28 images", timed(lambda: dataset_stats(ds), n),
        "< 1000")
    if args.data_dir:
        real = load_mnist_dir(Path(args.data_dir))
        row(f"`dataset_stats`, the {real.n_samples:,} digits in {args.data_dir}",
            timed(lambda: dataset_stats(real), n), "< 1000")
        folder = Path(args.data_dir)
        found = [sorted(folder.glob(f"t10k-{kind}*")) for kind in ("images-idx3", "labels-idx1")]
        if all(found):
            images_file, labels_file = found[0][0], found[1][0]
            row(f"`read_images` + `read_labels`: {images_file.name}, {labels_file.name}",
                timed(lambda: (read_images(images_file), read_labels(labels_file)), n),
                "< 500")
        else:
            print(f"| reading the test set's IDX files | skipped: no t10k-* files in "
                  f"{args.data_dir} | | | |")
    else:
        print("| `dataset_stats` on real digits, reading IDX files | skipped: no --data-dir "
              "| | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
