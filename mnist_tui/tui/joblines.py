"""What the Monitor writes about one job: its table row, title, progress and activity lines.

Pure functions of a `Job`, the clock and a width, so that the lines fit the space they get (at
80 columns nothing is cut: parts are dropped by priority, the bar shrinks) and can be checked
without an app. Every phase says what it does and for how long, so a long silent phase
(TensorFlow's import, the first t-SNE neighbours) never looks frozen.
"""

from __future__ import annotations

from rich.text import Text

from mnist_tui.engine.present import duration, percent, progress_count, rate
from mnist_tui.tui.jobs import Job
from mnist_tui.tui.safe import plain, visible
from mnist_tui.tui.summary import STATE_ICON, STATE_STYLE, main_accuracy

# Fixed widths: the table fits 80 columns whatever the states become (auto widths grew and
# clipped "✔ finished" to "✔ finishe"), and rows do not jitter as values change.
COLUMNS = (("state", "state", 13), ("job", "job", 8), ("run", "run", 6), ("phase", "phase", 10),
           ("progress", "progress", 12), ("elapsed", "elapsed", 7), ("eta", "ETA", 6))
WIDTHS = {key: width for key, _, width in COLUMNS}
BAR_WIDTH, MIN_BAR_WIDTH = 24, 10
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SHORT_PHASES = {"feature_extraction": "features", "feature_stats": "feat stats",
                "evaluation": "evaluation", "preprocess": "preprocess"}


def short_phase(name: str, width: int = 10) -> str:
    name = visible(SHORT_PHASES.get(name, name))
    return name if len(name) <= width else name[:width - 1] + "…"


def fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(0, width - 1)] + "…"


def progress_bar(fraction: float | None, width: int = BAR_WIDTH) -> Text:
    if fraction is None:
        return Text("·" * width, style="dim")
    full = int(fraction * width)
    part = " ▏▎▍▌▋▊▉"[int((fraction * width - full) * 8)] if full < width else ""
    return Text.assemble(("█" * full + part, "bold cyan"),
                         ("·" * (width - full - len(part)), "dim"))


def counts(job: Job) -> str:
    """The numbers of the progress line: epochs and batches, megabytes, steps, or "done"."""
    if job.state == "finished":
        return "100%"
    epochs = job.epoch_progress()
    if epochs is not None:
        current, total, _ = epochs
        batches = f" · {job.step}/{job.total}" if job.total else ""
        return f"epoch {current}/{total}{batches}"
    if job.total:                   # megabytes while downloading
        return progress_count(job.phase, job.step, job.total)
    return ""


def rate_text(job: Job) -> str:
    """How fast: images/s while training, MB/s while downloading."""
    if not job.active:
        return ""
    if job.phase == "download":
        speed = job.rate()
        return f"at {rate(speed)}" if speed else ""
    ips = job.metrics.get("images_per_s")
    return f"{ips:,.0f} img/s" if isinstance(ips, (int, float)) and ips else ""


def metric_texts(job: Job) -> list[str]:
    m = job.metrics
    return [f"{label} {m[key]:.4g}" for key, label in
            (("kl_divergence", "KL"), ("loss", "loss"), ("accuracy", "acc"))
            if job.active and isinstance(m.get(key), (int, float))]


def table_row(job: Job, now: float, held: bool = False) -> list[Text | str]:
    """The job's row, each cell within its column's width."""
    state = Text(f"{STATE_ICON.get(job.state, '?')} {job.state}",
                 style=STATE_STYLE.get(job.state, ""))
    frac = job.fraction
    epochs = job.epoch_progress()
    if job.state == "finished":
        acc = main_accuracy(job.result)
        prog = f"done {percent(acc)}" if acc is not None else "100% done"
    elif epochs is not None:         # the fraction is the epochs' share (Job.fraction)
        prog = f"{percent(epochs[2], 0):>4} ep{epochs[0]}/{epochs[1]}"
    elif frac is not None:
        steps = f" {job.step}/{job.total}"
        prog = f"{percent(frac, 0):>4}" + (steps if len(steps) <= WIDTHS["progress"] - 4 else "")
    else:
        prog = "—"
    phase = job.phase or ("held" if job.state == "queued" and held else "—")
    # The job, its id and its phase can come from a run folder another process wrote (a
    # re-attached job): Text cells, since a str cell is markup. The figures are ours.
    return [state, plain(job.job), plain(job.job_id[-6:]),
            Text(short_phase(phase, WIDTHS["phase"])), fit(prog, WIDTHS["progress"]),
            duration(job.elapsed(now)), duration(job.job_eta())]


