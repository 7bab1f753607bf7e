"""Writing a report's files: HTML, Markdown, JSON and CSV side by side, readable by others
(a report is for sharing), each written atomically; and the TUI's export of chosen runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

from mnist_tui.engine.runs import store as runs
from mnist_tui.engine.suites.report import build_runs_report
from mnist_tui.engine.suites.report_html import html
from mnist_tui.engine.suites.report_model import SuiteReport
from mnist_tui.engine.suites.report_text import markdown, to_csv, to_json


def report_paths(html_path: Path) -> list[Path]:
    """HTML at `html_path`, then .md, .json, .csv next to it (same stem): where a report goes.
    The front end checks these before a suite runs (`--report`), so it asks here."""
    html_path = Path(html_path)
    stem = str(html_path.with_suffix("") if html_path.suffix.lower() in (".html", ".htm")
               else html_path)
    return [html_path, Path(stem + ".md"), Path(stem + ".json"), Path(stem + ".csv")]


def report_texts(report: SuiteReport, html_path: Path) -> dict[Path, str]:
    """Each of `report_paths(html_path)` with its text (HTML, Markdown, JSON, CSV)."""
    html_file, md, js, csv = report_paths(html_path)
    return {html_file: html(report), md: markdown(report), js: to_json(report),
            csv: to_csv(report)}


def write_report(report: SuiteReport, html_path: Path) -> list[Path]:
    """HTML at `html_path`, and .md, .json, .csv next to it (same stem), each replaced
    atomically: for the suite's own folder and exports, where nothing else lives. (A `--report`
    named by the user is written by the front end, through devices and links.)"""
    paths = report_texts(report, html_path)
    umask = os.umask(0)
    os.umask(umask)
    for p, text in paths.items():
        runs.atomic_write_text(p, text)
        os.chmod(p, 0o666 & ~umask)      # a report is for sharing (temp files are 0600)
    return list(paths)


def export_runs_report(runs_dir: Path, run_ids: list[str]) -> list[Path]:
    """Write the report of `run_ids` under `<runs_dir>/reports/<timestamp>/report.*`
    (HTML, Markdown, JSON, CSV); returns the paths, the HTML first."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(runs_dir) / "reports"
    folder, i = base / stamp, 1
    while folder.exists():       # two exports in the same second
        i += 1
        folder = base / f"{stamp}-{i}"
    folder.mkdir(parents=True)
    report = build_runs_report(runs_dir, run_ids, report_id=f"runs-{folder.name}")
    return write_report(report, folder / "report.html")
