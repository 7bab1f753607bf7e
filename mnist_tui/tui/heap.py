"""Keep Python's full garbage collections out of the way of key presses.

While a job trains, the app's full (generation 2) collections ran every ~10 s and took 90–230 ms
each on this 2-core machine: each walks every object alive, and most of those are the modules
imported once (Textual, Rich, numpy, scikit-learn, the dataset's statistics). A key press that
landed on one waited for it; they were the slowest presses in benchmarks/tui_latency.py.
`gc.freeze()` moves the objects alive now into a generation the collector never walks, so later
collections only look at what the session created since. Called when the first frame is up and
again when the dataset has loaded (the two moments the heap grows for good); cheap to repeat.
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Exempt what is alive now (imports, the loaded dataset) from future full collections."""
    gc.freeze()
