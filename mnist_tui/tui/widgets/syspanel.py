"""The Monitor's system line: the selected job's CPU % and memory, each GPU's load and memory.

Why a widget of its own: it samples on its own timer (every SAMPLE_SECONDS, only while its
screen is shown and a job's worker is alive) in a thread worker, so the UI never waits: /proc
reads take microseconds, but an NVML call can wait on the GPU driver. No GPU, no driver or no
`nvidia-ml-py` → "no GPU", and nothing fails. An ended job shows the peaks its result recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from mnist_tui.engine.present import size
from mnist_tui.engine.runs import sysmon
from mnist_tui.engine.text import visible

if TYPE_CHECKING:
    from mnist_tui.tui.jobs import Job

SAMPLE_SECONDS = 1.5
LABEL = "system  "


class SystemPanel(Static):
    """One line about the machine under the selected job."""

    DEFAULT_CSS = "SystemPanel { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }"

    class Sampled(Message):
        """A sample is in (posted from the sampling thread: never blocks it)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.job: Job | None = None
        self.pid: int | None = None
        # (pid, its sample, the GPUs' samples, why there are none)
        self.sample: tuple[int, sysmon.ProcSample | None, list[sysmon.GpuSample],
                           str | None] | None = None
        self._monitors: dict[int, sysmon.ProcMonitor] = {}
        self._busy = False
        self.paused = False     # the Monitor is frozen (p): no new samples either

    def on_mount(self) -> None:
        self.set_interval(SAMPLE_SECONDS, self._sample)

    def show_job(self, job: Job | None, pid: int | None) -> None:
        """Watch `job` (its worker is `pid`, None when it is not running here)."""
        changed = job is not self.job or pid != self.pid
        self.job, self.pid = job, pid
        if changed and pid is not None:
            self._sample()
        self._draw()

    def _sample(self) -> None:
        if self.pid is None or self._busy or self.paused or not self.screen.is_current:
            return
        self._busy = True
        pid = self.pid
        self.run_worker(lambda: self._read(pid), thread=True, group="sysmon",
                        exit_on_error=False)

    def _read(self, pid: int) -> None:
        """On a worker thread: read the process and the GPUs, then ask for a redraw."""
        try:
            monitor = self._monitors.get(pid) or sysmon.ProcMonitor(pid)
            self._monitors = {pid: monitor}    # CPU % needs this pid's previous look
            self.sample = (pid, monitor.sample(), sysmon.gpus(pid), sysmon.gpu_status())
        finally:
            self._busy = False
        self.post_message(self.Sampled())     # thread-safe; a closing app just drops it

    def on_system_panel_sampled(self, message: Sampled) -> None:
        message.stop()
        if not self.paused:     # a sample that landed after p: shown once it resumes
            self._draw()

    def _draw(self) -> None:
        self.update(self.line(max(20, (self.size.width or 78) - len(LABEL))))

    def line(self, width: int) -> Text:
        text = Text(LABEL, style="bold")
        job = self.job
        if job is None:
            return Text("")
        if job.state == "queued":
            text.append("not started yet", "dim")
        elif job.active and self.pid is None:
            text.append("—  (no worker process to watch from here)", "dim")
        elif job.active:
            sample = self.sample if self.sample and self.sample[0] == self.pid else None
            if sample is None:
                text.append("sampling…", "dim")
            else:
                _, proc, gpus, why = sample
                text.append(visible(sysmon.format_system(proc, gpus, why, width)))
        else:
            result = job.result
            peaks = sysmon.format_peaks(result.system if result else None)
            if not peaks and result is not None and result.peak_rss_bytes is not None:
                peaks = f"peak RSS {size(result.peak_rss_bytes)}"
            text.append(visible(peaks) if peaks else "no figures recorded",
                        "" if peaks else "dim")
        return text
