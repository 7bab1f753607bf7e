"""Runs: one job's life from spec to record. Specs (the single source of truth for flags, forms
and validation), the worker process and how front ends start it (launch), the events it prints,
the typed and versioned records it writes, the store that lists, reaps and reads them,
process identity and system sampling, and the checks made before launching."""
