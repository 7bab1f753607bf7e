"""System figures: a process's CPU % and memory from /proc, GPUs optional (no GPU, no driver or
no nvidia-ml-py: "no GPU", nothing fails); the worker's peaks in result.json; the batch line."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import patient

from mnist_tui.batch import Reporter, SystemTicker
from mnist_tui.engine.runs import sysmon

NO_NVIDIA = not any(Path("/dev").glob("nvidia[0-9]*"))


def burn(cpu_seconds: float) -> None:
    """Keep this process busy until it has used `cpu_seconds` more of CPU time."""
    end = time.process_time() + cpu_seconds
    while time.process_time() < end:
        pass


def test_a_process_s_memory_and_cpu_come_from_proc():
    cpu, rss, peak, threads = sysmon.read_proc(os.getpid())
    assert 0 < cpu and 10e6 < rss <= peak and threads >= 1
    monitor = sysmon.ProcMonitor(os.getpid())
    first = monitor.sample()
    assert first.cpu_percent is None and first.rss_bytes == pytest.approx(rss, rel=0.5)
    wall = time.monotonic()
    burn(0.3)
    second = monitor.sample()
    wall = time.monotonic() - wall
    # 0.3 s of CPU (at least) over `wall` seconds
    assert second.cpu_percent >= 100 * 0.3 / wall * 0.9
    assert second.cpu_percent <= 100 * (os.cpu_count() or 1) * 1.1


def test_a_process_that_is_gone_reads_as_none():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert sysmon.read_proc(proc.pid) is None
    assert sysmon.ProcMonitor(proc.pid).sample() is None
    assert sysmon.format_proc(None) == "process gone"


def test_without_the_nvidia_library_there_is_no_gpu_and_nothing_fails():
    code = ("import sys; sys.modules['pynvml'] = None\n"      # as if it were not installed
            "from mnist_tui.engine.runs import sysmon\n"
            "print(sysmon.gpus(), sysmon.gpu_status())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[] no GPU (nvidia-ml-py is not installed)"


FAKE_NVML = """
# The calls sysmon makes, shaped as nvidia-ml-py returns them (two boards, one busy).
from types import SimpleNamespace as NS
import os

class NVMLError(Exception):
    pass

def nvmlInit():
    pass

def nvmlDeviceGetCount():
    return 2

def nvmlDeviceGetHandleByIndex(i):
    return i

def nvmlDeviceGetName(h):
    return b"NVIDIA H100 80GB HBM3"

def nvmlDeviceGetUtilizationRates(h):
    return NS(gpu=[87, 0][h], memory=40)

def nvmlDeviceGetMemoryInfo(h):
    return NS(used=[12_500_000_000, 500_000_000][h], total=80_000_000_000, free=0)

def nvmlDeviceGetComputeRunningProcesses(h):
    if h == 1:
        raise NVMLError("Not Supported")
    return [NS(pid=os.getpid(), usedGpuMemory=9_000_000_000), NS(pid=1, usedGpuMemory=None)]
"""


def test_gpus_are_read_through_the_nvidia_binding(tmp_path):
    """No GPU here: a stand-in `pynvml` with the binding's calls and return shapes shows what
    a machine with two boards gets (the job's own memory where the driver tells it)."""
    (tmp_path / "pynvml.py").write_text(FAKE_NVML)
    code = ("import os, json, dataclasses\n"
            "from mnist_tui.engine.runs import sysmon\n"
            "g = sysmon.gpus(os.getpid())\n"
            "print(json.dumps([dataclasses.asdict(x) for x in g]))\n"
            "print(sysmon.format_gpus(g, sysmon.gpu_status()))\n"
            "m = sysmon.SelfMonitor(); m.sample(); m.sample()\n"
            "print(json.dumps(m.summary()['gpus'][0]))")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env).stdout.splitlines()
    first, second = json.loads(out[0])
    assert first == {"index": 0, "name": "NVIDIA H100 80GB HBM3", "util_percent": 87,
                     "memory_used_bytes": 12_500_000_000, "memory_total_bytes": 80_000_000_000,
                     "process_memory_bytes": 9_000_000_000}
    assert second["process_memory_bytes"] is None and second["util_percent"] == 0
    assert out[1] == "GPU0 87% 12.5/80.0 GB (job 9.0 GB) · GPU1 0% 0.5/80.0 GB"
    peak = json.loads(out[2])
    assert (peak["process_memory_peak_bytes"], peak["util_percent_mean"]) == (9e9, 87.0)


@pytest.mark.skipif(not NO_NVIDIA, reason="this machine has an NVIDIA device")
def test_a_machine_without_a_gpu_says_no_gpu():
    assert sysmon.gpus(os.getpid()) == []
    assert sysmon.gpu_status().startswith("no GPU")
    assert sysmon.format_system(sysmon.ProcMonitor(os.getpid()).sample(), [],
                                sysmon.gpu_status()).endswith(sysmon.gpu_status())


