"""TUI targets, measured as a person sees them: in an 80×24 tmux pane.

    python benchmarks/tui_latency.py [--presses 60] [--job cnn|tsne|none] [--queue 3]
                                     [--parallel 1] [--starts 5]

1. launch to first frame: from sending the command to the pane until the Dataset screen's key
   bar is on it (its pinned "q Quit": "r Retry download" shows only where a download failed;
   median of --starts runs; includes the interpreter start). Target ≤ 400 ms;
2. key press → screen: while a job launched from the form trains (cnn by default; one CNN keeps
   about 1.4 of 2 cores busy here, `--parallel 2 --queue 4` runs two at once to saturate both;
   the CPU use is printed), alternate 5 (Runs) and 3 (Monitor, with its live plots) — screen
   switches, the heaviest redraws a key causes — and time until the pane shows the new screen;
3. then `p` on the Monitor (its title changes in place), every key press together, and whether
   the job was still training after the last one (--queue jobs run back to back to see to it).

BENCH_EXTRA_ENV adds variables to the app's environment (e.g. MNIST_TUI_WORKER_NICE=19).
Screen switches used to cost Textual's 50 ms `delay_update` hold on top of the redraw (the app
now skips it for screens already built: MnistApp.delay_update), and with both cores busy the
workers' nice did nothing until their autogroup was niced too (launch.lower_priority). The
app's own full garbage collections (75–147 ms each, every ~8 s while a CNN trains) were the
other source of slow presses; tui/heap.py freezes the startup heap (now 20–64 ms).

Needs tmux and real digits in MNIST_TUI_REAL_MNIST (or --data-dir). Polling capture-pane costs
CPU itself, so the figures are an upper bound.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = str(Path(sys.executable).with_name("mnist-tui"))
SESSION = "mnist-tui-bench"
KEY_BAR = " Quit"     # the key bar's last item, on every screen: the first frame is up
MONITOR = "c Cancel"  # the Monitor's first key (and no other screen's)


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def pane() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def wait_for(text: str, timeout: float = 60, step: float = 0.01) -> float:
    t0 = time.perf_counter()
    while text not in pane():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"{text!r} not on screen:\n{pane()}")
        time.sleep(step)
    return time.perf_counter()


def start(env: str) -> None:
    tmux("kill-session", "-t", SESSION)
    tmux("new-session", "-d", "-s", SESSION, "-x", "80", "-y", "24", "bash --norc")
    time.sleep(0.5)
    tmux("send-keys", "-t", SESSION, f"clear; env {env} {BIN}", "Enter")


def quit_app() -> None:
    tmux("send-keys", "-t", SESSION, "q")
    time.sleep(0.5)
    tmux("send-keys", "-t", SESSION, "s")   # quitting asks: stop the jobs (they are detached)
    time.sleep(2)
    tmux("kill-session", "-t", SESSION)


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]   # idle + iowait
    return sum(fields) - idle, sum(fields)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("MNIST_TUI_REAL_MNIST"))
    ap.add_argument("--presses", type=int, default=60)
    ap.add_argument("--starts", type=int, default=5)
    ap.add_argument("--job", choices=("cnn", "tsne", "none"), default="cnn")
    ap.add_argument("--queue", type=int, default=3, help="jobs queued back to back")
    ap.add_argument("--parallel", type=int, default=1,
                    help="jobs the app runs at once (2 CNNs keep both cores busy)")
    args = ap.parse_args()
    if not args.data_dir:
        sys.exit("error: no data: pass --data-dir or set MNIST_TUI_REAL_MNIST")
    tmp = tempfile.mkdtemp(prefix="tui-bench-")
    env = (f"MNIST_TUI_RUNS_DIR={tmp}/runs MNIST_TUI_DATA_DIR={args.data_dir} "
           + f"MNIST_TUI_PARALLEL={args.parallel} "
           + os.environ.get("BENCH_EXTRA_ENV", "") + " "
           f"MNIST_TUI_CACHE_DIR={tmp}/cache")

    firsts = []
    for _ in range(args.starts):
        start(env)
        t0 = time.perf_counter()
        firsts.append(wait_for(KEY_BAR, 20, 0.002) - t0)
        quit_app()
    print(f"launch to first frame: median {statistics.median(firsts) * 1000:.0f} ms, "
          f"max {max(firsts) * 1000:.0f} ms over {len(firsts)} starts (target ≤ 400 ms)")

    start(env)
    wait_for(KEY_BAR, 20)
    tmux("send-keys", "-t", SESSION, "2")
    wait_for("Start job")
    time.sleep(0.5)
    if args.job == "cnn":   # the job select has focus: open it, pick the CNN
        for key in ("Enter", "Down", "Down", "Enter"):
            tmux("send-keys", "-t", SESSION, key)
            time.sleep(0.3)
    if args.job != "none":
        # Queue several (they run one after another) so training outlasts every timed press.
        for i in range(args.queue):
            if i:
                tmux("send-keys", "-t", SESSION, "2")
                wait_for("Start job")
                time.sleep(0.3)
            tmux("send-keys", "-t", SESSION, "C-s")
            wait_for(MONITOR, 10)
            time.sleep(0.5)
        wait_for("training " if args.job == "cnn" else "tsne ", 180)
    cpu0 = cpu_times()
    per: dict[str, list[float]] = {"5": [], "3": []}
    shows = {"5": "v Compare", "3": MONITOR}
    for i in range(args.presses):
        key = "5" if i % 2 == 0 else "3"
        time.sleep(0.3)
        t0 = time.perf_counter()
        tmux("send-keys", "-t", SESSION, key)
        per[key].append((wait_for(shows[key], 10) - t0) * 1000)
    # A key that changes the Monitor in place: `p` toggles "screen paused" in its title.
    toggles: list[float] = []
    for i in range(args.presses // 2):
        time.sleep(0.3)
        t0 = time.perf_counter()
        tmux("send-keys", "-t", SESSION, "p")
        if i % 2 == 0:
            t1 = wait_for("screen paused", 10)
        else:
            t1 = t0
            while "screen paused" in pane():
                time.sleep(0.01)
            t1 = time.perf_counter()
        toggles.append((t1 - t0) * 1000)
    load = Path("/proc/loadavg").read_text().split()[:3]
    cpu1 = cpu_times()
    busy = (cpu1[0] - cpu0[0]) / max(1, cpu1[1] - cpu0[1])
    # Honesty check: the job must still have been training when the last key was timed.
    still = args.job == "none" or "▶ running" in pane()
    quit_app()
    everything = per["5"] + per["3"]
    for key, name in (("5", "to Runs"), ("3", "to Monitor")):
        print(f"key {key} ({name}): p50 {pct(per[key], .5):.0f} ms, p95 {pct(per[key], .95):.0f} ms")
    print(f"key p (pause toggle on Monitor): p50 {pct(toggles, .5):.0f} ms, "
          f"p95 {pct(toggles, .95):.0f} ms")
    print(f"all {len(everything)} screen switches while {args.job} trains: p50 {pct(everything, .5):.0f} "
          f"ms, p95 {pct(everything, .95):.0f} ms, max {max(everything):.0f} ms "
          f"(target p95 ≤ 100 ms); load average {' '.join(load)}")
    keys = everything + toggles
    print(f"all {len(keys)} key presses: p50 {pct(keys, .5):.0f} ms, p95 {pct(keys, .95):.0f} ms")
    print(f"CPU busy while the keys were timed: {100 * busy:.0f}% of {os.cpu_count()} cores")
    if args.job != "none":
        print(f"{args.job} still running after the last press: {'yes' if still else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
