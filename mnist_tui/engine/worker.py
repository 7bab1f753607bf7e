"""`python -m mnist_tui.engine.worker --run-dir DIR --spec JSON`: run one job, print its events.

The worker is the only process that imports the heavy libraries. Its stdout carries nothing but
JSON-lines events: the real stdout is moved to a private descriptor at start-up and fd 1 is
pointed at stderr, so anything TensorFlow, scikit-learn or openTSNE print cannot corrupt the
stream a caller parses. The run folder is created only once the data has loaded, so a bad input
leaves nothing behind.

Exit codes: 0 finished, 2 bad input, 3 the job failed, 4 cancelled (SIGTERM), 130 interrupted
(SIGINT).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import TextIO

from mnist_tui.engine import runs
from mnist_tui.engine.context import JobContext, download_reporter
from mnist_tui.engine.errors import MnistTuiError
from mnist_tui.engine.events import (
    Cancelled,
    Event,
    Failed,
    Finished,
    Interrupted,
    Started,
)

EXIT_OK, EXIT_INPUT, EXIT_FAILED, EXIT_CANCELLED, EXIT_INTERRUPTED = 0, 2, 3, 4, 130
TRACKED_PACKAGES = ("mnist-tui", "numpy", "scipy", "scikit-learn", "openTSNE", "tensorflow",
                    "keras")


class JobCancelled(BaseException):
    """Raised in the job's thread by the SIGTERM handler: the caller asked the job to stop."""


class EventSink:
    """Writes each event to the caller (stdout stream) and, once it exists, to events.jsonl.

    Events emitted before the run folder exists (loading, download progress) are buffered and
    written first when it is created.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.pending: list[str] = []
        self.file: TextIO | None = None

    def __call__(self, event: Event) -> None:
        line = event.to_json()
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except (BrokenPipeError, ValueError):
            pass  # the caller went away; the run folder still gets everything
        if self.file is not None:
            self.file.write(line + "\n")
            self.file.flush()
        else:
            self.pending.append(line)

    def attach(self, path: Path) -> None:
        self.file = open(path, "a", encoding="utf-8")
        for line in self.pending:
            self.file.write(line + "\n")
        self.file.flush()
        self.pending.clear()


def library_versions() -> dict:
    """Versions from package metadata: recording them must not import TensorFlow."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def _claim_stdout() -> TextIO:
    """Keep the real stdout for events only; send fd 1 (and sys.stdout) to stderr."""
    sys.stdout.flush()
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(events_fd, "w", encoding="utf-8", buffering=1)


def _on_sigterm(signum, frame):
    raise JobCancelled()


