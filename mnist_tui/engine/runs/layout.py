"""What a runs folder holds, by name: the one place the record files are named.

    <runs-dir>/<run-id>/spec.json      the exact spec (re-runnable with --config / --rerun)
                        meta.json      run id, times, pid, host, versions, dataset, rerun_of
                        events.jsonl   every event the job emitted, one JSON object per line
                        result.json    the final result (status finished|failed|cancelled|interrupted)
                        worker.log     the worker's stderr (library chatter, tracebacks)
                        artifacts …    job-specific files
    <runs-dir>/suites/<suite-id>/suite.json         the SuiteSpec (re-runnable)
                                 status.json        where the suite stands, who runs it
                                 members.json       member key → run id
                                 measurements.json  peak memory measured from outside
                                 lock               one runner at a time (flock)
                                 report.*           the report files

Only `runs/records.py` and `suites/records.py` open the JSON records; everything else names
them through these constants (a marker check, a message) and reads the typed records.
Plain constants: light to import (the command line's help, the output checks).
"""

from __future__ import annotations

SPEC_FILE = "spec.json"
META_FILE = "meta.json"
RESULT_FILE = "result.json"
EVENTS_FILE = "events.jsonl"
LOG_FILE = "worker.log"
SUITES_DIR = "suites"

SUITE_FILE = "suite.json"
STATUS_FILE = "status.json"
MEMBERS_FILE = "members.json"
MEASUREMENTS_FILE = "measurements.json"

# What marks a folder as a run's (written by its worker) or a suite's (by its runner).
RECORD_MARKERS = ((SPEC_FILE, META_FILE), (SUITE_FILE, STATUS_FILE))
