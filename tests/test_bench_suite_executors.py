"""A smoke test of `benchmarks/suite_executors.py --quick`: the script runs one small sweep three
ways (one member at a time, `--parallel 2`, Ray with two local nodes) and its JSON says what each
way did. Timings are not checked here (speed belongs to the benchmark itself): that every way
ran both members, that the members of `--parallel 2` and of Ray overlapped, that the accuracies
match the sequential run's, and which Ray node ran which member. Without Ray the Ray way says it
was skipped and only its test is skipped."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import patient

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "suite_executors.py"
HAS_RAY = importlib.util.find_spec("ray") is not None


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The script's --quick run, once for the module: its JSON, by way name."""
    folder = tmp_path_factory.mktemp("bench")
    out = folder / "bench.json"
    env = {k: v for k, v in os.environ.items() if k != "MNIST_TUI_REAL_MNIST"}   # digits
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json", str(out),
                           "--runs-root", str(folder / "runs")], env=env,
                          capture_output=True, text=True, timeout=patient(60), check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    data["by_way"] = {w["name"]: w for w in data["ways"]}
    data["stdout"] = proc.stdout
    return data


def accuracies(way: dict[str, Any]) -> dict[str, float]:
    return {m["key"]: m["accuracy"] for m in way["members"]}


def test_local_ways_run_every_member_and_agree(bench: dict[str, Any]) -> None:
    seq, par = bench["by_way"]["sequential"], bench["by_way"]["parallel"]
    for way in (seq, par):
        assert way["status"] == "finished"
        assert sorted(m["key"] for m in way["members"]) == ["200 images seed 0",
                                                            "300 images seed 0"]
        assert all(m["status"] == "finished" and m["cpu_measured"] and m["cpu_s"] > 0
                   for m in way["members"])
        assert way["wall_s"] > way["span_s"] > 0 and way["cpu_s"] > 0
    assert seq["most_at_once"] == 1 and par["most_at_once"] == 2
    share = f"{max(1, bench['cores'] // 2)} of {bench['cores']} cores"    # the cores split
    assert all(share in m["where"] for m in par["members"]), par["members"]
    assert accuracies(par) == accuracies(seq)
    assert bench["accuracy_max_difference"]["parallel"] == 0
    rows = {r["way"]: r for r in bench["summary"]}
    assert rows["sequential"]["speedup"] == pytest.approx(1.0)
    assert rows["parallel"]["limit_s"] == pytest.approx(par["members_cpu_s"] / bench["cores"])
    assert "| --parallel 2 | 2 (2) |" in bench["stdout"]


@pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed (the [ray] extra)")
def test_ray_way_spreads_members_over_both_nodes(bench: dict[str, Any]) -> None:
    ray_way, seq = bench["by_way"]["ray"], bench["by_way"]["sequential"]
    assert ray_way["status"] == "finished"
    assert accuracies(ray_way) == accuracies(seq)
    nodes = bench["nodes"]
    assert sorted(nodes.values()) == ["node 1 (head)", "node 2"]
    ran_on = {m["key"]: nodes[m["node"]] for m in ray_way["members"]}
    assert sorted(ran_on.values()) == ["node 1 (head)", "node 2"]     # one member on each
    assert all(m["attempt"] == 1 and m["cpu_measured"] for m in ray_way["members"])
    for key, node in ran_on.items():
        assert f"| {key} |" in bench["stdout"] and f"| {node} (1) |" in bench["stdout"]


@pytest.mark.skipif(HAS_RAY, reason="Ray is installed: the Ray way runs")
def test_without_ray_the_ray_way_says_so(bench: dict[str, Any]) -> None:
    assert bench["by_way"]["ray"]["status"].startswith("skipped: Ray is not installed")
