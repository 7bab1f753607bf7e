"""SVG screenshots of every screen, from the real app on real digits, into screenshots/.

    MNIST_TUI_REAL_MNIST=../shared/mnist .venv/bin/python scripts/make_screenshots.py [TAGS]

TAGS (optional, comma-separated) makes only those passes: 120x40, 80x24, 80x24-no-color.

Runs two small t-SNE + GMM jobs on the real MNIST files (in a temporary runs folder), and saves
the Dataset, Launch, Monitor (mid-run), Results, Runs, Compare, Help and Suites (a small sweep,
run for real) screens at 120×40, plus the Dataset, Launch, Monitor and Results screens at 80×24,
in colour and under NO_COLOR (`*-80x24-no-color.svg`).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots"


async def wait(pilot, predicate, timeout=300.0):
    """Wait for a condition; on a timeout, say what the screen showed instead."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001
            pass
        if time.monotonic() > deadline:
            screen = pilot.app.screen
            shown = [str(w.render()) for w in screen.query("Static")]
            raise TimeoutError(f"{type(screen).__name__} showed: "
                               + " | ".join(t for t in shown if t.strip())[:2000])
        await pilot.pause(0.2)


async def main() -> int:
    data = os.environ.get("MNIST_TUI_REAL_MNIST")
    if not data or not Path(data).exists():
        print("set MNIST_TUI_REAL_MNIST to a folder with the real MNIST files", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from mnist_tui.engine.jobs.specs import build_spec
    from mnist_tui.tui.app import create_app

    OUT.mkdir(exist_ok=True)
    runs = Path(tempfile.mkdtemp(prefix="mnist-tui-shots-"))
    data = str(Path(data).resolve())
    passes = (((120, 40), False), ((80, 24), False), ((80, 24), True))
    only = sys.argv[1].split(",") if len(sys.argv) > 1 else None   # e.g. 80x24,80x24-no-color
    for size, plain in passes:
        tag = f"{size[0]}x{size[1]}" + ("-no-color" if plain else "")
        if only is not None and tag not in only:
            continue
        if plain:       # what a NO_COLOR terminal shows (Textual reads it when the app starts)
            os.environ["NO_COLOR"] = "1"
        else:
            os.environ.pop("NO_COLOR", None)
        app = create_app(runs_dir=runs, data_dir=data)
        async with app.run_test(size=size) as pilot:
            shot = lambda name: app.save_screenshot(f"{name}-{tag}.svg", path=str(OUT))  # noqa: E731
            await wait(pilot, lambda: app.stats is not None, 120)
            await pilot.pause(0.5)
            shot("dataset")
            await pilot.press("2")
            await wait(pilot, lambda: app.screen.query("#f-samples"))
            await pilot.pause(0.3)
            shot("launch")
            if size == (120, 40):
                specs = [build_spec("tsne-gmm", "default", {"data_dir": data, "samples": 2000,
                                                            "gmm_inits": 2}),
                         build_spec("tsne-gmm", "default", {"data_dir": data, "samples": 2000,
                                                            "gmm_inits": 2, "perplexity": 50.0})]
                jobs = [app.manager.submit(s.to_dict()) for s in specs]
            else:
                jobs = [app.manager.submit(build_spec("tsne-gmm", "default", {
                    "data_dir": data, "samples": 1500, "gmm_inits": 1}).to_dict())]
            await pilot.press("3")
            await wait(pilot, lambda: jobs[0].phase == "tsne" and (jobs[0].step or 0) >
                       (jobs[0].total or 1) * 0.6)
            await pilot.pause(0.6)
            shot("monitor")
            await wait(pilot, lambda: all(not j.active for j in jobs), 600)
            await pilot.pause(0.5)
            await pilot.press("o")
            await wait(pilot, lambda: "misclassified" in str(
                app.screen.query_one("#res-gallery-title").render()), 120)
            await pilot.pause(0.5)
            shot("results")
            if size == (120, 40):
                await pilot.press("pagedown")
                await pilot.pause(0.5)
                shot("results-more")
                await pilot.press("5")
                await wait(pilot, lambda: app.screen.query_one("DataTable").row_count >= 2)
                await pilot.press("space", "space")
                await pilot.pause(0.3)
                shot("runs")
                await pilot.press("v")
                await wait(pilot, lambda: getattr(app.screen, "loaded", False))
                await pilot.pause(0.5)
                shot("compare")
                await pilot.press("escape", "question_mark")
                await pilot.pause(0.5)
                shot("help")
                await pilot.press("escape", "6")
                await wait(pilot, lambda: app.screen.query("#sf-methods"))
                from textual.widgets import Input

                for name, value in (("methods", "tsne-gmm,cnn"), ("sizes", "250,500,1000"),
                                    ("seeds", "2"),
                                    ("options", f"dataset=mnist data-dir={data} epochs=4 "
                                                "presets=default")):
                    app.screen.query_one(f"#sf-{name}", Input).value = value
                await pilot.pause(0.3)
                suites = app.screen     # before ctrl+s: the question may be up when it returns
                await pilot.press("ctrl+s")
                # a suite the plan finds large asks first (ConfirmScreen): answer yes
                await wait(pilot, lambda: suites.running or app.screen is not suites, 600)
                if app.screen is not suites:
                    await wait(pilot, lambda: app.screen.query("#yes"), 30)
                    await pilot.pause(0.3)
                    await pilot.click("#yes")
                await wait(pilot, lambda: suites.running, 60)
                await wait(pilot, lambda: not suites.running, 1800)
                await pilot.pause(0.5)
                shot("suites")
    print(f"screenshots in {OUT}: " + ", ".join(sorted(p.name for p in OUT.glob("*.svg"))))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
