"""`mnist-tui --batch --suite NAME` (and --resume / --suite-rerun): a suite headless.

Each member prints a header line (`[3/12] cnn default 2,000 images seed 1`), then the batch
Reporter's progress lines, then one result line. At the end: the comparison table, the sweep
charts, and the report files (always in the suite folder; also at --report PATH).
Exit codes as --batch: 0 every member finished, 3 some failed (or the suite itself stopped on
an error: one `error:` line, recorded as failed), 130 interrupted, 2 bad usage (also: another
process runs this suite now).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mnist_tui.engine.errors import MnistTuiError, SpecError
from mnist_tui.engine.jobs.specs import JOB_NAMES, flag_name
from mnist_tui.engine.present import duration, percent
from mnist_tui.engine.suites.listener import SuiteListener
from mnist_tui.engine.text import shown
from mnist_tui.outputs import (
    QuietOnClosedPipe,
    check_json_target,
    check_report_targets,
    error_line,
    human_stream,
    write_output,
    write_stdout,
)

if TYPE_CHECKING:
    from mnist_tui.batch import Reporter
    from mnist_tui.engine.jobs.events import Event, Throttle
    from mnist_tui.engine.jobs.results import Placement
    from mnist_tui.engine.runs.records import RunResult
    from mnist_tui.engine.suites.folder import SuiteFolder
    from mnist_tui.engine.suites.records import ExecutorChoice
    from mnist_tui.engine.suites.session import SuiteResult
    from mnist_tui.engine.suites.spec import Member, SuiteSpec

SUITE_OPTIONS = ("methods", "presets", "sizes", "seeds", "vgg_input_size", "protocols",
                 "backends")
EXECUTOR_OPTIONS = ("executor", "parallel", "ray_address")   # how, not what: --resume takes them
EXIT = {"finished": 0, "failed": 3, "interrupted": 130}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mnist_tui.engine.jobs.backends import BACKENDS, DEFAULT_BACKEND
    from mnist_tui.engine.suites.spec import (
        DEFAULT_PRESETS,
        DEFAULT_SEEDS,
        DEFAULT_VGG_INPUT_SIZE,
        PROTOCOLS,
        SEED_SIZES,
        SEED_SUPERVISED_SAMPLES,
        SUITE_HELP,
        SUITE_NAMES,
        SWEEP_SIZES,
    )
    from mnist_tui.engine.suites.spec_text import seeds_text

    g = p.add_argument_group("suites (with --batch)")
    g.add_argument("--suite", choices=SUITE_NAMES, help="run a benchmark suite: " + "; ".join(
        f"{k}: {v}" for k, v in SUITE_HELP.items()) + ". Job options given too apply to every "
        "member they fit (e.g. --epochs 1, --iterations 260)")
    g.add_argument("--resume", metavar="SUITE_ID", help="continue an interrupted suite: "
                   "finished members are reused, the rest run")
    g.add_argument("--suite-rerun", metavar="SUITE_ID", help="run a recorded suite's spec "
                   "again, from scratch, as a new suite")
    g.add_argument("--report", metavar="PATH", help="also write the report here: PATH (HTML) "
                   "and .md, .json, .csv next to it")
    g.add_argument("--methods", metavar="LIST", help=f"methods of the suite (default: all: "
                   f"{','.join(JOB_NAMES)})")
    g.add_argument("--presets", metavar="LIST", help="presets each method runs, a member per "
                   "preset (default: seed suite "
                   f"{','.join(DEFAULT_PRESETS['seed'])}; sweep "
                   f"{','.join(DEFAULT_PRESETS['sweep'])}; a method skips those it lacks: "
                   "refined is t-SNE + GMM's; the Suites form shows the same)")
    g.add_argument("--sizes", metavar="LIST", help="numbers of images (sweep default "
                   f"{','.join(map(str, SWEEP_SIZES))}; seed suite: the t-SNE + GMM sizes, "
                   f"default {','.join(map(str, SEED_SIZES))}; there --samples sets the "
                   f"classifiers', default {SEED_SUPERVISED_SAMPLES})")
    g.add_argument("--seeds", metavar="N|LIST", help="N seeds (0…N-1) or a list (default: "
                   f"seed suite {seeds_text(DEFAULT_SEEDS['seed'])}, sweep "
                   f"{seeds_text(DEFAULT_SEEDS['sweep'])})")
    g.add_argument("--vgg-input-size", metavar="N", help="VGG16 input size in suites "
                   f"(default {DEFAULT_VGG_INPUT_SIZE}, what 2 CPU cores afford; the notebook "
                   "used 224)")
    g.add_argument("--protocols", metavar="LIST", help="seed suite: notebook (its small "
                   "samples), standard (every image: train on the train split, score on the "
                   "test split, cluster all 70,000) or both (default: "
                   f"{','.join(PROTOCOLS)})")
    g.add_argument("--backends", metavar="LIST", help="Keras backends to compare, e.g. "
                   f"tensorflow,jax (from {','.join(BACKENDS)}): each member that trains with "
                   "Keras (the CNN, VGG16, t-SNE + GMM's refined preset) runs once per backend, "
                   "and the report groups by it (default: none, every member on --backend, "
                   f"itself default {DEFAULT_BACKEND})")
    g.add_argument("--executor", metavar="local|ray", help="where the members run: local "
                   "(default: this machine, --parallel at once) or ray (each member a Ray task "
                   "on the cluster at --ray-address; needs the [ray] extra)")
    g.add_argument("--parallel", metavar="N", help="members at once (local default 1; with "
                   "GPUs each classifier member gets one of its own, else the cores are split "
                   "between them; ray default: as many as the cluster has CPUs)")
    g.add_argument("--ray-address", metavar="ADDRESS", help="with --executor ray: the "
                   "cluster's head, HOST:PORT (default auto: the cluster this machine joined "
                   "with `ray start`, else a local Ray started for the suite; local: always "
                   "a local Ray of the suite's own)")
    g.add_argument("--reuse-runs", action="store_true", help="reuse any finished run in the "
                   "runs folder that has a member's settings and agrees with the rest of its "
                   "spec (a setting only one of them knows, added or removed since, aside)")


def wants_suite(args: argparse.Namespace) -> bool:
    return bool(args.suite or args.resume or args.suite_rerun)


def suite_only_flags(args: argparse.Namespace) -> list[str]:
    """Suite options given without a suite: each is a usage error."""
    out = [f"--{flag_name(k)}" for k in (*SUITE_OPTIONS, *EXECUTOR_OPTIONS, "report")
           if getattr(args, k, None)]
    return out + (["--reuse-runs"] if args.reuse_runs else [])


def build_suite_spec(args: argparse.Namespace, given: dict[str, Any]) -> SuiteSpec:
    """The SuiteSpec of the command line's suite flags (the engine parses them)."""
    from mnist_tui.engine.suites.spec_text import suite_spec_from_text

    return suite_spec_from_text(args.suite, methods=args.methods, presets=args.presets,
                                sizes=args.sizes, seeds=args.seeds, protocols=args.protocols,
                                vgg_input_size=args.vgg_input_size,
                                backends=args.backends, given=given)


