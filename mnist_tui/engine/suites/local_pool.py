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
from collections.abc import Sequence
from pathlib import Path

from mnist_tui.engine.jobs.results import Placement
from mnist_tui.engine.placement import Gpu, detect_gpus, usable_cpus
from mnist_tui.engine.suites.executor import LocalMember, MemberJob, MemberSink
from mnist_tui.engine.suites.records import ExecutorChoice
from mnist_tui.engine.suites.threaded import ThreadedExecutor


class LocalPoolExecutor(ThreadedExecutor):
    """Members in parallel on this machine (see the module's docstring)."""

    def __init__(self, runs_dir: Path, parallel: int, nice: int = 0,
                 gpus: Sequence[Gpu] | None = None, cpus: int | None = None) -> None:
        """`gpus` and `cpus`: this machine's, found when not given (tests give them)."""
        super().__init__(parallel)
        self.runs_dir = Path(runs_dir)
        self.nice = nice
        self.gpus = list(detect_gpus() if gpus is None else gpus)
        self.cpus = cpus or usable_cpus()
        self.threads = max(1, self.cpus // self.parallel)
        self._free_gpus = [g.index for g in self.gpus]
        self._gpu_names = {g.index: g.name for g in self.gpus}
        self._running: dict[int, LocalMember] = {}     # member index → member

    @property
    def choice(self) -> ExecutorChoice:
        return ExecutorChoice(kind="local", parallel=self.parallel)

    def submit(self, job: MemberJob, sink: MemberSink) -> None:
        """Wait for a slot (and a GPU for a classifier when there are GPUs), then start it."""
        needs_gpu = job.classifier and bool(self.gpus)
        with self._cond:
            self._wait_for_room(lambda: not needs_gpu or bool(self._free_gpus))
            gpu = self._free_gpus.pop(0) if needs_gpu else None
            gpu_env = None if not self.gpus else ("" if gpu is None else str(gpu))
            placement = Placement(
                executor="local", parallel=self.parallel, threads=self.threads,
                host=socket.gethostname(), cpus=self.cpus, gpu=gpu_env,
                gpu_name=self._gpu_names.get(gpu) if gpu is not None else None)
            member = LocalMember(job, self.runs_dir, self.nice, placement,
                                 threads=self.threads, gpu=gpu_env)
            self._running[job.index] = member

            def ended() -> None:
                self._running.pop(job.index, None)
                if gpu is not None:
                    self._free_gpus.append(gpu)
                    self._free_gpus.sort()

            self._start(f"suite-member-{job.index}", lambda: member.run(sink, self._deliver),
                        ended)

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
