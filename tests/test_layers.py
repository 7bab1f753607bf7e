"""The code's own rules, checked with the suite: the layers (import-linter's contracts in
pyproject.toml: the engine imports no front end, Textual or Rich; the TUI no batch front end;
screens no screens; engine packages suites → runs → jobs → data) and ruff's lint (pyflakes errors,
import order, bugbear). Each fails with the tool's own report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import patient

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / tool), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=patient(300), check=False)


def test_the_layers_hold():
    out = run("lint-imports", "--no-cache")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_ruff_finds_nothing():
    out = run("ruff", "check", "--no-cache", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_on_the_whole_package():
    """`mypy` with no arguments, as configured in pyproject.toml: all of `mnist_tui` (engine,
    TUI, front ends), strict, with no module excused; untyped third-party libraries
    (TensorFlow, scikit-learn…) are Any."""
    from tomllib import loads  # noqa: PLC0415 - Python ≥ 3.11 here; CI runs 3.12

    config = loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["files"] == ["mnist_tui"] and config["strict"] is True
    assert not any(o.get("ignore_errors") for o in config.get("overrides", []))
    out = run("mypy")
    assert out.returncode == 0, out.stdout + out.stderr
