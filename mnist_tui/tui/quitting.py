"""What quitting says: the quit dialog's question and the lines printed after the app exits.

A window stops only what it started. Jobs it merely follows (another window's, a batch run's, a
suite's, or left running by a window that is gone) are named as such and go on whatever is
chosen; after the app has gone, the terminal keeps a list of what still runs and how to see it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from mnist_tui.tui.jobs import Job
from mnist_tui.tui.safe import notice

SHOWN = 4   # jobs named per group; the rest are counted


def job_name(job: Job) -> str:
    """`cnn 3f9a2c` (the job and the end of its run id), escaped for the screen."""
    return notice(f"{job.job} {job.job_id[-6:]}")


def _names(jobs: Sequence[Job]) -> str:
    names = [job_name(j) for j in jobs[:SHOWN]]
    if len(jobs) > SHOWN:
        names.append(f"{len(jobs) - SHOWN} more")
    return ", ".join(names)


def quit_question(mine: Sequence[Job], others: Sequence[Job], suite: str | None) -> str | None:
    """The dialog's text, or None when this window has nothing of its own to stop or leave
    (it quits at once; `others` go on)."""
    running = [j for j in mine if j.state != "queued"]
    queued = [j for j in mine if j.state == "queued"]
    if not running and not queued and suite is None:
        return None
    lines = ["This window started:"]
    if running:
        lines.append(f"  running: {_names(running)}")
    if queued:
        lines.append(f"  queued: {_names(queued)} (dropped either way)")
    if suite is not None:
        lines.append(f"  suite {notice(suite)} (it stops with the app; r on 6 resumes it)")
    if others:
        lines.append(f"Not this window's, going on whatever you choose: {_names(others)}")
    lines.append("Leave running: its jobs go on without the app; start mnist-tui again to "
                 "watch them. Stop them: this window's jobs only.")
    return "\n".join(lines)


def exit_message(going_on: Sequence[Job], runs_dir: str) -> Text | None:
    """Printed in the terminal once the app has gone: what still runs, and how to see it."""
    if not going_on:
        return None
    text = Text()
    text.append(f"Still running ({len(going_on)}), outside mnist-tui:\n")
    for job in going_on:
        who = "left by this window" if job.ours else job.owned_by()
        text.append(f"  {job_name(job)}  {notice(who)}  "
                    f"{notice(str(job.run_dir))}\n")
    text.append(f"See them again: mnist-tui --runs-dir {notice(runs_dir)}  (3 Monitor)")
    return text
