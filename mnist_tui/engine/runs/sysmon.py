"""What a job costs the machine: its CPU % and resident memory, and each GPU's load and memory.

Why one module: the Monitor's system panel, the batch front end's system line and the worker's
own peak figures (the result record's `system`) must read the same numbers the same way.

- CPU and memory come from /proc/PID/stat and /proc/PID/status: a few µs, no dependency, cheap
  enough for a UI timer. CPU % is the process's CPU time between two samples over the wall time
  between them, so 200% is two cores busy.
- GPUs come from NVIDIA's management library through its maintained binding `nvidia-ml-py`
  (module `pynvml`), which is optional: not installed, no driver or no GPU → `gpus()` is empty
  and `gpu_status()` says why; nothing raises. An NVML call can wait on the driver, so an
  interactive caller makes it off its UI thread.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from mnist_tui.engine.present import size, used_of_total

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class ProcSample:
    """One look at a process. `cpu_percent` is None on the first look (no interval yet)."""

    pid: int
    cpu_percent: float | None
    rss_bytes: int | None
    peak_rss_bytes: int | None       # VmHWM: the kernel's own high-water mark
    threads: int | None


@dataclass
class GpuSample:
    index: int
    name: str
    util_percent: int | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    process_memory_bytes: int | None = None   # what the watched process holds on it, if known


def read_proc(pid: int) -> tuple[float, int | None, int | None, int | None] | None:
    """(CPU seconds so far, RSS bytes, peak RSS bytes, threads) of `pid`, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
        with open(f"/proc/{pid}/status", "rb") as fh:
            status = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: fields start after the last ")".
    rest = stat[stat.rfind(")") + 2:].split()
    try:
        cpu = (int(rest[11]) + int(rest[12])) / CLOCK_TICKS    # utime + stime (fields 14, 15)
        threads = int(rest[17])                                 # num_threads (field 20)
    except (IndexError, ValueError):
        return None
    kb = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            try:
                kb[key] = int(value.split()[0]) * 1024
            except (IndexError, ValueError):
                pass
    return cpu, kb.get("VmRSS"), kb.get("VmHWM"), threads


