"""Writing a report of chosen runs from a screen (Runs, Results): the engine writes it in a
thread, the screen keeps its path on view, whole, and the path is copied."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rich.text import Text
from textual.dom import DOMNode

from mnist_tui.tui.host import app_state
from mnist_tui.tui.safe import plain, visible


def export_notice(run_ids: Sequence[str], paths: Sequence[Path]) -> Text:
    """What stays on screen after an export: which runs, and the report's path whole, on a
    line of its own."""
    text = Text.assemble(("Report of ", "bold"), visible(export_subject(run_ids)),
                         (" written", "bold"),
                         (" (.md .json .csv beside it), path copied:", "dim"))
    text.append("\n")
    text.append(visible(paths[0]), "bold cyan")
    return text


def export_subject(run_ids: Sequence[str]) -> str:
    """Which runs an export was of, in a few words: `run 20260101-…-bbb222`, `3 runs`."""
    return f"run {run_ids[0]}" if len(run_ids) == 1 else f"{len(run_ids)} runs"


def export_report(screen: DOMNode, chosen: Sequence[str | None],
                  show: Callable[[Text], object]) -> None:
    """Write the report of the `chosen` runs in a thread (the engine's `export_runs_report`),
    then `show` its path (on the calling `screen`, where it stays) and copy the path to the
    clipboard (OSC 52: most terminals; the path on screen is whole for the others)."""
    app, runs_dir = screen.app, app_state(screen).runs_dir
    run_ids = [r for r in chosen if r]
    if not run_ids:
        app.notify("no run to export", severity="warning")
        return
    show(Text(f"writing the report of {len(run_ids)} run(s)…", style="italic"))

    def done(paths: list[Path]) -> None:
        app.copy_to_clipboard(str(paths[0]))
        show(export_notice(run_ids, paths))
        # The toast may be read on another screen or over another run: it names the run(s)
        # it is about and the real path (never "below the table": not every screen has one).
        app.notify(f"{export_subject(run_ids)}: report written to {paths[0]} (path copied)",
                   timeout=5)

    def write() -> None:
        from mnist_tui.engine.suites.report_files import export_runs_report

        try:
            paths = export_runs_report(runs_dir, run_ids)
        except Exception as exc:  # noqa: BLE001 - shown on screen
            app.call_from_thread(show, plain(f"export failed: {exc}", "bold red"))
            return
        app.call_from_thread(done, paths)

    app.run_worker(write, thread=True, group="export", exit_on_error=False)
