"""The Textual front end: screens over the engine's worker processes and run store.

Nothing here trains or scores anything: jobs run in `mnist_tui.engine.runs.worker` processes and
every number shown comes from their events or the run folder.
"""