class BatchListener(SuiteListener):
    """Suite progress for people, through the batch Reporter (whose every line shows control
    characters as escapes: labels, run ids and errors come from records)."""

    def __init__(self, reporter: Reporter, choice: ExecutorChoice | None = None) -> None:
        self.r = reporter
        # Several members at once (a pool, Ray): their lines are interleaved, so each names
        # its member, and progress is a plain line per member every few seconds (no live bar).
        self.several = choice is not None and (choice.kind == "ray" or choice.parallel > 1)
        self.choice = choice
        self._progress: dict[tuple[int, str], Throttle | None] = {}   # None: its end shown

    def preflight_event(self, ev: Event) -> None:
        self.r.event(ev)   # its downloads (MNIST, VGG16 weights)

    def suite_ready(self, folder: SuiteFolder, spec: SuiteSpec, resumed: bool) -> None:
        verb = "resuming" if resumed else "running"
        self.r.line(f"{verb} suite {spec.name} {folder.suite_id}: {len(spec.members())} "
                     f"member runs (folder {folder.path})")
        if self.choice is not None and self.several:
            self.r.line(f"executor: {self.choice.describe()}")

    def member_start(self, index: int, total: int, member: Member) -> None:
        self.r.line(f"[{index}/{total}] {member.label}")

    def member_placed(self, index: int, member: Member, run_id: str,
                      placement: Placement) -> None:
        if self.several:
            retry = f" (attempt {placement.attempt})" if placement.attempt > 1 else ""
            self.r.line(f"[{index}] {member.label}: run {run_id} on {placement.where()}{retry}")

    def member_event(self, index: int, member: Member, ev: Event) -> None:
        if not self.several:
            self.r.event(ev)
            return
        from mnist_tui.batch import PLAIN_PROGRESS_SECONDS
        from mnist_tui.engine.jobs.event_text import event_line, progress_line
        from mnist_tui.engine.jobs.events import Progress, Throttle

        if isinstance(ev, Progress):
            key = (index, ev.phase)
            throttle = self._progress.setdefault(key, Throttle(1 / PLAIN_PROGRESS_SECONDS))
            done = ev.total is not None and ev.step >= ev.total
            if throttle is None or not throttle.ready(force=done):
                return     # shown a moment ago, or its end was shown already
            if done:
                self._progress[key] = None
            text: str | None = progress_line(ev)
        else:
            text = event_line(ev)
        if text is not None:
            self.r.line(f"[{index}] {text}")

    def member_reused(self, index: int, total: int, member: Member, run_id: str) -> None:
        self.r.line(f"[{index}/{total}] {member.label}: finished before, reusing run {run_id}")

    def event(self, ev: Event) -> None:
        self.r.event(ev)

    def interrupting(self, member: Member) -> None:
        if self.several:
            self.r.line(f"interrupted: stopping {member.label} and recording what it has "
                        "done…")
        else:
            self.r.line("interrupted: stopping the member and recording what it has done…")

    def member_end(self, index: int, total: int, member: Member, result: RunResult) -> None:
        from mnist_tui.engine.jobs.results import ClassifierMetrics, ClusteringMetrics

        m, total_s = result.metrics, result.total_seconds()
        parts = []
        if (member.job == "tsne-gmm" and isinstance(m, ClusteringMetrics)
                and m.accuracy_hungarian is not None):
            parts.append(f"accuracy one-to-one {percent(m.accuracy_hungarian)}, majority "
                         f"vote {percent(m.accuracy_majority or 0.0)}")
        elif isinstance(m, ClassifierMetrics) and m.accuracy is not None:
            parts.append(f"accuracy {percent(m.accuracy)}")
        if total_s is not None:
            parts.append(f"total {duration(total_s, 'tenths')}")
        text = f"  → {member.label}: {result.status}" + (f": {', '.join(parts)}"
                                                         if parts else "")
        if result.status != "finished" and result.error:
            text += f" ({shown(result.error, 300)})"   # a record's text: bounded
        self.r.line(text)


