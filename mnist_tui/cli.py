"""The `mnist-tui` command: the TUI by default, `--batch` for headless runs.

Kept light on purpose: `mnist-tui --help` imports neither TensorFlow, Textual, NumPy nor
scikit-learn. Every job option is generated from the spec dataclasses, so a new spec field is a
new flag with its help, choices and bounds for free.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from mnist_tui import __version__
from mnist_tui.engine.errors import MnistTuiError, SpecError
from mnist_tui.engine.jobs.specs import (
    JOB_NAMES,
    SPEC_CLASSES,
    flag_name,
    parse_value,
    spec_fields,
)
from mnist_tui.engine.runs.layout import SPEC_FILE
from mnist_tui.outputs import check_json_target, check_runs_dir, error_line, reserve_std_fds, say
from mnist_tui.suite_batch import suite_only_flags, wants_suite

if TYPE_CHECKING:
    from mnist_tui.engine.jobs.specs import JobSpec

EXIT_USAGE = 2
COMMON_FIELDS = ("dataset", "data_dir", "split", "samples", "subset_seed", "seed")
NOT_FLAGS = ("preset",)  # has its own option


class UsageError(MnistTuiError):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse, but every usage error is one `error: …` line and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see mnist-tui --help)")


def _field_flags() -> dict[str, dataclasses.Field[Any]]:
    """field name → the first spec field of that name, over every job."""
    out: dict[str, dataclasses.Field[Any]] = {}
    for job in JOB_NAMES:
        for f in spec_fields(job):
            if f.name not in NOT_FLAGS and f.name not in out:
                out[f.name] = f
    return out


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="mnist-tui",
        description="Benchmark handwritten-digit recognisers on MNIST: a terminal UI by default, "
                    "or headless with --batch.",
        epilog="Exit codes (--batch): 0 finished, 2 bad usage or input, 3 the job failed, "
               "130 interrupted. Environment: MNIST_TUI_DATA_DIR, MNIST_TUI_RUNS_DIR, "
               "MNIST_TUI_CACHE_DIR, MNIST_TUI_MIRRORS, MNIST_TUI_WEIGHTS_URL (mirrors of "
               "VGG16's ImageNet file, comma-separated; Keras' checksum is kept), KERAS_HOME "
               "(Keras' cache, where the ImageNet file is kept).",
        allow_abbrev=False)
    p.add_argument("--version", action="version", version=f"mnist-tui {__version__}")
    p.add_argument("--batch", action="store_true", help="run a job with no UI")
    p.add_argument("--job", choices=JOB_NAMES, help="the job to run")
    p.add_argument("--preset", help="preset the job's settings start from (seed = the reference "
                                    "notebook, default = our best; a suite runs several: "
                                    "--presets)")
    p.add_argument("--rerun", metavar="RUN_ID", help="run a recorded run's spec again")
    p.add_argument("--config", metavar="FILE", help="run the spec in a JSON file (e.g. a run's "
                                                    f"{SPEC_FILE}); options given too override it")
    p.add_argument("--runs-dir", metavar="PATH", default=argparse.SUPPRESS,
                   help="where runs are recorded [env MNIST_TUI_RUNS_DIR, else the user data dir]")
    p.add_argument("--json", metavar="PATH|-", dest="json_out",
                   help="write the result as JSON to PATH (- = stdout only; progress goes to stderr)")
    from mnist_tui.suite_batch import add_arguments as add_suite_arguments

    add_suite_arguments(p)
    groups: dict[str, argparse._ArgumentGroup] = {}
    for name, f in _field_flags().items():
        meta = f.metadata
        title = _group_title(name)
        group = groups.get(title) or groups.setdefault(title, p.add_argument_group(title))
        help_text = meta["help"]
        if meta["choices"]:
            help_text += f" {{{', '.join(map(str, meta['choices']))}}}"
        if name == "data_dir":
            help_text += " [env MNIST_TUI_DATA_DIR]"
        help_text += f" (default: {_default_text(name)})"
        if meta["kind"] is bool:
            group.add_argument(f"--{flag_name(name)}", dest=name, default=argparse.SUPPRESS,
                               action=argparse.BooleanOptionalAction, help=help_text)
        else:
            group.add_argument(f"--{flag_name(name)}", dest=name, default=argparse.SUPPRESS,
                               metavar=_metavar(f), help=help_text)
    return p


def _jobs_with(name: str) -> list[str]:
    return [job for job in JOB_NAMES if name in {f.name for f in spec_fields(job)}]


def _group_title(name: str) -> str:
    jobs = _jobs_with(name)
    if name in COMMON_FIELDS or len(jobs) == len(JOB_NAMES):
        return "data and seeds (every job)"
    return f"{', '.join(jobs)} options"


def _default_text(name: str) -> str:
    """The value the default preset gives, per job when jobs differ."""
    values = {job: getattr(SPEC_CLASSES[job](), name) for job in _jobs_with(name)}
    shown = {job: "none" if v is None else str(v) for job, v in values.items()}
    if len(set(shown.values())) == 1:
        return next(iter(shown.values()))
    return ", ".join(f"{job} {v}" for job, v in shown.items())


def _metavar(f: dataclasses.Field[Any]) -> str:
    kind = f.metadata["kind"]
    return {int: "N", float: "X"}.get(kind, "NAME" if f.metadata["choices"] else "VALUE")


def _given_fields(args: argparse.Namespace) -> dict[str, str | bool]:
    """The job options given, as typed (a switch such as --deskew is a bool, the rest text)."""
    names = _field_flags()
    return {k: v for k, v in vars(args).items() if k in names}


def _overrides(job: str, given: dict[str, str | bool]) -> dict[str, Any]:
    """The given options as the job's values (parsed by its spec's fields)."""
    fields_of_job = {f.name: f for f in spec_fields(job)}
    out: dict[str, Any] = {}
    for name, text in given.items():
        if name not in fields_of_job:
            raise UsageError(f"--{flag_name(name)} does not apply to --job {job}")
        out[name] = text if isinstance(text, bool) else parse_value(fields_of_job[name], text)
    return out


def resolve_spec(args: argparse.Namespace, runs_dir: Path) -> tuple[JobSpec, str | None]:
    """The spec a batch run will execute, from --job/--rerun/--config plus explicit options."""
    from mnist_tui.engine.jobs.specs import build_spec, spec_from_dict
    from mnist_tui.engine.runs.store import RunStore, read_json

    sources = [s for s in ("job", "rerun", "config") if getattr(args, s)]
    if len(sources) != 1:
        raise UsageError("--batch needs exactly one of --job, --rerun or --config")
    given = _given_fields(args)
    if args.job:
        if "data_dir" not in given and os.environ.get("MNIST_TUI_DATA_DIR") \
                and given.get("dataset") != "digits":
            given["data_dir"] = os.environ["MNIST_TUI_DATA_DIR"]
        data_dir, tensorboard = given.get("data_dir"), given.get("tensorboard")
        if isinstance(data_dir, str) and data_dir:
            given["data_dir"] = str(Path(data_dir).expanduser().resolve())
        if isinstance(tensorboard, str) and tensorboard and tensorboard.lower() != "none":
            given["tensorboard"] = str(Path(tensorboard).expanduser().absolute())
        return build_spec(args.job, args.preset or "default", _overrides(args.job, given)), None
    base: object
    rerun_of: str | None
    if args.rerun:
        base, rerun_of = RunStore(runs_dir).load_spec(args.rerun), args.rerun
    else:
        try:
            base, rerun_of = read_json(Path(args.config)), None
        except ValueError as exc:   # records.RecordError: unreadable, not a file, not JSON
            raise UsageError(f"--config: {exc}") from None
    if not isinstance(base, dict) or not isinstance(base.get("job"), str) \
            or base["job"] not in SPEC_CLASSES:
        raise SpecError(f"{args.config or args.rerun}: not a job spec (no known \"job\" key)")
    if args.preset:
        # A spec file fixes every value; relabelling it would run one preset under another's
        # name (and suites and reports group by that name).
        raise UsageError(f"--preset cannot be combined with --{'rerun' if args.rerun else 'config'}"
                         f": the spec already fixes every value (its preset is "
                         f"{base.get('preset')!r}); change single values with their flags, or "
                         f"start from --job {base['job']} --preset {args.preset}")
    base.update(_overrides(base["job"], given))
    spec = spec_from_dict(_absolute_paths(base, Path(args.config).parent if args.config else None))
    return spec, rerun_of


def _absolute_paths(spec: dict[str, Any], relative_to: Path | None) -> dict[str, Any]:
    """Paths in a spec file, absolute: relative ones are read from the spec file's folder (a
    --config) or the current folder, so the recorded spec re-runs from anywhere."""
    out = dict(spec)
    for name in ("data_dir", "tensorboard"):
        value = out.get(name)
        if isinstance(value, str) and value:
            p = Path(value).expanduser()
            if not p.is_absolute():
                p = (relative_to or Path.cwd()) / p
            out[name] = str(p.absolute())
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        _refuse_empty_paths(args)
        runs_dir = Path(getattr(args, "runs_dir", None) or os.environ.get("MNIST_TUI_RUNS_DIR")
                        or _default_runs_dir()).expanduser()
        if not args.batch:
            batch_only = [f"--{flag_name(k)}" for k in _given_fields(args) if k != "data_dir"]
            batch_only += [f"--{o}" for o in ("job", "rerun", "config", "preset") if getattr(args, o)]
            batch_only += ["--json"] if args.json_out else []
            batch_only += [f"--{o.replace('_', '-')}" for o in ("suite", "resume", "suite_rerun")
                           if getattr(args, o)] + suite_only_flags(args)
            if batch_only:
                raise UsageError(f"{batch_only[0]} needs --batch")
            return _run_tui(args, runs_dir)
        reserve_std_fds()     # `>&-`: no pipe or run file may become "stdout"
        if wants_suite(args):
            from mnist_tui.suite_batch import run_suite_batch

            runs_dir = check_runs_dir(runs_dir)
            return _guarded(lambda: run_suite_batch(args, runs_dir, _given_fields(args)))
        if suite_only_flags(args):
            raise UsageError(f"{suite_only_flags(args)[0]} needs --suite (or --resume)")
        spec, rerun_of = resolve_spec(args, runs_dir)
        refuse_missing_backend(spec)
        if args.json_out:
            check_json_target(args.json_out)
        runs_dir = check_runs_dir(runs_dir)
    except MnistTuiError as exc:
        error_line(exc)
        return EXIT_USAGE
    from mnist_tui.batch import run_batch

    tensorboard = getattr(spec, "tensorboard", None)     # the Keras jobs' option
    if tensorboard:
        # a path that came from a spec file writes where the user may not look: say where
        from mnist_tui.engine.text import visible

        say(f"tensorboard logs: {visible(tensorboard)}")
    return _guarded(lambda: run_batch(spec, runs_dir, json_out=args.json_out, rerun_of=rerun_of))


def refuse_missing_backend(spec: Any) -> None:
    """A Keras backend this machine lacks (or TensorBoard without TensorFlow): one line, before
    a worker starts (and before TensorFlow's seconds of import)."""
    from mnist_tui.engine.jobs.backends import problems

    lacking = problems(spec.to_dict())
    if lacking:
        raise SpecError(next(iter(lacking.values())))


PATH_OPTIONS = (("json_out", "--json"), ("report", "--report"), ("runs_dir", "--runs-dir"),
                ("config", "--config"), ("rerun", "--rerun"), ("resume", "--resume"),
                ("suite_rerun", "--suite-rerun"))


def _refuse_empty_paths(args: argparse.Namespace) -> None:
    """UsageError for an option given an empty value (`--json "$OUT"` with OUT unset): it read
    as not given, so the job ran, exit 0, and the JSON asked for was never written."""
    for name, flag in PATH_OPTIONS:
        if getattr(args, name, None) == "":
            raise UsageError(f"{flag} was given an empty value (see mnist-tui --help)")


def _guarded(fn: Callable[[], int]) -> int:
    """Run a batch front end: a bug of ours is one `error:` line and exit 3, not a traceback."""
    try:
        return fn()
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except BrokenPipeError:
        return 0 if os.environ.get("MNIST_TUI_DEBUG") is None else 3
    except Exception as exc:
        if os.environ.get("MNIST_TUI_DEBUG"):
            raise
        error_line(f"internal error: {type(exc).__name__}: {exc} "
                   "(set MNIST_TUI_DEBUG=1 for the traceback)")
        return 3


def _default_runs_dir() -> Path:
    from mnist_tui.engine.runs.store import default_runs_dir

    return default_runs_dir()


def _keys_from_a_terminal() -> bool:
    """Whether the TUI can take keys here. Its keys come from the standard input:
    without a terminal there (`mnist-tui </dev/null >file`, cron, a script) it could only run,
    drawing into whatever stderr is, until killed, so it refuses at once. Where it draws is the
    user's choice: stderr may be a pipe that relays to a terminal (`2> >(tee log)`, a
    recorder), and the TUI writes nothing to stdout."""
    try:
        return sys.stdin is not None and os.isatty(sys.stdin.fileno())
    except (AttributeError, OSError, ValueError):   # closed, or no file descriptor
        return False


def _run_tui(args: argparse.Namespace, runs_dir: Path) -> int:
    data_dir = getattr(args, "data_dir", None) or os.environ.get("MNIST_TUI_DATA_DIR")
    if not _keys_from_a_terminal():
        error_line("the terminal UI needs a terminal, and the standard input is not one; "
                   "without a terminal use --batch (see mnist-tui --help)")
        return EXIT_USAGE
    try:
        from mnist_tui.tui.app import run_app
    except ImportError:
        print("error: the terminal UI is not part of this build yet; use --batch "
              "(see mnist-tui --help)", file=sys.stderr)
        return EXIT_USAGE
    return run_app(data_dir=data_dir, runs_dir=runs_dir)
