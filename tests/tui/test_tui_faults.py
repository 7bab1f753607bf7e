"""Fault rows the TUI meets: run folders whose artifacts are torn (a signal or a full disk at
the wrong moment, an old version). Part of the fault suite (marker `faults`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tui_helpers import wait_for

pytestmark = pytest.mark.faults



async def test_results_shows_a_run_whose_embedding_is_torn(tmp_path):
    """Bug: Results loaded embedding.npz unguarded: a torn file broke the screen."""
    import shutil as _shutil

    from mnist_tui.tui.app import create_app

    fixtures = Path(__file__).parent / "fixtures"
    recorded = next(p for p in fixtures.rglob("result.json")
                    if json.loads(p.read_text()).get("job") == "tsne-gmm").parent
    runs = tmp_path / "runs"
    _shutil.copytree(recorded, runs / recorded.name)
    (runs / recorded.name / "embedding.npz").write_bytes(b"PK\x03\x04 torn")
    app = create_app(runs_dir=runs, load_data=False, start_mode="results")
    app.results_run = recorded.name
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.view is not None, 10)   # loads in a thread
        assert app.screen.view.run_id == recorded.name