def title_line(job: Job, now: float, paused: bool = False) -> Text:
    return Text.assemble(
        ("⏸ screen paused (p) · " if paused else "", "bold yellow"),
        (f"{STATE_ICON.get(job.state, '')} {visible(job.job)} ", "bold"),
        (visible(job.job_id), "dim"), "  ", (visible(job.state), STATE_STYLE.get(job.state, "")),
        (f" {duration(job.elapsed(now))}" if job.elapsed(now) is not None else "", ""),
        ("" if job.ours else f" · by {visible(job.owned_by())}", "italic"))


def progress_line(job: Job, now: float, width: int) -> Text:
    """Phase, bar, counts, ETA, then rate and metrics while they fit `width`."""
    phase = "done" if job.state == "finished" else job.phase or (
        "waiting" if job.active else job.state)
    label = f"{short_phase(phase):>10} "
    essentials = [f" {counts(job)}" if counts(job) else ""]
    eta = job.job_eta()
    if eta is not None:
        essentials.append(f"  ETA {duration(eta)}")
    optional = [f"  {t}" for t in (rate_text(job), *metric_texts(job)) if t]
    fixed = len(label) + sum(map(len, essentials))
    # The bar gives way to the figures (down to MIN_BAR_WIDTH); what still does not fit is left
    # out whole, from the end, never cut in the middle.
    bar = max(MIN_BAR_WIDTH, min(BAR_WIDTH, width - fixed - sum(map(len, optional))))
    room = width - fixed - bar
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(label, "bold")
    line.append_text(progress_bar(job.fraction, bar))
    line.append(essentials[0])
    for extra in essentials[1:]:
        line.append(extra, "cyan")
    for extra in optional:
        if len(extra) <= room:
            line.append(extra, "bold" if extra.endswith("/s") else "")
            room -= len(extra)
    return line


def activity_line(job: Job, now: float, width: int, held_by: str | None = None) -> Text:
    """What the job is doing right now, with a spinner and the time in this phase; how it
    ended once it has."""
    elapsed = job.elapsed(now)
    if job.state == "queued":
        why = (f"held: it starts when {held_by} ends" if held_by
               else "waiting for a free slot (one job at a time)")
        return Text(fit(f"… {why}", width), style="dim")
    if not job.active:
        icon = STATE_ICON.get(job.state, "")
        took = f" after {duration(elapsed)}" if elapsed is not None else ""
        reason = job.error or (job.result.error if job.result else None) or ""
        why = visible(next(iter(str(reason).splitlines()), "")) if job.state != "finished" \
            else ""
        text = f"{icon} {job.state}{took}" + (f": {why}" if why else "")
        return Text(fit(text, width), style=STATE_STYLE.get(job.state, ""))
    spin = SPINNER[int(now) % len(SPINNER)]
    if job.state == "stopping":
        what = "stopping: the job records what it has done"
    elif not job.phase:
        what = "starting the worker"
    else:
        # The step in hand first ("epoch 4/5: validating"), then what the phase does.
        what = job.phase_message or job.phase
        if job.progress_message and job.progress_message not in what:
            what = f"{job.progress_message} — {what}"
    in_phase = job.phase_elapsed(now)
    suffix = f" · {duration(in_phase)} in this phase" if in_phase is not None else ""
    body = fit(visible(what), max(8, width - 2 - len(suffix)))
    return Text.assemble((f"{spin} ", "bold cyan"), (body, "italic"), (suffix, "dim"))