class ProcMonitor:
    """CPU % of one process between two calls of `sample()`."""

    def __init__(self, pid: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.pid = pid
        self.clock = clock
        self._last: tuple[float, float] | None = None    # (wall, cpu seconds)

    def sample(self) -> ProcSample | None:
        got = read_proc(self.pid)
        if got is None:
            return None
        cpu, rss, peak, threads = got
        now = self.clock()
        percent = None
        if self._last is not None and now > self._last[0]:
            percent = max(0.0, 100.0 * (cpu - self._last[1]) / (now - self._last[0]))
        self._last = (now, cpu)
        return ProcSample(self.pid, percent, rss, peak, threads)


# -- GPUs (optional) ---------------------------------------------------------------------------

_nvml_lock = threading.Lock()
_nvml: ModuleType | None = None   # the pynvml module once initialised
_nvml_why: str | None = None  # why there is no NVML (set once tried)


def _init_nvml() -> ModuleType | None:
    """pynvml, initialised once per process; None (and `_nvml_why`) when it cannot be."""
    global _nvml, _nvml_why
    with _nvml_lock:
        if _nvml is not None or _nvml_why is not None:
            return _nvml
        try:
            import pynvml
        except ImportError:
            _nvml_why = "no GPU (nvidia-ml-py is not installed)"
            return None
        try:
            pynvml.nvmlInit()
            if pynvml.nvmlDeviceGetCount() == 0:
                _nvml_why = "no GPU"
                return None
        except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded…
            _nvml_why = f"no GPU ({exc})"
            return None
        _nvml = pynvml
        return _nvml


def gpu_status() -> str | None:
    """None when GPUs can be read, else why not ("no GPU …")."""
    _init_nvml()
    return _nvml_why


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def gpus(pid: int | None = None) -> list[GpuSample]:
    """Every GPU's utilisation and memory (and what `pid` holds on it); [] without NVML."""
    nv = _init_nvml()
    if nv is None:
        return []
    out = []
    try:
        count = nv.nvmlDeviceGetCount()
    except Exception:  # noqa: BLE001 - the driver went away: report nothing, never fail
        return []
    for i in range(count):
        try:
            h = nv.nvmlDeviceGetHandleByIndex(i)
            sample = GpuSample(i, _text(nv.nvmlDeviceGetName(h)), None, None, None)
        except Exception:  # noqa: BLE001
            continue
        try:
            sample.util_percent = int(nv.nvmlDeviceGetUtilizationRates(h).gpu)
        except Exception:  # noqa: BLE001 - some boards do not report it
            pass
        try:
            mem = nv.nvmlDeviceGetMemoryInfo(h)
            sample.memory_used_bytes, sample.memory_total_bytes = int(mem.used), int(mem.total)
        except Exception:  # noqa: BLE001
            pass
        if pid is not None:
            try:
                held = [p.usedGpuMemory for p in nv.nvmlDeviceGetComputeRunningProcesses(h)
                        if p.pid == pid and p.usedGpuMemory is not None]
                sample.process_memory_bytes = int(sum(held)) if held else None
            except Exception:  # noqa: BLE001 - not supported, or another pid namespace
                pass
        out.append(sample)
    return out


# -- peaks over a run --------------------------------------------------------------------------

@dataclass
class Peaks:
    """Running peaks and means of the samples of one process (the worker's own, for its result)."""

    samples: int = 0
    cpu_percent_sum: float = 0.0
    cpu_samples: int = 0
    cpu_percent_peak: float | None = None
    rss_peak: int | None = None
    gpus: dict[int, dict[str, Any]] = field(default_factory=dict)   # index → {"name", peaks…}

    def add(self, proc: ProcSample | None, gpu_samples: list[GpuSample]) -> None:
        self.samples += 1
        if proc is not None:
            if proc.cpu_percent is not None:
                self.cpu_percent_sum += proc.cpu_percent
                self.cpu_samples += 1
                self.cpu_percent_peak = max(self.cpu_percent_peak or 0.0, proc.cpu_percent)
            self.rss_peak = _max(self.rss_peak, proc.peak_rss_bytes or proc.rss_bytes)
        for g in gpu_samples:
            rec = self.gpus.setdefault(g.index, {"index": g.index, "name": g.name,
                                                 "memory_total_bytes": g.memory_total_bytes,
                                                 "util_sum": 0, "util_samples": 0})
            rec["memory_used_peak_bytes"] = _max(rec.get("memory_used_peak_bytes"),
                                                 g.memory_used_bytes)
            rec["process_memory_peak_bytes"] = _max(rec.get("process_memory_peak_bytes"),
                                                    g.process_memory_bytes)
            rec["util_percent_peak"] = _max(rec.get("util_percent_peak"), g.util_percent)
            if g.util_percent is not None:
                rec["util_sum"] += g.util_percent
                rec["util_samples"] += 1

    def summary(self, peak_rss_bytes: int | None = None) -> dict[str, Any]:
        """The result's `system` record; `peak_rss_bytes` (getrusage) wins when given."""
        gpus: list[dict[str, Any]] = []
        for rec in self.gpus.values():
            rec = dict(rec)
            n = rec.pop("util_samples")
            total = rec.pop("util_sum")
            rec["util_percent_mean"] = round(total / n, 1) if n else None
            gpus.append(rec)
        return {
            "peak_rss_bytes": _max(peak_rss_bytes, self.rss_peak),
            "cpu_percent_mean": (round(self.cpu_percent_sum / self.cpu_samples, 1)
                                 if self.cpu_samples else None),
            "cpu_percent_peak": (round(self.cpu_percent_peak, 1)
                                 if self.cpu_percent_peak is not None else None),
            "samples": self.samples,
            "gpus": gpus,
            "gpu_status": gpu_status(),
        }


def _max(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def load_average() -> float | None:
    """The machine's 1-minute load average (None where the system keeps none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def nice_level() -> int | None:
    """This process's nice level (0 normal, up to 19 the most yielding)."""
    try:
        return os.getpriority(os.PRIO_PROCESS, 0)
    except (OSError, AttributeError):
        return None


def usable_cpus() -> int | None:
    """The CPUs this process may run on (its affinity), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (OSError, AttributeError):
        return os.cpu_count()


class SelfMonitor:
    """A daemon thread that samples this very process every `interval` s into `Peaks`, and the
    machine's load average beside it.

    The worker runs one, so its result records peak CPU and GPU memory as well as peak RSS, and
    how busy the machine was while it ran (`load()`: its times explain themselves).
    """

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.peaks = Peaks()
        self.loads: list[float] = []       # 1-minute load averages, the first at `start`
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._proc = ProcMonitor(os.getpid())
        self._thread = threading.Thread(target=self._run, name="sysmon", daemon=True)

    def start(self) -> SelfMonitor:
        self._add_load()
        self._thread.start()
        return self

    def _add_load(self) -> None:
        load = load_average()
        if load is not None:
            with self._lock:
                self.loads.append(load)

    def sample(self) -> None:
        proc = self._proc.sample()
        gpu = gpus(os.getpid())
        with self._lock:
            self.peaks.add(proc, gpu)
        self._add_load()

    def load(self) -> dict[str, Any]:
        """The result's `load` record (`results.MachineLoad`): the load average at the start,
        now (the end) and its mean over the run's samples; the usable CPUs and the nice level."""
        self._add_load()
        with self._lock:
            loads = list(self.loads)
        return {"load_start": loads[0] if loads else None,
                "load_end": loads[-1] if loads else None,
                "load_mean": round(sum(loads) / len(loads), 2) if loads else None,
                "cpus": usable_cpus(), "nice": nice_level()}

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while True:   # a first sample at once: a short job still gets a CPU interval
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - measuring must never break the job
                return
            if self._stop.wait(self.interval):
                return

    def summary(self, peak_rss_bytes: int | None = None) -> dict[str, Any]:
        """The peaks so far (the thread goes on: a summary can be taken at any moment)."""
        with self._lock:
            return self.peaks.summary(peak_rss_bytes)


# -- words -------------------------------------------------------------------------------------

def format_proc(proc: ProcSample | None) -> str:
    """"CPU 187% · RSS 1.2 GB" (CPU "…" until a second sample gives an interval)."""
    if proc is None:
        return "process gone"
    cpu = f"{proc.cpu_percent:.0f}%" if proc.cpu_percent is not None else "…"
    return f"CPU {cpu} · RSS {size(proc.rss_bytes)}"


def format_gpu(g: GpuSample) -> str:
    """"GPU0 43% 3.1/80 GB" (used by everyone / total; the job's own share when known)."""
    util = f"{g.util_percent}%" if g.util_percent is not None else "?%"
    own = (f" (job {size(g.process_memory_bytes)})"
           if g.process_memory_bytes is not None else "")
    return f"GPU{g.index} {util} {used_of_total(g.memory_used_bytes, g.memory_total_bytes)}{own}"


def format_gpus(samples: list[GpuSample], why_none: str | None, width: int = 200) -> str:
    """Each GPU, or one summary line when they do not fit `width`; `why_none` without any."""
    if not samples:
        return why_none or "no GPU"
    each = " · ".join(format_gpu(g) for g in samples)
    if len(each) <= width or len(samples) == 1:
        return each
    utils = [g.util_percent for g in samples if g.util_percent is not None]
    used = sum(g.memory_used_bytes or 0 for g in samples)
    total = sum(g.memory_total_bytes or 0 for g in samples)
    util = f"{sum(utils) / len(utils):.0f}% mean" if utils else "?%"
    return f"{len(samples)} GPUs {util} {used_of_total(used, total or None)}"


def format_system(proc: ProcSample | None, samples: list[GpuSample], why_none: str | None,
                  width: int = 200) -> str:
    """One line: the process, then the GPUs (the batch line and the Monitor's panel)."""
    head = format_proc(proc)
    return f"{head} │ {format_gpus(samples, why_none, max(20, width - len(head) - 3))}"


def format_peaks(system: object) -> str:
    """A finished run's `system` record in one line: peak RSS, mean CPU, GPU memory peaks."""
    if not isinstance(system, dict):
        return ""
    parts = []
    if isinstance(system.get("peak_rss_bytes"), int):
        parts.append(f"peak RSS {size(system['peak_rss_bytes'])}")
    if isinstance(system.get("cpu_percent_mean"), (int, float)):
        parts.append(f"CPU {system['cpu_percent_mean']:.0f}% mean")
    for g in system.get("gpus") or []:
        if not isinstance(g, dict):
            continue
        mem = g.get("process_memory_peak_bytes") or g.get("memory_used_peak_bytes")
        parts.append(f"GPU{g.get('index')} peak {size(mem)}"
                     + (f" {g['util_percent_peak']}%" if g.get("util_percent_peak") is not None
                        else ""))
    return " · ".join(parts)
