"""Benchmark: one sweep run three ways side by side in one run — members one at a time
(`--parallel 1`), two at once on this machine (`--parallel 2`), and on a Ray cluster of two
local nodes (`--executor ray`) — each into a fresh runs folder, through the real CLI.

    python benchmarks/suite_executors.py [--quick] [--data-dir DIR] [--json PATH]
                                         [--ways sequential,parallel,ray] [--runs-root DIR]

The sweep: t-SNE + GMM (preset default) on 400, 500 and 600 images × 4 seeds = 12 members, on
the real MNIST test set when --data-dir (default $MNIST_TUI_REAL_MNIST) is given, else on
scikit-learn's bundled digits. --quick: 2 members (200 and 300 images, one seed, 260 t-SNE
iterations, one GMM start), a smoke test of the script, not a measurement.

The Ray way starts a cluster of two nodes with one CPU each on this machine
(`ray.cluster_utils.Cluster`, bound to 127.0.0.1, no token authentication), runs the suite
with `--ray-address` set to it, and shuts the cluster down by its handle. Needs the [ray]
extra; without it the Ray row says so and the others still run.

What each column is:
- wall s: the whole `mnist-tui --batch --suite …` command (start-up, preflight, members,
  report); span s: from the first member's start to the last member's end (their records);
- members' CPU s: the members' own CPU seconds summed, from each run record
  (`system.cpu_seconds`, the worker's getrusage; older records without it: mean CPU % × total,
  marked ≈); all CPU s: every process under this script while the command ran (the CLI, its
  workers and, for Ray, the nodes' raylets and Ray workers), sampled from /proc — getrusage
  cannot see Ray's workers, whom the raylet never waits on;
- limit s: members' CPU s / cores — the soonest N members at once can possibly finish on
  this machine; "span over limit" is how far the members' span came above it (target for
  --parallel 2: within 15 %); "ceiling" is the sequential span over the sequential limit;
- speed-up: the sequential wall / this way's wall.
Then each member: its accuracy (one-to-one) per way, the largest difference from the
sequential run's, its time per way and, for Ray, which node ran it (and the attempt: 2 means
its first node died). On a shared 2-core machine timings are only comparable within one run:
the 1-minute load is printed per way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mnist_tui.engine.placement import usable_cpus
from mnist_tui.engine.runs import records
from mnist_tui.engine.runs.store import RunStore

RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",   # bind and advertise 127.0.0.1 only
           "RAY_AUTH_MODE": "disabled",                # no token written to ~/.ray
           "RAY_USAGE_STATS_ENABLED": "0"}
WAYS = ("sequential", "parallel", "ray")
TARGET_OVER_LIMIT = 0.15
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class MemberTime:
    """One member as its run record tells it."""

    key: str                    # "500 images seed 2"
    accuracy: float | None
    status: str
    total_s: float | None
    cpu_s: float | None         # the worker's CPU seconds (`system.cpu_seconds`)
    cpu_measured: bool          # False: estimated, mean CPU % × total (an older record)
    start: float | None         # epoch seconds (started_utc)
    where: str
    node: str | None
    attempt: int


@dataclass
class Way:
    name: str
    label: str
    status: str = "not run"     # finished | failed (…) | skipped: …
    wall_s: float | None = None
    cpu_s: float | None = None
    load: float | None = None
    members: list[MemberTime] = field(default_factory=list)
    most_at_once: int = 0

    @property
    def members_cpu_s(self) -> float | None:
        got = [m.cpu_s for m in self.members if m.cpu_s is not None]
        return sum(got) if got else None

    @property
    def span_s(self) -> float | None:
        """From the first member's start to the last one's end (their records)."""
        ends = [(m.start, m.start + m.total_s) for m in self.members
                if m.start is not None and m.total_s is not None]
        return max(e for _, e in ends) - min(s for s, _ in ends) if ends else None


# -- CPU of this script's process tree ---------------------------------------------------------

def _own_cpu(pid: str) -> tuple[int, str, float] | None:
    """(parent pid, start time, own CPU seconds) of a process; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            text = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    rest = text[text.rfind(")") + 2:].split()
    try:
        return int(rest[1]), rest[19], (int(rest[11]) + int(rest[12])) / CLOCK_TICKS
    except (IndexError, ValueError):
        return None


