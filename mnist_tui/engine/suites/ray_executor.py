"""`--executor ray`: each member a Ray task (Ray core, not Tune) on whichever node Ray picks.

Ray is the distributed engine, and we invent none: it places the tasks, moves their messages,
tells us when a node dies. A task (`ray_task.member_task`) runs the member's ordinary worker on
its node and streams back its events while it runs (the TUI and the batch show them live, as
for a local member), then its result and its run folder, unpacked here into the suite's runs
folder as an ordinary run. Resources: one CPU per member, and one GPU for a classifier (CNN,
VGG16) when the cluster has GPUs (Ray then sets the task's CUDA_VISIBLE_DEVICES); a member's
thread pools are sized to its one core, so members packed on one node do not oversubscribe it.
At most `parallel` members run at once (0: as many as the cluster has CPUs).

Faults: a member whose node or Ray worker dies (NodeDiedError, WorkerCrashedError, …) is
retried once, on a node Ray picks among the live ones, then recorded as failed with the
reason; the suite goes on. Its own failures (bad input, a crash in the job) are the job's and
are recorded as they are, not retried. Stopping (`interrupt`): a flag every task polls; each
sends its worker SIGINT, and the member records what it measured.

Connecting: `address` "auto" joins the cluster this machine belongs to (`ray start` ran here),
else starts a local Ray for the suite (shut down when the suite ends); "local" always starts
one. A driver that is already connected (a test's shared cluster) is used as it is and left
connected.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mnist_tui.engine.errors import MnistTuiError
from mnist_tui.engine.jobs.events import Log, event_from_dict
from mnist_tui.engine.jobs.results import Placement, RunResult
from mnist_tui.engine.placement import worker_env
from mnist_tui.engine.runs import records
from mnist_tui.engine.suites.executor import MemberJob, MemberRun, MemberSink
from mnist_tui.engine.suites.records import ExecutorChoice
from mnist_tui.engine.suites.threaded import ThreadedExecutor

PROBE_S = 3.0        # a cluster address that does not answer this soon is not there


class RayUnavailable(MnistTuiError):
    """Ray could not be reached or started (the message says why)."""


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        from mnist_tui.engine.suites.executors import RAY_INSTALL

        raise RayUnavailable(f"--executor ray needs Ray, which is not installed: "
                             f"{RAY_INSTALL}") from exc
    return ray


def connect(address: str) -> bool:
    """Join the cluster at `address` ("auto": this machine's, else a new local one; "local": a
    new local one). Returns
    True when this call started Ray (the executor then shuts it down)."""
    ray = _ray()
    if ray.is_initialized():
        return False
    quiet: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False,
                             "logging_level": "ERROR", "configure_logging": True}
    if address in ("auto", "local"):
        found = _auto_address() if address == "auto" else None
        if found is not None and _answers(found):
            try:
                ray.init(address=found, **quiet)
                return True
            except ConnectionError:
                pass
        # No live cluster here (none started, or the one `ray start` last recorded is gone:
        # Ray itself would wait minutes for it): a local one, for this suite.
        try:
            with _deaf_to_terminal_stops():
                ray.init(address="local", **quiet)   # never the recorded, dead one
        except Exception as exc:  # noqa: BLE001 - Ray's start-up errors are many
            raise RayUnavailable(f"--executor ray: could not start a local Ray: {exc}") from exc
        return True
    if not _answers(address.removeprefix("ray://")):
        raise RayUnavailable(f"--ray-address {address}: nothing answers there within "
                             f"{PROBE_S:.0f} s (is `ray start --head` running on that "
                             "machine, and its port open?)")
    try:
        ray.init(address=address, **quiet)
    except Exception as exc:  # noqa: BLE001
        raise RayUnavailable(f"--ray-address {address}: could not connect to the Ray "
                             f"cluster: {exc}") from exc
    return True


def _on_this_node() -> Any:
    """Ray's placement on the driver's own node: the stop flag lives as long as the driver's
    node does. Anywhere else, a worker node lost (or marked dead under load) took the flag with
    it, and the running members could no longer be told to stop: they ran to their end."""
    ray = _ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(),
                                          soft=False)


@contextmanager
def _deaf_to_terminal_stops() -> Iterator[None]:
    """Start Ray's processes with SIGINT ignored (the disposition is inherited through exec).

    A Ray started here runs in our terminal's process group, so a Ctrl-C reached its GCS,
    raylet and workers as well as us: the cluster died under the running members, which never
    recorded what they measured. With SIGINT ignored in them, the Ctrl-C reaches only this
    process, which stops the members through the executor (they record what they measured)
    and then shuts the cluster down. Signal dispositions can only change on the main thread;
    elsewhere (the TUI's suite thread: its terminal sends no SIGINT) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _auto_address() -> str | None:
    """The cluster "auto" means, found as Ray finds it (RAY_ADDRESS, else the address the last
    `ray start` on this machine recorded, else a running GCS): Ray's own lookup, private, so
    guarded; None when there is none."""
    try:
        from ray._private.services import get_ray_address_from_environment

        found = get_ray_address_from_environment("auto", None)
    except Exception:  # noqa: BLE001 - none found (ConnectionError), or Ray changed
        return None
    return found if isinstance(found, str) and found != "auto" else None


def _answers(address: str) -> bool:
    """Does anything accept a TCP connection at HOST:PORT within PROBE_S?"""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return True          # not HOST:PORT: let Ray judge it
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_S):
            return True
    except (OSError, OverflowError, ValueError):   # refused, unknown host, port past 65535
        return False