def _interrupt_when_orphaned(poll: float = 1.0) -> None:
    """If the caller dies (kill -9, a closed SSH session), interrupt the job so it records that."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def run_job(spec, run_dir: Path, sink: EventSink, rerun_of: str | None = None) -> int:
    """Load the data, create the run folder, run the job, write result.json. Returns an exit code."""
    from mnist_tui.engine.jobs import runner
    from mnist_tui.engine.sources import load_dataset

    ctx = JobContext(sink)
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    base = {"job": spec.job, "preset": spec.preset, "seed": spec.seed,
            "subset_seed": spec.subset_seed, "run_id": run_dir.name, "run_dir": str(run_dir),
            "rerun_of": rerun_of, "spec": spec.to_dict(), "started_at": started_at}
    dataset = None

    def result(status: str, **extra) -> dict:
        out = {"status": status, **base,
               "dataset": None, "metrics": {}, "confusion_matrix": None,
               "timings": {**ctx.timings, "total": round(ctx.elapsed(), 4)},
               "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **ctx.partial, **extra}
        if dataset is not None:
            # None until the job has chosen its images: never the whole dataset's size.
            out["dataset"] = {**dataset.describe(), "n_samples": extra.get("n_samples",
                              ctx.partial.get("n_samples")),
                              "available": dataset.n_samples}
        out["versions"], out["machine"] = library_versions(), runs.machine_info()
        out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB
        return out

    def finish(status: str, event_cls, code: int, **extra) -> int:
        res = result(status, **extra)
        if ctx.run_dir is not None:
            runs.atomic_write_json(ctx.run_dir / runs.RESULT_FILE, res)
        ctx.emit(event_cls(result=res, **({"reason": extra.get("error", "")}
                                          if event_cls in (Cancelled, Interrupted) else {})))
        return code

    ctx.emit(Started(job=spec.job, run_id=run_dir.name, spec=spec.to_dict(), pid=os.getpid()))
    try:
        with ctx.phase("loading", "loading the dataset"):
            dataset = load_dataset(spec.dataset, spec.data_dir, progress=download_reporter(ctx))
        ctx.log(f"dataset {dataset.name} from {dataset.source}: "
                + ", ".join(f"{k} {v:,}" for k, v in dataset.describe()["splits"].items()))
        for f in dataset.files:
            ctx.log(f"read {f['path']} ({f['split']} {f['kind']}, {f['bytes']:,} bytes, "
                    f"sha256 {f['sha256'][:12]}…)")
        if dataset.note:
            ctx.log(dataset.note, "warning")
        run_dir.mkdir(parents=True, exist_ok=False)
        runs.atomic_write_json(run_dir / runs.SPEC_FILE, spec.to_dict())
        runs.atomic_write_json(run_dir / runs.META_FILE, {
            "run_id": run_dir.name, "created": started_at, "pid": os.getpid(),
            "host": runs.machine_info()["host"], "rerun_of": rerun_of,
            "dataset": dataset.describe(), "versions": library_versions(),
            "machine": runs.machine_info()})
        sink.attach(run_dir / runs.EVENTS_FILE)
        log = os.open(run_dir / runs.LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 2)
        os.close(log)
        ctx.run_dir = run_dir
        job_result = runner(spec.job)(spec, dataset, ctx)
        return finish("finished", Finished, EXIT_OK, **job_result)
    except JobCancelled:
        return finish("cancelled", Cancelled, EXIT_CANCELLED, error="cancelled by the user")
    except KeyboardInterrupt:
        return finish("interrupted", Interrupted, EXIT_INTERRUPTED, error="interrupted (SIGINT)")
    except MnistTuiError as exc:
        # Bad input: nothing half-written is left behind.
        if ctx.run_dir is not None:
            sink.file = None
            shutil.rmtree(ctx.run_dir, ignore_errors=True)
            ctx.run_dir = None
        ctx.emit(Failed(error=str(exc), kind="input"))
        return EXIT_INPUT
    except Exception as exc:  # noqa: BLE001 - a job bug must become a recorded failure
        tb = traceback.format_exc()
        print(tb, file=sys.stderr, flush=True)
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        res = result("failed", error=message, traceback=tb[-4000:])
        if ctx.run_dir is not None:
            runs.atomic_write_json(ctx.run_dir / runs.RESULT_FILE, res)
        ctx.emit(Failed(error=message, kind="job", result=res))
        return EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    from mnist_tui.engine.specs import spec_from_dict

    ap = argparse.ArgumentParser(prog="python -m mnist_tui.engine.worker")
    ap.add_argument("--run-dir", required=True, type=Path, help="run folder to create")
    ap.add_argument("--spec", required=True, help="the job spec as JSON")
    ap.add_argument("--rerun-of", default=None)
    args = ap.parse_args(argv)
    sink = EventSink(_claim_stdout())
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _interrupt_when_orphaned()
    try:
        spec = spec_from_dict(json.loads(args.spec))
    except (MnistTuiError, ValueError) as exc:
        sink(Failed(error=str(exc), kind="input"))
        return EXIT_INPUT
    if args.run_dir.exists():
        sink(Failed(error=f"run folder {args.run_dir} already exists", kind="input"))
        return EXIT_INPUT
    return run_job(spec, args.run_dir, sink, args.rerun_of)


if __name__ == "__main__":
    sys.exit(main())
