"""The presentation vocabulary (`engine/present.py`, `engine/jobs/event_text.py`): every style
as its callers showed it before, and no crash on what a planted record can hold."""

from __future__ import annotations

import math

import pytest

from mnist_tui.engine.jobs.event_text import (
    event_line,
    live_text,
    preflight_text,
    progress_line,
    progress_tail,
)
from mnist_tui.engine.jobs.events import (
    Epoch,
    Finished,
    Log,
    ModelSummary,
    Phase,
    Progress,
    Snapshot,
    Started,
)
from mnist_tui.engine.present import (
    count,
    duration,
    figure,
    is_number,
    percent,
    progress_count,
    rate,
    size,
    stamp,
    transferred,
    used_of_total,
)

NO_TIME = [None, math.nan, math.inf, -math.inf, 1e300, True, "12", [1]]


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0.0s"), (4.25, "4.2s"), (9.96, "10.0s"), (10, "10s"), (59.4, "59s"), (59.9, "60s"),
    (60, "1m00s"), (61.4, "1m01s"), (3599, "59m59s"), (3599.6, "1h00m"), (3600, "1h00m"),
    (7500, "2h05m"), (-3, "0.0s"),
])
def test_compact_durations_as_the_monitor_shows_them(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0.0s"), (12.34, "12.3s"), (59.9, "59.9s"), (60, "1m00s"), (185.9, "3m05s"),
    (3599, "59m59s"), (3600, "60m00s"), (7500, "125m00s"),
])
def test_table_durations_truncate_and_never_turn_into_hours(seconds, text):
    assert duration(seconds, "table") == text


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (59.4, "59s"), (59.9, "1m00s"), (60, "1m00s"), (3599, "59m59s"),
    (3600, "1h00m"), (7500, "2h05m"),
])
def test_whole_durations_of_an_estimate(seconds, text):
    assert duration(seconds, "whole") == text


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0.0s"), (59.9, "59.9s"), (60, "60.0s"), (3599, "3599.0s"), (1234.56, "1234.6s"),
])
def test_tenths_durations_of_a_log_line(seconds, text):
    assert duration(seconds, "tenths") == text


@pytest.mark.parametrize("style", ["compact", "table", "whole", "tenths"])
@pytest.mark.parametrize("value", NO_TIME)
def test_no_time_is_a_dash_in_every_style(style, value):
    assert duration(value, style) == "—"
    assert duration(value, style, missing="?") == "?"


def test_stamp_is_fixed_width():
    assert stamp(0) == "[    0.0s]"
    assert stamp(12.34) == "[   12.3s]"
    assert stamp(123456.7) == "[123456.7s]"


@pytest.mark.parametrize(("n", "download", "memory"), [
    (0, "0 bytes", "0 B"), (999, "999 bytes", "999 B"), (1000, "1.0 kB", "1.0 kB"),
    (300_000, "300.0 kB", "300 kB"), (1e6, "1.0 MB", "1.0 MB"), (58_889_256, "58.9 MB", "58.9 MB"),
    (1.5e9, "1500.0 MB", "1.5 GB"), (123e9, "123000.0 MB", "123 GB"),
    (None, "size unknown", "—"),
])
def test_sizes_as_downloads_and_system_figures_show_them(n, download, memory):
    assert size(n, "download") == download
    assert size(n, "memory") == memory
    assert size(n) == memory


def test_sizes_in_a_fixed_unit():
    assert size(0, "MB") == "0.0 MB"
    assert size(1e6, "MB") == "1.0 MB"
    assert size(1.5e9, "MB") == "1500.0 MB"
    assert size(1.5e9, "GB") == "1.5 GB"
    assert size(1_234e9, "GB") == "1,234.0 GB"
    assert size(None, "GB") == "—"


def test_downloads_so_far_and_their_rate():
    assert transferred(1_234_567, 9_912_422) == "1.2/9.9 MB"
    assert transferred(1_234_567, None) == "1.2 MB"
    assert transferred(0, 0) == "0.0 MB"
    assert rate(2_500_000) == "2.5 MB/s"


def test_used_of_total_shares_the_totals_unit():
    assert used_of_total(3_100_000_000, 80_000_000_000) == "3.1/80.0 GB"
    assert used_of_total(None, 80_000_000_000) == "?/80.0 GB"
    assert used_of_total(512_000_000, None) == "512 MB used"
    assert used_of_total(10, 500) == "10.0/500 B"