class RayExecutor(ThreadedExecutor):
    """Members as Ray tasks (see the module's docstring)."""

    def __init__(self, runs_dir: Path, address: str = "auto", parallel: int = 0) -> None:
        ray = _ray()
        from mnist_tui.engine.suites.ray_task import StopFlag, member_task

        self.runs_dir = Path(runs_dir)
        self.address = address
        self._started_ray = connect(address)
        resources = ray.cluster_resources()
        self.cluster_cpus = max(1, int(resources.get("CPU", 1)))
        self.cluster_gpus = int(resources.get("GPU", 0))
        super().__init__(parallel or self.cluster_cpus)
        self._task = ray.remote(member_task)
        self._flag = ray.remote(num_cpus=0)(StopFlag).options(
            scheduling_strategy=_on_this_node()).remote()
        self._running: dict[int, Any] = {}          # member index → its generator, once placed

    @property
    def choice(self) -> ExecutorChoice:
        return ExecutorChoice(kind="ray", parallel=self.parallel, address=self.address)

    # -- submitting ----------------------------------------------------------------------
    def submit(self, job: MemberJob, sink: MemberSink) -> None:
        """Wait for room (`parallel` members at once), then hand the member to Ray."""
        with self._cond:
            self._wait_for_room()

            def ended() -> None:
                self._running.pop(job.index, None)

            self._start(f"ray-member-{job.index}", lambda: self._drive(job, sink), ended)

    def _options(self, job: MemberJob) -> dict[str, Any]:
        gpu = job.classifier and self.cluster_gpus > 0
        return {"num_cpus": 1, "num_gpus": 1 if gpu else 0, "max_retries": 0,
                "name": f"mnist-tui {job.member.label}"}

    def _drive(self, job: MemberJob, sink: MemberSink) -> None:
        """The member's life on its own thread: an attempt, and one more if its node died."""
        from mnist_tui.engine.runs import store as runs

        run_id = runs.new_run_id(job.member.spec["job"])
        placement = Placement(executor="ray", parallel=self.parallel, threads=1)
        retried: str | None = None
        for attempt in (1, 2):
            env = worker_env(threads=1, gpu="",     # the task sets its GPU, if any
                             placement={**placement.to_dict(), "attempt": attempt,
                                        "retried_after": retried},
                             expect_dataset=job.expect_dataset)
            try:
                self._attempt(job, sink, run_id, env, attempt, retried)
                return
            except _NodeLost as lost:
                if attempt == 2 or self._stopping:
                    self._fail(job, sink, run_id, f"{lost} (after a retry)" if attempt == 2
                               else str(lost), started=lost.started or attempt == 2)
                    return
                retried = str(lost)
                with self._deliver:
                    if not lost.started:   # (where it runs is told when it is placed)
                        sink.member_started(job, run_id, placement)
                    sink.member_event(job, Log(
                        message=f"{job.member.label}: {lost}; retrying it once on another "
                                "node", level="warning"))

    def _attempt(self, job: MemberJob, sink: MemberSink, run_id: str, env: dict[str, str],
                 attempt: int, retried: str | None) -> None:
        """One try of the member on a node: its messages until its end is delivered;
        `_NodeLost` when its node or Ray worker died."""
        ray = _ray()
        from ray import exceptions as rx

        gen = self._task.options(**self._options(job)).remote(
            job.member.spec, run_id, env, self._flag, attempt)
        with self._cond:
            self._running[job.index] = gen
        started = attempt == 2     # the first attempt told the sink the member started
        try:
            for ref in gen:
                msg = ray.get(ref)
                kind = msg.get("kind")
                if kind == "placed":   # (again, after a retry: where it runs now)
                    started = True
                    with self._deliver:
                        sink.member_started(job, run_id, Placement(
                            executor="ray", parallel=self.parallel, threads=1,
                            host=msg.get("host"), node=msg.get("node"), gpu=msg.get("gpu"),
                            attempt=attempt, retried_after=retried))
                elif kind == "events":
                    for raw in msg.get("events", []):
                        with self._deliver:
                            sink.member_event(job, event_from_dict(raw))
                elif kind == "done":
                    self._done(job, sink, run_id, msg)
                    return
        except (rx.NodeDiedError, rx.WorkerCrashedError, rx.ObjectLostError,
                rx.OwnerDiedError, rx.LocalRayletDiedError, rx.RaySystemError) as exc:
            raise _NodeLost(_first_line(exc), started) from exc
        except rx.TaskCancelledError as exc:
            raise _NodeLost("its Ray task was cancelled", started) from exc
        except rx.RayTaskError as exc:     # the task's own code failed (not the job's)
            self._fail(job, sink, run_id, f"its Ray task failed: {_first_line(exc)}",
                       started=started)
            return
        raise _NodeLost("its Ray task ended without a result", started)

    def _done(self, job: MemberJob, sink: MemberSink, run_id: str, msg: dict[str, Any]) -> None:
        """The member's end: its folder unpacked into the runs folder, then delivered."""
        result = RunResult.from_dict(msg.get("result"))
        folder = msg.get("folder")
        recorded = False
        if isinstance(folder, bytes):
            try:
                bring_home(folder, self.runs_dir, run_id)
                recorded = True
                result = records.read_result(self.runs_dir / run_id) or result
            except (OSError, tarfile.TarError, records.RecordError, ValueError) as exc:
                result = RunResult.bare(status="failed", error_kind="job",
                                        error=f"its run folder could not be brought back "
                                              f"from its node: {exc}")
        elif result.status == "finished":
            result = RunResult.bare(status="failed", error_kind="job",
                                    error="its node sent no run folder back")
        if result.run_id is None:
            result = result.model_copy(update={"run_id": run_id})
        interrupted = bool(msg.get("interrupted")) and result.status != "finished"
        peak = msg.get("peak_rss_bytes")
        with self._deliver:
            sink.member_done(MemberRun(job=job, run_id=run_id, result=result,
                                       interrupted=interrupted,
                                       peak_rss_bytes=peak if isinstance(peak, int) else None,
                                       recorded=recorded))

    def _fail(self, job: MemberJob, sink: MemberSink, run_id: str, why: str,
              started: bool) -> None:
        result = RunResult.bare(status="failed", error=why, error_kind="job", run_id=run_id)
        with self._deliver:
            if not started:
                sink.member_started(job, run_id, Placement(executor="ray",
                                                           parallel=self.parallel))
            sink.member_done(MemberRun(job=job, run_id=run_id, result=result,
                                       interrupted=False, peak_rss_bytes=None,
                                       recorded=False))

    # -- waiting and stopping ------------------------------------------------------------
    def interrupt(self) -> bool:
        """Every running member's task sends its worker SIGINT (they poll the flag)."""
        ray = _ray()
        with self._cond:
            self._stopping = True
            running = bool(self._running)
        try:
            ray.get(self._flag.stop.remote(), timeout=10)
        except Exception:  # noqa: BLE001 - the cluster is going: kill() is what is left
            return False
        return running

    def kill(self) -> None:
        """Cancel the running tasks by force (their workers are killed with them)."""
        ray = _ray()
        with self._cond:
            gens = list(self._running.values())
        for gen in gens:
            try:
                ray.cancel(gen, force=True)
            except Exception:  # noqa: BLE001
                pass

    def close(self) -> None:
        """The suite ended: the stop flag goes, and a Ray this executor started stops."""
        ray = _ray()
        try:
            ray.kill(self._flag)
        except Exception:  # noqa: BLE001
            pass
        if self._started_ray and ray.is_initialized():
            ray.shutdown()


class _NodeLost(Exception):
    """The member's node or Ray worker died: retried once."""

    def __init__(self, why: str, started: bool) -> None:
        super().__init__(f"its Ray node or worker died ({why})")
        self.started = started


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def bring_home(archive: bytes, runs_dir: Path, run_id: str) -> Path:
    """Unpack a member's run folder (a tar from its node) into `runs_dir/run_id`: only plain
    files and folders (tarfile's "data" filter), beside the runs in a hidden folder first,
    then moved into place in one rename; an existing entry of that name is never replaced."""
    dest = Path(runs_dir) / run_id
    if os.path.lexists(dest):
        raise ValueError(f"{dest} already exists")
    Path(runs_dir).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".incoming-{run_id}-", dir=runs_dir))
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            names = {m.name.split("/")[0] for m in tar.getmembers()}
            if names != {run_id}:
                raise ValueError(f"the archive holds {sorted(names)[:3]}, not {run_id}")
            tar.extractall(tmp, filter="data")
        src = tmp / run_id
        if src.is_symlink() or not src.is_dir():
            raise ValueError(f"the archive's {run_id} is not a folder")
        os.rename(src, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    records.rehome_result(dest)
    return dest
