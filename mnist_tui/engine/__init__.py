"""The engine: data, jobs, metrics, events and the run store. Never imports Textual."""
