"""A suite on a two-node Ray cluster simulated on this machine, with one node removed while a
member runs on it: prints which node ran which member, and the member that was retried.

    python scripts/ray_two_nodes.py [--sizes 300,400,500] [--seeds 2]

What `mnist-tui --batch --suite … --executor ray` does on a real cluster, staged where there
is none: Ray's `cluster_utils.Cluster` starts a head (no CPUs, so no member runs there) and
two nodes of one CPU each, all on 127.0.0.1. Once a member on the second node is in its t-SNE
phase, that node is removed (as a machine that dies) and a third joins; the member is retried
once on a live node and finishes. The cluster is shut down by its own handle at the end.
Needs the [ray] extra.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")   # 127.0.0.1 only
os.environ.setdefault("RAY_AUTH_MODE", "disabled")                # no token in ~/.ray


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="300,400,500")
    ap.add_argument("--seeds", default="2")
    args = ap.parse_args()

    import ray
    from ray.cluster_utils import Cluster

    from mnist_tui.engine.jobs.events import Progress
    from mnist_tui.engine.jobs.results import Placement
    from mnist_tui.engine.runs import records
    from mnist_tui.engine.suites.listener import SuiteListener
    from mnist_tui.engine.suites.ray_executor import RayExecutor
    from mnist_tui.engine.suites.session import SuiteSession
    from mnist_tui.engine.suites.spec import Member
    from mnist_tui.engine.suites.spec_text import suite_spec_from_text

    cluster = Cluster()
    cluster.add_node(num_cpus=0)
    nodes = {"node-1": cluster.add_node(num_cpus=1), "node-2": cluster.add_node(num_cpus=1)}
    names = {n.node_id: name for name, n in nodes.items()}
    ray.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
    removed: list[str] = []
    remove_now = threading.Event()

    class Remover(SuiteListener):
        """Removes node-2 once a member there is in its t-SNE phase (once)."""

        def __init__(self) -> None:
            self.where: dict[int, str] = {}

        def member_placed(self, index: int, member: Member, run_id: str,
                          placement: Placement) -> None:
            self.where[index] = placement.node or ""
            print(f"[{index}] {member.label}: on {names.get(placement.node or '', '?')} "
                  f"(attempt {placement.attempt})", flush=True)

        def member_event(self, index: int, member: Member, ev: Any) -> None:
            if removed or not isinstance(ev, Progress) or ev.phase != "tsne" or ev.step < 50:
                return
            if self.where.get(index) != nodes["node-2"].node_id:
                return
            removed.append(member.label)
            print(f"removing node-2 while [{index}] {member.label} runs there", flush=True)
            remove_now.set()   # Ray starts and stops nodes from the main thread only

    try:
        runs_dir = Path(tempfile.mkdtemp(prefix="mnist-tui-ray-demo-")) / "runs"
        spec = suite_spec_from_text("sweep", methods="tsne-gmm", presets="default",
                                    sizes=args.sizes, seeds=args.seeds,
                                    given={"dataset": "digits", "iterations": "300",
                                           "gmm_inits": "1"})
        session = SuiteSession(runs_dir, spec, listener=Remover(),
                               executor=RayExecutor(runs_dir))
        session.start()
        while not session.join(0.2):
            if remove_now.is_set() and "node-3" not in nodes:
                cluster.remove_node(nodes["node-2"], allow_graceful=False)
                nodes["node-3"] = cluster.add_node(num_cpus=1)
                names[nodes["node-3"].node_id] = "node-3"
        done = session.result
        if done is None:
            print(f"the suite stopped: {session.error}")
            return 1
        print(f"\nsuite {done.folder.suite_id}: {done.status} (runs folder {runs_dir})")
        print(f"{'member':<38} {'node':<7} {'attempt':<8} {'accuracy 1:1':<13} retried after")
        order = {m.key: i for i, m in enumerate(spec.members())}
        for _key, run_id in sorted(done.folder.members().items(), key=lambda kv: order[kv[0]]):
            result = records.read_result(runs_dir / run_id)
            if result is None or result.placement is None:
                print(f"{run_id:<38} (no run folder)")
                continue
            p = result.placement
            acc = getattr(result.metrics, "accuracy_hungarian", None)
            label = f"{result.job} {result.preset} {result.n_samples} seed {result.seed}"
            print(f"{label:<38} {names.get(p.node or '', '?'):<7} {p.attempt:<8} "
                  f"{'-' if acc is None else f'{acc:.2%}':<13} {p.retried_after or ''}")
        return 0 if done.status == "finished" else 1
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    sys.exit(main())
