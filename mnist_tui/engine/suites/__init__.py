"""Suites: a benchmark of many runs. The suite spec and its folder (suite), its records and
lock, the runner that starts members through workers (resumable), and the reports (statistics,
terminal, Markdown, JSON, CSV, HTML) built from finished runs."""
