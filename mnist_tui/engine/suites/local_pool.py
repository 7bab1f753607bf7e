"""`--parallel N`: N members at once on this machine, each in its own worker process.

Each member gets a share of the machine, recorded in its run (`results.Placement`):
- with GPUs (NVML, `placement.detect_gpus`), a classifier member (CNN, VGG16) waits for a GPU
  of its own and its worker sees only that one (`CUDA_VISIBLE_DEVICES`); the other members see
  none, so TensorFlow in them cannot take a classifier's GPU memory;
- the cores are split: every worker's thread pools are sized to cores // N, so N members do
  not each start pools for every core (two 2-core pools on 2 cores ran 0.82× as fast as one
  member after another).

`submit` returns once the member started (it waits for a free slot, and a free GPU for a
classifier); the member's thread reads its worker and delivers to the sink, one call at a
time. A Ctrl-C reaches the caller (the workers run in sessions of their own): the runner then
calls `interrupt`, which stops every running member (each records what it measured), and
`drain`, which waits for their records.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence
from pathlib import Path

from mnist_tui.engine.jobs.results import Placement
from mnist_tui.engine.placement import Gpu, detect_gpus, usable_cpus
from mnist_tui.engine.suites.executor import LocalMember, MemberJob, MemberSink
from mnist_tui.engine.suites.records import ExecutorChoice

WAIT_SLICE_S = 0.2   # waits are sliced so a Ctrl-C on the caller's thread lands at once


class LocalPoolExecutor:
    """Members in parallel on this machine (see the module's docstring)."""

    def __init__(self, runs_dir: Path, parallel: int, nice: int = 0,
                 gpus: Sequence[Gpu] | None = None, cpus: int | None = None) -> None:
        """`gpus` and `cpus`: this machine's, found when not given (tests give them)."""
        self.runs_dir = Path(runs_dir)
        self.parallel = max(1, parallel)
        self.nice = nice
        self.gpus = list(detect_gpus() if gpus is None else gpus)
        self.cpus = cpus or usable_cpus()
        self.threads = max(1, self.cpus // self.parallel)
        self._cond = threading.Condition()
        self._free_gpus = [g.index for g in self.gpus]
        self._gpu_names = {g.index: g.name for g in self.gpus}
        self._running: dict[int, LocalMember] = {}     # member index → member
        self._threads: list[threading.Thread] = []
        self._deliver = threading.Lock()
        self._stopping = False
        self._error: BaseException | None = None

    @property
    def pid(self) -> int | None:
        return None

    @property
    def choice(self) -> ExecutorChoice:
        return ExecutorChoice(kind="local", parallel=self.parallel)

    def close(self) -> None:
        pass

    def submit(self, job: MemberJob, sink: MemberSink) -> None:
        gpu = self._take_slot(job)
        gpu_env = None if not self.gpus else ("" if gpu is None else str(gpu))
        placement = Placement(executor="local", parallel=self.parallel, threads=self.threads,
                              host=socket.gethostname(), cpus=self.cpus, gpu=gpu_env,
                              gpu_name=self._gpu_names.get(gpu) if gpu is not None else None)
        member = LocalMember(job, self.runs_dir, self.nice, placement, threads=self.threads,
                             gpu=gpu_env)
        with self._cond:
            self._running[job.index] = member
            if self._stopping:
                member.interrupt()
        thread = threading.Thread(target=self._run, args=(member, sink, gpu),
                                  name=f"suite-member-{job.index}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _take_slot(self, job: MemberJob) -> int | None:
        """Wait for a free slot (and a GPU for a classifier when there are GPUs)."""
        with self._cond:
            while True:
                if self._error is not None:
                    raise RuntimeError("a suite member's thread failed") from self._error
                if self._stopping:
                    raise KeyboardInterrupt   # stopped while waiting: nothing more starts
                needs_gpu = job.classifier and bool(self.gpus)
                if len(self._running) < self.parallel and (not needs_gpu or self._free_gpus):
                    return self._free_gpus.pop(0) if needs_gpu else None
                self._cond.wait(WAIT_SLICE_S)

    def _run(self, member: LocalMember, sink: MemberSink, gpu: int | None) -> None:
        try:
            member.run(sink, self._deliver)
        except BaseException as exc:  # noqa: BLE001 - raised again on the caller's thread
            with self._cond:
                self._error = exc
        finally:
            with self._cond:
                self._running.pop(member.job.index, None)
                if gpu is not None:
                    self._free_gpus.append(gpu)
                    self._free_gpus.sort()
                self._cond.notify_all()

    def drain(self) -> None:
        """Wait until every started member was delivered (sliced: Ctrl-C lands at once)."""
        for thread in self._threads:
            while thread.is_alive():
                thread.join(WAIT_SLICE_S)
        with self._cond:
            error = self._error
        if error is not None:
            raise RuntimeError(f"a suite member's thread failed: {error}") from error

    def interrupt(self) -> bool:
        with self._cond:
            self._stopping = True
            members = list(self._running.values())
        signalled = False
        for member in members:
            if member.interrupt():
                signalled = True
        return signalled

    def kill(self) -> None:
        with self._cond:
            members = list(self._running.values())
        for member in members:
            member.kill()