class TreeCpu:
    """The CPU seconds of every process below this one while it runs, sampled every
    `interval` s from /proc: each process's own time (not its reaped children's, which are
    processes of the tree seen themselves), the last value seen of each. Sampling, not
    getrusage: Ray's raylet lets its workers go without waiting on them, so their CPU never
    reaches anyone's RUSAGE_CHILDREN. A process's last `interval` before it ends is missed."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.seen: dict[tuple[int, str], float] = {}
        self.base: dict[tuple[int, str], float] = {}    # what those already there had used
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeCpu:
        self.sample()
        self.base = dict(self.seen)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def seconds(self) -> float:
        return sum(cpu - self.base.get(key, 0.0) for key, cpu in self.seen.items())

    def sample(self) -> None:
        procs = {int(pid): got for pid in os.listdir("/proc") if pid.isdigit()
                 if (got := _own_cpu(pid)) is not None}
        below, frontier = set(), {os.getpid()}
        while frontier:
            frontier = {pid for pid, (ppid, _, _) in procs.items()
                        if ppid in frontier and pid not in below}
            below |= frontier
        for pid in below:
            _, started, cpu = procs[pid]
            self.seen[(pid, started)] = cpu

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()


# -- one way -----------------------------------------------------------------------------------

def sweep_args(quick: bool, data_dir: str | None) -> list[str]:
    data = ["--data-dir", data_dir] if data_dir else ["--dataset", "digits"]
    if quick:
        return ["--sizes", "200,300", "--seeds", "1", "--iterations", "260", "--gmm-inits", "1",
                *data]
    return ["--sizes", "400,500,600", "--seeds", "4", *data]


def run_suite(way: Way, runs_dir: Path, args: list[str], timeout: float) -> None:
    cmd = [sys.executable, "-m", "mnist_tui", "--batch", "--suite", "sweep",
           "--methods", "tsne-gmm", "--presets", "default", "--runs-dir", str(runs_dir), *args]
    with TreeCpu() as meter:
        start = time.perf_counter()
        try:
            out = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            way.status = f"failed: still running after {timeout:.0f} s"
            return
        way.wall_s = time.perf_counter() - start
    way.cpu_s = meter.seconds
    way.load = os.getloadavg()[0]
    way.status = "finished" if out.returncode == 0 else f"failed (exit {out.returncode})"
    if out.returncode != 0:
        print(f"{way.label}: exit {out.returncode}\n{out.stderr[-2000:]}", file=sys.stderr)
    way.members = read_members(runs_dir)
    way.most_at_once = most_at_once(way.members)


def read_members(runs_dir: Path) -> list[MemberTime]:
    """The suite's members from their run records (through the engine's own reader)."""
    out = []
    for info in RunStore(runs_dir).list():
        res = info.result
        if res is None:
            continue
        total = res.total_seconds()
        system = res.system or {}
        cpu, mean = system.get("cpu_seconds"), system.get("cpu_percent_mean")
        measured = isinstance(cpu, (int, float))
        if not measured:
            cpu = mean / 100 * total if isinstance(mean, (int, float)) and total else None
        where = res.placement.where() if res.placement else "?"
        out.append(MemberTime(
            key=f"{res.n_images() or res.spec.get('samples')} images seed {res.seed}",
            accuracy=res.headline().value, status=res.status, total_s=total, cpu_s=cpu,
            cpu_measured=measured,
            start=records.utc_seconds(res.started_utc), where=where,
            node=res.placement.node if res.placement else None,
            attempt=res.placement.attempt if res.placement else 1))
    return sorted(out, key=lambda m: (len(m.key), m.key))


def most_at_once(members: list[MemberTime]) -> int:
    """The most members whose recorded [start, start + total] intervals overlap."""
    edges = sorted((t, d) for m in members if m.start is not None and m.total_s is not None
                   for t, d in ((m.start, 1), (m.start + m.total_s, -1)))
    now = most = 0
    for _, d in edges:
        now += d
        most = max(most, now)
    return most


def run_on_ray(way: Way, runs_dir: Path, args: list[str], timeout: float) -> dict[str, str]:
    """The Ray way on a two-node cluster started here; returns node id → its name."""
    os.environ.update(RAY_ENV)          # before Ray starts: the nodes and the CLI inherit them
    try:
        from ray.cluster_utils import Cluster
    except ImportError:
        way.status = 'skipped: Ray is not installed (pip install -e ".[ray]")'
        return {}
    cluster: Any = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "num_gpus": 0, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1, num_gpus=0)
        cluster.wait_for_nodes()
        names = {str(cluster.head_node.node_id): "node 1 (head)"}
        for i, node in enumerate(cluster.worker_nodes, start=2):
            names[str(node.node_id)] = f"node {i}"
        run_suite(way, runs_dir, [*args, "--executor", "ray", "--ray-address",
                                  str(cluster.address)], timeout)
        return names
    finally:
        cluster.shutdown()


# -- the tables --------------------------------------------------------------------------------

def num(value: float | None, fmt: str = ".1f") -> str:
    return "—" if value is None else format(value, fmt)


def summary_rows(ways: list[Way], cores: int) -> list[dict[str, Any]]:
    seq = next((w for w in ways if w.name == "sequential" and w.wall_s), None)
    rows = []
    for w in ways:
        cpu, span = w.members_cpu_s, w.span_s
        limit = cpu / cores if cpu is not None else None
        over = span / limit - 1 if limit and span else None
        speedup = seq.wall_s / w.wall_s if seq and seq.wall_s and w.wall_s else None
        rows.append({"way": w.name, "label": w.label, "status": w.status, "wall_s": w.wall_s,
                     "span_s": span, "members_cpu_s": cpu, "limit_s": limit,
                     "over_limit": over, "all_cpu_s": w.cpu_s, "speedup": speedup,
                     "most_at_once": w.most_at_once, "members": len(w.members),
                     "cpu_estimated": any(not m.cpu_measured for m in w.members),
                     "load": w.load})
    return rows


def print_summary(rows: list[dict[str, Any]], cores: int) -> None:
    print(f"\n{cores} cores; span: first member's start to last one's end; limit: members' CPU "
          f"s / {cores}; all CPU s: every process of the way (driver, workers, Ray's own)")
    print("| way | members (most at once) | wall s | span s | members' CPU s | limit s "
          "| span over limit | all CPU s | speed-up | load | status |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        over = "—" if r["over_limit"] is None else f"{r['over_limit'] * 100:+.0f} %"
        if r["way"] == "parallel" and r["over_limit"] is not None:
            over += " ✓" if r["over_limit"] <= TARGET_OVER_LIMIT else (
                f" (target ≤ {TARGET_OVER_LIMIT * 100:.0f} %)")
        cpu = num(r["members_cpu_s"]) + (" ≈" if r["cpu_estimated"] else "")
        print(f"| {r['label']} | {r['members']} ({r['most_at_once']}) | {num(r['wall_s'])} | "
              f"{num(r['span_s'])} | {cpu} | {num(r['limit_s'])} | {over} | "
              f"{num(r['all_cpu_s'])} | {num(r['speedup'], '.2f')}× | {num(r['load'])} | "
              f"{r['status']} |")
    if any(r["cpu_estimated"] for r in rows):
        print("≈: some records hold no CPU seconds; their mean CPU % × total time instead")
    seq = next((r for r in rows if r["way"] == "sequential" and r["limit_s"] and r["span_s"]),
               None)
    if seq:
        print(f"ceiling here: {seq['span_s'] / seq['limit_s']:.2f}× (the sequential members' "
              f"span over their CPU s / {cores}: members at once cannot beat the cores)")


def print_members(ways: list[Way], nodes: dict[str, str]) -> dict[str, Any]:
    ran = [w for w in ways if w.members]
    if not ran:
        return {}
    keys = sorted({m.key for w in ran for m in w.members}, key=lambda k: (len(k), k))
    by = {w.name: {m.key: m for m in w.members} for w in ran}
    print("\n| member | " + " | ".join(f"{w.label} accuracy | s" for w in ran) +
          (" | Ray node (attempt) |" if "ray" in by else " |"))
    print("| --- |" + " --- | --- |" * len(ran) + (" --- |" if "ray" in by else ""))
    for key in keys:
        cells = []
        for w in ran:
            m = by[w.name].get(key)
            cells.append("— | —" if m is None else
                         f"{num(m.accuracy, '.4f')}{'' if m.status == 'finished' else ' ' + m.status}"
                         f" | {num(m.total_s)}")
        node = ""
        if "ray" in by and (m := by["ray"].get(key)) is not None:
            node = f" {nodes.get(m.node or '', m.where)} ({m.attempt}) |"
        print(f"| {key} | " + " | ".join(cells) + " |" + node)
    agree: dict[str, Any] = {}
    if "sequential" in by:
        for w in ran:
            diffs = [abs(a.accuracy - b.accuracy) for k, a in by[w.name].items()
                     if (b := by["sequential"].get(k)) is not None
                     and a.accuracy is not None and b.accuracy is not None]
            agree[w.name] = max(diffs) if diffs else None
        print("accuracy against the sequential run, largest difference: " + ", ".join(
            f"{w.label} {num(agree[w.name], '.4f')}" for w in ran if w.name != "sequential"))
    return agree


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 small members: a smoke test")
    ap.add_argument("--data-dir", default=os.environ.get("MNIST_TUI_REAL_MNIST"),
                    help="MNIST in a folder (default $MNIST_TUI_REAL_MNIST; else digits)")
    ap.add_argument("--ways", default=",".join(WAYS), help="which ways, of " + ",".join(WAYS))
    ap.add_argument("--json", metavar="PATH", help="also write the tables as JSON here")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per way at most")
    ap.add_argument("--runs-root", metavar="DIR", help="put each way's runs folder here "
                    "(default: a new temporary folder, kept for a look at the runs)")
    args = ap.parse_args()
    chosen = [w.strip() for w in args.ways.split(",") if w.strip()]
    if not chosen or set(chosen) - set(WAYS):
        ap.error(f"--ways: some of {','.join(WAYS)}")
    cores = usable_cpus()
    base = sweep_args(args.quick, args.data_dir)
    root = Path(args.runs_root or tempfile.mkdtemp(prefix="suite-executors-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"sweep: tsne-gmm default {' '.join(base)}; runs folders under {root}", flush=True)
    labels = {"sequential": "--parallel 1", "parallel": "--parallel 2",
              "ray": "Ray, 2 nodes × 1 CPU"}
    ways, nodes = [], {}
    for name in WAYS:
        if name not in chosen:
            continue
        way = Way(name, labels[name])
        runs = root / name
        print(f"{way.label} …", flush=True)
        if name == "ray":
            nodes = run_on_ray(way, runs, base, args.timeout)
        else:
            run_suite(way, runs, [*base, "--parallel", "1" if name == "sequential" else "2"],
                      args.timeout)
        ways.append(way)
    rows = summary_rows(ways, cores)
    print_summary(rows, cores)
    agree = print_members(ways, nodes)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "cores": cores, "sweep": base, "runs_root": str(root), "summary": rows,
            "accuracy_max_difference": agree, "nodes": nodes,
            "ways": [{**asdict(w), "members_cpu_s": w.members_cpu_s, "span_s": w.span_s}
                     for w in ways]},
            indent=2) + "\n", encoding="utf-8")
    ok = all(w.status == "finished" or w.status.startswith("skipped") for w in ways)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