def test_peaks_and_their_words():
    peaks = sysmon.Peaks()
    gpu = sysmon.GpuSample(0, "NVIDIA H100", 40, 3_000_000_000, 80_000_000_000, 2_000_000_000)
    peaks.add(sysmon.ProcSample(1, None, 500_000_000, 600_000_000, 4), [gpu])
    peaks.add(sysmon.ProcSample(1, 150.0, 700_000_000, 700_000_000, 4),
              [sysmon.GpuSample(0, "NVIDIA H100", 90, 5_000_000_000, 80_000_000_000, None)])
    peaks.add(sysmon.ProcSample(1, 50.0, 650_000_000, 700_000_000, 4), [])
    s = peaks.summary(peak_rss_bytes=710_000_000)
    assert s["peak_rss_bytes"] == 710_000_000
    assert (s["cpu_percent_mean"], s["cpu_percent_peak"], s["samples"]) == (100.0, 150.0, 3)
    assert s["gpus"] == [{"index": 0, "name": "NVIDIA H100", "memory_total_bytes": 80e9,
                          "memory_used_peak_bytes": 5e9, "process_memory_peak_bytes": 2e9,
                          "util_percent_peak": 90, "util_percent_mean": 65.0}]
    assert sysmon.format_peaks(s) == ("peak RSS 710 MB · CPU 100% mean · GPU0 peak 2.0 GB "
                                      "90%")
    assert sysmon.format_gpu(gpu) == "GPU0 40% 3.0/80.0 GB (job 2.0 GB)"
    many = [sysmon.GpuSample(i, "H100", 50, 10 ** 10, 8 * 10 ** 10) for i in range(8)]
    assert sysmon.format_gpus(many, None, width=60) == "8 GPUs 50% mean 80.0/640 GB"


# -- the worker records its peaks and TensorFlow's devices ---------------------------------------

def test_the_worker_records_its_system_peaks(run_cli, cli_env, tmp_path):
    out = run_cli(["--batch", "--job", "tsne-gmm", "--dataset", "digits", "--samples", "300",
                   "--iterations", "260", "--gmm-inits", "1", "--json", "-"], cli_env,
                  timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    system = result["system"]
    assert system["peak_rss_bytes"] >= result["peak_rss_bytes"] > 50e6   # VmHWM or rusage
    assert system["samples"] >= 1 and isinstance(system["gpus"], list)
    assert isinstance(system["cpu_percent_mean"], float) and system["cpu_percent_mean"] > 0
    on_disk = json.loads((tmp_path / "runs" / result["run_id"] / "result.json").read_text())
    assert on_disk["system"] == system
    if NO_NVIDIA:
        assert system["gpus"] == [] and system["gpu_status"].startswith("no GPU")


@pytest.mark.slow
def test_a_classifier_says_what_it_does_and_records_its_devices(run_cli, cli_env, tmp_path):
    out = run_cli(["--batch", "--job", "cnn", "--dataset", "digits", "--samples", "600",
                   "--epochs", "2", "--json", "-"], cli_env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert "/device:CPU:0" in result["devices"]
    assert "importing: importing TensorFlow" in out.stderr
    assert "TensorFlow" in out.stderr and "devices: /device:CPU:0" in out.stderr
    events = [json.loads(x) for x in
              (tmp_path / "runs" / result["run_id"] / "events.jsonl").read_text().splitlines()]
    phases = [e["name"] for e in events if e["type"] == "phase"]
    assert phases[:4] == ["loading", "importing", "building", "training"]
    messages = [e["message"] for e in events if e["type"] == "progress"]
    assert "epoch 1/2: tracing the model (the first batch)" in messages
    assert "epoch 2/2: validating" in messages
    assert {"importing", "building"} <= set(result["timings"])


# -- the batch front end's system line -----------------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _busy_child() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


@pytest.mark.parametrize("tty", [False, True], ids=["log", "terminal"])
def test_the_reporter_shows_the_worker_s_system_figures(tty):
    stream = Terminal() if tty else io.StringIO()
    reporter = Reporter(stream, system_every=0.0)
    child = _busy_child()
    ticker = SystemTicker(reporter, child.pid, every=0.05).start()
    try:
        deadline = time.monotonic() + patient(20)
        while "CPU " not in stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        ticker.stop()
        child.kill()
        child.wait()
    text = stream.getvalue()
    assert re.search(r"system: CPU \d+% · RSS [\d.]+ [kM]B │ (GPU\d|\d+ GPUs|no GPU)", text), text
    if tty:
        # drawn in place by the live bar (rich.progress), not printed as log lines
        assert "\r\x1b[2K" in text and not re.search(r"\[\s+[\d.]+s\] system: ", text)
    else:
        assert "\r" not in text and re.match(r"\[\s+[\d.]+s\] system: ", text)


def test_with_json_on_stdout_the_system_line_goes_to_stderr(cli_env, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnist_tui", "--batch", "--job", "tsne-gmm", "--dataset",
         "digits", "--samples", "1500", "--iterations", "5000", "--gmm-inits", "1",
         "--json", "-"], env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    deadline = time.monotonic() + patient(90)
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if "] system: CPU " in line or not line:
            break
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=patient(60))
    assert "] system: CPU " in seen[-1], seen
    result = json.loads(out)                  # stdout is the JSON and nothing else
    assert result["status"] == "interrupted" and "system" in result