@pytest.mark.parametrize(("value", "digits", "text"), [
    (0, 2, "0.00%"), (0.97314, 2, "97.31%"), (1, 2, "100.00%"), (0.97314, 1, "97.3%"),
    (0.275, 0, "28%"), (0.5, 0, "50%"),
])
def test_percentages(value, digits, text):
    assert percent(value, digits) == text


@pytest.mark.parametrize("value", [None, math.nan, math.inf, 1e308, True, "0.9"])
def test_no_share_is_a_dash(value):
    assert percent(value) == "—"
    assert percent(value, missing="–") == "–"


@pytest.mark.parametrize(("n", "text"), [
    (0, "0"), (999, "999"), (60000, "60,000"), (-1, "—"), (6000.0, "—"), (True, "—"),
    ("60000", "—"), (None, "—"),
])
def test_counts(n, text):
    assert count(n) == text


def test_is_number():
    assert is_number(0) and is_number(59.9) and is_number(-1e300)
    assert not any(is_number(v) for v in (None, math.nan, math.inf, True, "1"))


def test_figures_of_a_log_line():
    assert figure(0.123456) == "0.1235"
    assert figure(1234.56) == "1,234.6"
    assert figure(12345.6, "images_per_s") == "12,346"
    assert figure(7) == "7"


def test_progress_counts():
    assert progress_count("download", 1_200_000, 9_900_000) == "1.2/9.9 MB"
    assert progress_count("download", 1_200_000, None) == "1.2 MB"
    assert progress_count("tsne", 1200, 6000) == "1,200/6,000"
    assert progress_count("tsne", 1200, None) == "1,200"


def test_event_lines_of_a_log():
    assert event_line(Phase(t=1.25, name="load", message="reading MNIST")) == \
        "[    1.2s] load: reading MNIST"
    assert event_line(Phase(t=0, name="load")) == "[    0.0s] load"
    assert event_line(Log(t=2, message="hello")) == "[    2.0s] hello"
    assert event_line(Log(t=2, message="careful", level="warning")) == \
        "[    2.0s] WARNING: careful"
    assert event_line(Epoch(t=30, epoch=2, epochs=10, seconds=12.34,
                            metrics={"loss": 0.5, "accuracy": 0.875})) == \
        "[   30.0s] epoch 2/10  loss 0.5000  accuracy 0.8750  (12.3s)"
    assert event_line(ModelSummary(t=3, layers=[{}, {}], trainable_params=1234,
                                   frozen_params=14_714_688)) == \
        "[    3.0s] model: 2 layers, 1,234 trainable + 14,714,688 frozen parameters"
    assert event_line(Started(run_id="r1", job="cnn", spec={"preset": "default", "seed": 0})) \
        == "run r1: cnn (preset default, seed 0)"
    assert event_line(Snapshot(t=1)) is None
    assert event_line(Finished(t=1)) is None


def test_progress_lines_of_a_log_and_the_bar():
    ev = Progress(t=5, phase="tsne", step=250, total=750, message="optimising",
                  metrics={"kl_divergence": 1.5, "images_per_s": 1234.5}, eta=12.4)
    assert progress_line(ev) == \
        "[    5.0s] tsne 250/750 optimising kl divergence 1.5000 images per s 1,234 ETA 12s"
    assert progress_tail(ev) == "optimising kl divergence 1.5000 images per s 1,234 ETA 12s"
    bare = Progress(t=5, phase="download", step=2_000_000, total=None, eta=3)
    # the plain line keeps its spacing (message and metrics empty), the bar's tail is trimmed
    assert progress_line(bare) == "[    5.0s] download 2.0 MB   ETA 3s"
    assert progress_tail(bare) == "ETA 3s"


def test_suite_status_texts():
    assert preflight_text(Phase(name="download", message="fetching")) == "download: fetching"
    assert preflight_text(Progress(phase="download", step=1_000_000, total=11_000_000,
                                   message="downloading x.gz")) == "downloading x.gz: 1.0/11.0 MB"
    assert preflight_text(Progress(phase="tsne", step=1, total=2)) is None
    assert live_text(Progress(phase="tsne", step=1, total=4, message="optimising"), "") == \
        "tsne 25% optimising"
    assert live_text(Progress(step=1, total=None), "pca") == "pca"
    assert live_text(Epoch(epoch=3, epochs=10, metrics={"val_accuracy": 0.9712}), "") == \
        "epoch 3/10: accuracy 97.1%"
    assert live_text(Epoch(epoch=3, epochs=10, metrics={"loss": 0.3}), "") == "epoch 3/10"
    assert live_text(Epoch(epoch=3, epochs=10, metrics={"accuracy": math.nan}), "") == \
        "epoch 3/10"
    assert live_text(Log(message="x"), "") is None
