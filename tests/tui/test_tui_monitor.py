"""A Monitor you can trust: the job you launched is the one selected, suite members show up,
clocks stop at the end, a finished job's bar is full, classifiers show their epochs and a
whole-job ETA, every phase says what it does, nothing is cut at 80×24, and a system line shows
the job's CPU, memory and GPUs."""

from __future__ import annotations

import re
import time

from rich.text import Text
from tui_helpers import (
    install_recorded_run,
    replay_job,
    screen_text,
    wait_for,
    widget_text,
    write_classifier_run,
)

from mnist_tui.engine.jobs.events import Cancelled, Epoch, Finished, Phase, Progress, Started
from mnist_tui.engine.jobs.results import RunResult
from mnist_tui.engine.jobs.specs import build_spec
from mnist_tui.tui.app import create_app
from mnist_tui.tui.joblines import activity_line, progress_line, table_row
from mnist_tui.tui.jobs import Job


class Clock:
    """The app's monotonic clock, which a test can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


def tsne_spec(samples: int = 300, iterations: int = 260) -> dict:
    return build_spec("tsne-gmm", "default", {"dataset": "digits", "samples": samples,
                                              "iterations": iterations,
                                              "gmm_inits": 1}).to_dict()


def cursor_key(app) -> str:
    table = app.screen.query_one("#jobs")
    return table.ordered_rows[table.cursor_row].key.value


def line_of(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


# -- (a) the job just launched is selected -------------------------------------------------------

async def test_the_job_just_launched_is_selected_even_behind_a_running_one(runs_dir):
    cnn = write_classifier_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        app.manager.add_replay(replay_job(runs_dir, cnn, state="finished"))
        await wait_for(pilot, lambda: app.screen.selected == cnn, 10)
        first = app.manager.submit(tsne_spec(1500, 5000))
        await wait_for(pilot, lambda: cursor_key(app) == first.job_id, 10)
        # queued behind the running one: listed after it, and still the one selected
        second = app.manager.submit(tsne_spec())
        await wait_for(pilot, lambda: cursor_key(app) == second.job_id, 10)
        assert app.manager.ordered()[0] is first and second.state == "queued"
        await wait_for(pilot, lambda: second.job_id in widget_text(app, "#job-title"), 5)
        # moving away sticks: the running job's events do not pull the cursor back
        await pilot.press("up")
        await wait_for(pilot, lambda: app.screen.selected != second.job_id, 5)
        chosen = app.screen.selected
        await wait_for(pilot, lambda: "/5000" in screen_text(app), 60)   # its events redrawn
        assert app.screen.selected == chosen == cursor_key(app)
        app.manager.cancel(first.job_id)
        app.manager.cancel(second.job_id)
        await wait_for(pilot, lambda: not first.active, 30)


async def test_a_stale_highlight_does_not_undo_following_the_job_just_launched(runs_dir):
    """A highlight message for the row under the old cursor, handled after the Monitor had
    followed a newly launched job but before it moved the cursor there, used to select the old
    row again: on a loaded machine the cursor stayed on the running job, not the one just
    launched. (Made deterministic here: the Monitor follows while another screen is shown, so
    nothing redraws it before the stale highlight.)"""
    from textual.widgets import DataTable

    cnn = write_classifier_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        app.manager.add_replay(replay_job(runs_dir, cnn, state="finished"))
        await wait_for(pilot, lambda: cursor_key(app) == cnn, 10)
        monitor = app.screen
        table = monitor.query_one("#jobs", DataTable)
        stale = DataTable.RowHighlighted(table, table.cursor_row,
                                         table.ordered_rows[table.cursor_row].key)
        await pilot.press("1")
        await wait_for(pilot, lambda: app.screen is not monitor, 5)
        app.manager.hold("the test keeps the job queued")
        job = app.manager.submit(tsne_spec())
        await wait_for(pilot, lambda: monitor.selected == job.job_id, 5)
        monitor.on_data_table_row_highlighted(stale)
        await pilot.press("3")
        await wait_for(pilot, lambda: cursor_key(app) == job.job_id, 5)
        assert monitor.selected == job.job_id
        # a highlight the user makes afterwards is followed as before
        await pilot.press("down")
        await wait_for(pilot, lambda: monitor.selected == cnn == cursor_key(app), 5)


# -- (b) suite members appear as jobs ------------------------------------------------------------

async def test_a_suite_member_started_from_the_suites_screen_shows_up_in_monitor(runs_dir):
    from textual.widgets import Input

    app = create_app(runs_dir=runs_dir, dataset="digits", load_data=False, start_mode="suites")
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.screen.query("#sf-methods"), 10)
        suites = app.screen
        # long enough to be seen by the app's look for live runs (every 3 s)
        for name, value in {"methods": "tsne-gmm", "sizes": "800", "seeds": "1",
                            "options": "dataset=digits iterations=1000 gmm-inits=1 presets=default"}.items():
            suites.query_one(f"#sf-{name}", Input).value = value
        await pilot.pause()
        await pilot.press("ctrl+s")
        # followed as the suite's member (fed by its listener), never re-attached on the side
        await wait_for(pilot, lambda: any(j.member for j in app.manager.jobs.values()), 60)
        member = next(j for j in app.manager.jobs.values() if j.member)
        await pilot.press("3")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "MonitorScreen", 5)
        await wait_for(pilot, lambda: member.job_id[-6:] in screen_text(app), 10)
        await wait_for(pilot, lambda: not suites.running, 120)
        await wait_for(pilot, lambda: member.state == "finished", 20)
        await wait_for(pilot, lambda: "✔ finished" in screen_text(app), 5)
        assert member.result.status == "finished"
        assert list(app.manager.jobs) == [member.job_id] and not member.attached


# -- (c) clocks stop at the end ------------------------------------------------------------------

def test_elapsed_stops_at_the_terminal_event_for_launched_and_reattached_jobs():
    spec = {"job": "cnn", "epochs": 5}
    launched = Job("a", spec, None, state="running", started_at=100.0)
    attached = Job("b", spec, None, state="running", started_at=95.0, attached=True)
    for job in (launched, attached):
        job.apply(Started(t=0.0, job="cnn", run_id=job.job_id, pid=1))
        job.apply(Phase(t=1.0, name="training"))
        assert job.elapsed(110.0) == 110.0 - job.started_at        # running: the clock runs
        job.apply(Finished(t=12.5, result=RunResult.from_dict({"status": "finished"})))
        # the worker exits later, and the app may see it much later: 12.5 s it took
        assert job.elapsed(200.0) == job.elapsed(5000.0) == 12.5
        assert job.phase_elapsed(200.0) is None


async def test_a_finished_job_s_clock_stops_in_the_table(runs_dir):
    clock = Clock()
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="monitor", clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        job = app.manager.submit(tsne_spec())
        await wait_for(pilot, lambda: job.state == "finished", 90)
        await wait_for(pilot, lambda: "✔ finished" in screen_text(app), 5)
        took = job.elapsed(clock())
        assert took == job.ended_t and abs(took - job.result.timings["total"]) < 0.5
        row = line_of(screen_text(app), "✔ finished")
        clock.offset += 3600                # an hour later, a new job redraws the table
        other = app.manager.submit(tsne_spec(1500, 5000))
        await wait_for(pilot, lambda: other.job_id[-6:] in screen_text(app), 10)
        assert line_of(screen_text(app), "✔ finished") == row
        assert job.elapsed(clock()) == took
        app.manager.cancel(other.job_id)
        await wait_for(pilot, lambda: not other.active, 30)


# -- (d) a finished job shows a full bar ---------------------------------------------------------

async def test_a_finished_job_shows_a_full_bar(runs_dir):
    tsne = install_recorded_run(runs_dir)      # its last phase (scoring) has no progress
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        job = replay_job(runs_dir, tsne, state="finished")
        assert job.phase == "scoring" and job.total is None
        app.manager.add_replay(job)
        await wait_for(pilot, lambda: "100%" in widget_text(app, "#job-progress"), 10)
        progress = widget_text(app, "#job-progress")
        assert "█" * 20 in progress and "·" not in progress
        # the table row is redrawn after the activity line ("✔ finished after 15s"): wait for it
        await wait_for(pilot, lambda: any("✔ finished" in line and "after" not in line
                                          for line in screen_text(app).splitlines()), 10)
        row = next(line for line in screen_text(app).splitlines()
                   if "✔ finished" in line and "after" not in line)
        # a finished row shows its headline score (the recorded run's one-to-one accuracy)
        assert f"done {100 * job.result.headline().value:.2f}%" in row


# -- (e) epochs and a whole-job ETA --------------------------------------------------------------

def test_a_classifier_shows_its_epoch_and_a_whole_job_eta(runs_dir):
    cnn = write_classifier_run(runs_dir)
    job = replay_job(runs_dir, cnn, upto=9.0)     # 3 of 5 epochs done (2 s each), 7/15 batches
    current, epochs, share = job.epoch_progress()
    assert (current, epochs) == (4, 5) and abs(share - (3 + 7 / 15) / 5) < 1e-9
    assert abs(job.job_eta() - (5 - 3 - 7 / 15) * 2.0) < 1e-9      # not the epoch's 2.0 s
    line = progress_line(job, 0.0, 78).plain
    assert "epoch 4/5 · 7/15" in line and "ETA 3.1s" in line
    row = table_row(job, 0.0)
    assert row[4] == " 69% ep4/5" and row[6] == "3.1s"
    # an epoch ends: the next one starts from 0 batches, the share does not go back
    job.apply(Epoch(t=9.6, epoch=4, epochs=5, metrics={"loss": 0.4}, seconds=2.0))
    assert job.epoch_progress() == (5, 5, 0.8)


# -- (f) every phase says what it does -----------------------------------------------------------

def test_a_silent_phase_shows_a_spinner_and_its_time():
    job = Job("a", {"job": "cnn"}, None, state="running", started_at=100.0)
    job.apply(Phase(t=0.9, name="importing", message="importing TensorFlow"))
    first, later = activity_line(job, 104.9, 78), activity_line(job, 106.9, 78)
    assert "importing TensorFlow · 4.0s in this phase" in first.plain
    assert "6.0s in this phase" in later.plain and first.plain[0] != later.plain[0]   # spinner


def test_a_download_shows_megabytes_and_its_rate():
    job = Job("a", {"job": "vgg16"}, None, state="running", started_at=0.0)
    job.apply(Phase(t=1.0, name="download", message="downloading the ImageNet weights"))
    job.apply(Progress(t=1.0, phase="download", step=0, total=58_889_256,
                       message="downloading vgg16_notop.h5"))
    job.apply(Progress(t=4.0, phase="download", step=12_300_000, total=58_889_256,
                       message="downloading vgg16_notop.h5"))
    line = progress_line(job, 4.0, 78).plain
    assert "12.3/58.9 MB" in line and "at 4.1 MB/s" in line and "ETA 11s" in line
    assert "downloading vgg16_notop.h5 — downloading the ImageNet" in \
        activity_line(job, 4.0, 78).plain


async def test_the_activity_line_follows_a_real_job_through_its_phases(runs_dir):
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        job = app.manager.submit(tsne_spec(500, 600))
        await wait_for(pilot, lambda: job.phase == "tsne", 60)
        await wait_for(pilot, lambda: re.search(r"t-SNE .* · [\d.]+s in this phase",
                                                widget_text(app, "#job-activity")), 5)
        await wait_for(pilot, lambda: job.state == "finished", 120)
        await wait_for(pilot, lambda: "✔ finished after" in widget_text(app, "#job-activity"), 5)


# -- (g) nothing cut at 80 columns ---------------------------------------------------------------

async def test_the_progress_line_and_the_table_fit_80_by_24(runs_dir):
    cnn = write_classifier_run(runs_dir)
    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="monitor",
                     clock=lambda: 0.0)
    async with app.run_test(size=(80, 24)) as pilot:
        for state, error in (("interrupted", "interrupted (Ctrl-C)"),
                             ("cancelled", "cancelled from the TUI")):
            ended = Job(f"20260101-10000{len(state)}-cnn-{state[:6]}", {"job": "cnn"}, None,
                        state=state, error=error)
            ended.apply(Phase(t=1.0, name="feature_extraction"))
            app.manager.add_replay(ended)
        job = replay_job(runs_dir, cnn, upto=9.0)
        app.manager.latest = job.job_id           # as if launched here: it is selected
        app.manager.add_replay(job)
        await wait_for(pilot, lambda: "ep4/5" in screen_text(app), 10)
        text = screen_text(app)
        progress = line_of(text, "epoch 4/5 · 7/15")
        assert "ETA 3.1s" in progress and "450 img/s" in progress and "…" not in progress
        for cell in ("↯ interrupted", "■ cancelled", "▶ running", "features", "69% ep4/5"):
            assert cell in text, cell
        table = text.splitlines()[1:5]
        assert all(len(line.rstrip()) <= 80 and "…" not in line for line in table)


def test_an_ended_job_says_why_with_or_without_an_error_message():
    job = Job("a", {"job": "tsne-gmm"}, None, state="running", started_at=0.0)
    job.apply(Phase(t=0.5, name="tsne"))
    job.apply(Cancelled(t=9.0, reason="", result=RunResult.from_dict(
        {"status": "cancelled", "error": "cancelled from the TUI"})))
    assert activity_line(job, 50.0, 78).plain == "■ cancelled after 9.0s: cancelled from the TUI"
    job.result = None
    assert activity_line(job, 50.0, 78).plain == "■ cancelled after 9.0s"


def test_lines_never_exceed_their_width():
    job = Job("a", {"job": "tsne-gmm"}, None, state="running", started_at=0.0)
    job.apply(Phase(t=0.0, name="tsne", message="2-D t-SNE (opentsne), perplexity 30, " * 4))
    job.apply(Progress(t=5.0, phase="tsne", step=1234, total=5000, message="early exaggeration",
                       metrics={"kl_divergence": 1.8427}))
    for width in (40, 60, 78, 118):
        for line in (progress_line(job, 5.0, width), activity_line(job, 5.0, width)):
            assert isinstance(line, Text) and line.cell_len <= width, (width, line.plain)


# -- 4. the system line --------------------------------------------------------------------------

async def test_the_system_line_shows_the_job_s_cpu_memory_and_gpus(runs_dir):
    from mnist_tui.engine.present import size
    from mnist_tui.engine.runs import sysmon

    app = create_app(runs_dir=runs_dir, load_data=False, start_mode="monitor")
    async with app.run_test(size=(80, 24)) as pilot:
        job = app.manager.submit(tsne_spec(500, 600))
        await wait_for(pilot, lambda: job.phase == "tsne", 60)
        pattern = r"CPU \d+% · RSS [\d.]+ [kMG]B │ (GPU\d|\d+ GPUs|no GPU)"
        await wait_for(pilot, lambda: re.search(pattern, widget_text(app, "#job-system")), 15)
        line = widget_text(app, "#job-system")
        if not sysmon.gpus():
            assert "no GPU" in line
        await wait_for(pilot, lambda: job.state == "finished", 120)
        # an ended job: the peaks its worker recorded
        await wait_for(pilot, lambda: "peak RSS" in widget_text(app, "#job-system"), 5)
        system = job.result.system
        assert size(system["peak_rss_bytes"]) in widget_text(app, "#job-system")