def check_outputs(args: argparse.Namespace) -> None:
    """`--json` and `--report` checked before any member runs, with the very checks a single
    `--batch --job` makes: an hour of runs never ends in "cannot write"."""
    from mnist_tui.engine.suites.report_files import report_paths

    if args.json_out:
        check_json_target(args.json_out)
    if args.report:
        check_report_targets(report_paths(Path(args.report).expanduser()))


def run_suite_batch(args: argparse.Namespace, runs_dir: Path, given: dict[str, Any]) -> int:
    from mnist_tui.batch import Reporter
    from mnist_tui.engine.suites.runner import describe
    from mnist_tui.engine.suites.session import SuiteFailed, SuiteSession

    human = human_stream(args.json_out)
    reporter = Reporter(human)   # also shows the preflight's downloads (MNIST, VGG16 weights)
    try:
        source = suite_source(args, given)
        choice = executor_from_args(args)
        session = SuiteSession(runs_dir, source, rerun=bool(args.suite_rerun),
                               listener=BatchListener(reporter, choice),
                               reuse_store=args.reuse_runs, choice=choice)
        done = session.run()
    except MnistTuiError as exc:   # nothing ran (or another process runs the suite)
        reporter.end_status()
        error_line(exc)
        return 2
    except SuiteFailed as exc:     # recorded in status.json as failed, with the reason
        if os.environ.get("MNIST_TUI_DEBUG"):
            raise exc.cause from exc
        reporter.end_status()
        error_line(f"suite {exc.suite_id} stopped: {describe(exc.cause)} (recorded as failed; "
                   f"mnist-tui --batch --resume {exc.suite_id} continues it)")
        return 3
    return _report(args, done, reporter, human)


