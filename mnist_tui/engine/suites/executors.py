"""The executor a suite asks for (`--executor local|ray`, `--parallel N`, `--ray-address`),
checked before anything runs: a bad value or a missing Ray is one `SpecError` line."""

from __future__ import annotations

from pathlib import Path

from mnist_tui.engine.errors import SpecError
from mnist_tui.engine.suites.executor import Executor, LocalSerialExecutor
from mnist_tui.engine.suites.records import EXECUTORS, MAX_PARALLEL, ExecutorChoice

RAY_INSTALL = "pip install -e \".[ray]\" (or: pip install \"ray>=2.9\")"


def executor_choice(kind: str | None, parallel: int | None,
                    address: str | None) -> ExecutorChoice:
    """The choice the flags (or the Suites form) make, checked."""
    kind = kind or "local"
    if kind not in EXECUTORS:
        raise SpecError(f"--executor: unknown executor {kind!r} (choose from "
                        f"{', '.join(EXECUTORS)})")
    if parallel is not None and not 1 <= parallel <= MAX_PARALLEL:
        raise SpecError(f"--parallel: give a whole number of members from 1 to {MAX_PARALLEL} "
                        f"(got {parallel})")
    if address is not None and kind != "ray":
        raise SpecError("--ray-address needs --executor ray")
    if address is not None and (not address.strip() or any(c.isspace() or ord(c) < 32
                                                          for c in address)):
        raise SpecError("--ray-address: give auto, or HOST:PORT of the cluster's head node "
                        "(ray://HOST:PORT for Ray Client)")
    if kind == "ray":
        check_ray_installed()
        return ExecutorChoice(kind="ray", parallel=parallel or 0, address=address or "auto")
    return ExecutorChoice(kind="local", parallel=parallel or 1)


def check_ray_installed() -> None:
    """`--executor ray` without Ray: one line that says how to install it."""
    try:
        import ray  # noqa: F401 - installed and importable (a broken install says so here)
    except ImportError as exc:
        raise SpecError(f"--executor ray needs Ray, which is not installed: "
                        f"{RAY_INSTALL}") from exc


def make_executor(choice: ExecutorChoice, runs_dir: Path, nice: int = 0) -> Executor:
    """The executor for `choice`. Ray connects here (MnistTuiError when it cannot)."""
    if choice.kind == "ray":
        from mnist_tui.engine.suites.ray_executor import RayExecutor

        return RayExecutor(runs_dir, address=choice.address or "auto",
                           parallel=choice.parallel)
    if choice.parallel > 1:
        from mnist_tui.engine.suites.local_pool import LocalPoolExecutor

        return LocalPoolExecutor(runs_dir, choice.parallel, nice)
    return LocalSerialExecutor(runs_dir, nice)