def executor_from_args(args: argparse.Namespace) -> ExecutorChoice:
    """--executor, --parallel and --ray-address, checked (SpecError: one line)."""
    from mnist_tui.engine.suites.executors import executor_choice

    parallel = None
    if args.parallel is not None:
        text = str(args.parallel).strip()
        if not text.isdigit():
            raise SpecError(f"--parallel: give a whole number of members (got {shown(text, 40)!r})")
        parallel = int(text)
    return executor_choice(args.executor, parallel, args.ray_address)


def suite_source(args: argparse.Namespace, given: dict[str, Any]) -> SuiteSpec | str:
    """The new suite's spec, or the recorded suite's id, once the flags and outputs are
    checked (SpecError: one suite source; a recorded suite's members are fixed)."""
    sources = [s for s in ("suite", "resume", "suite_rerun") if getattr(args, s)]
    if len(sources) != 1:
        raise SpecError("give exactly one of --suite, --resume or --suite-rerun")
    others = [f"--{o}" for o in ("job", "rerun", "config") if getattr(args, o)]
    if others:
        raise SpecError(f"{others[0]} cannot be used with --{flag_name(sources[0])}")
    if args.preset:
        raise SpecError("--preset cannot be used with a suite (use --presets)")
    check_outputs(args)
    if args.suite:
        return build_suite_spec(args, given)
    changed = [f"--{flag_name(k)}" for k in SUITE_OPTIONS if getattr(args, k)]
    changed += [f"--{flag_name(k)}" for k in given]
    if changed:
        raise SpecError(f"{changed[0]} cannot be changed for a recorded suite (its members "
                        "are fixed): start a new one with --suite")
    return str(args.resume or args.suite_rerun)


def _report(args: argparse.Namespace, done: SuiteResult, reporter: Reporter,
            human: TextIO | QuietOnClosedPipe) -> int:
    """The ended suite: --report files, the table (and sweep charts), --json; the exit code."""
    from mnist_tui.engine.suites.report_files import report_texts
    from mnist_tui.engine.suites.report_text import terminal_charts, terminal_summary, to_json

    report, written, suite_id = done.report, list(done.paths), done.folder.suite_id
    if args.report:
        for path, text in report_texts(report, Path(args.report).expanduser()).items():
            try:
                write_output(path, text, shared=True)
            except OSError as exc:
                error_line(f"--report: cannot write {path}: {exc.strerror}")
                return 2
            written.append(path)
    reporter.line("")
    for line in terminal_summary(report):
        reporter.line(line)
    if done.folder.spec().name == "sweep":
        charts = terminal_charts(report, color=human.isatty())
        if charts:
            reporter.drawn(charts)   # several lines, colour codes on a terminal
    reporter.line("")
    if done.outcome.reused:
        reporter.line(f"reused {len(done.outcome.reused)} finished run(s)")
    reporter.line("report: " + ", ".join(str(p) for p in written[-4:]))
    if done.status == "interrupted":
        reporter.line(f"interrupted: continue with  mnist-tui --batch --resume {suite_id}")
    reporter.line(f"suite {suite_id}: {done.status}")
    if args.json_out:
        text = to_json(report)
        try:
            if args.json_out == "-":
                write_stdout(text)
            else:
                write_output(args.json_out, text)
        except MnistTuiError as exc:
            error_line(exc)
            return 2
        except OSError as exc:
            error_line(f"--json: cannot write {args.json_out}: {exc.strerror}")
            return 2
    return EXIT.get(done.status, 3)
