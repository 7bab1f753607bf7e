"""Which recorded run stands for a suite member, and whether a member's run can be read.

A resumed suite reuses a run when its recorded spec has the member's settings (`Member.settings`,
compared as JSON) and its result is `finished`; `--reuse-runs` also takes finished runs the suite
did not make, when their whole spec agrees with the member's. Every run record is read through
`runs.records` (typed, schema version checked), never opened here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnist_tui.engine.runs import records as run_records
from mnist_tui.engine.runs import store as runs
from mnist_tui.engine.suites.records import unreadable
from mnist_tui.engine.suites.spec import Member, member_key


def is_run_id(run_id: str) -> bool:
    """Could `run_id` (read from the suite's member record) name a folder in the runs folder
    itself? A path (`../x`, `/tmp/x`), a hidden name or an empty one cannot: reading it would
    read outside the runs folder, or the folder itself."""
    return bool(run_id) and "/" not in run_id and "\0" not in run_id \
        and not run_id.startswith(".")


def run_problem(runs_dir: Path, run_id: str) -> str | None:
    """Why run `run_id`'s records cannot be read (its folder, spec or result record: chmod 000,
    an I/O error, not JSON, a newer schema); None when they can, or when it has no folder."""
    p = Path(runs_dir) / run_id
    if not is_run_id(run_id):
        return None
    try:
        if not p.exists():
            return None
        run_records.read_spec(p)
        run_records.read_result(p)
    except OSError as exc:
        return unreadable(p, exc)
    except ValueError as exc:
        return str(exc)
    return None


def run_matches(runs_dir: Path, run_id: str, key: str) -> bool:
    """True when run `run_id` finished and its recorded spec holds the settings of member
    `key`."""
    p = Path(runs_dir) / run_id
    if not is_run_id(run_id):
        return False
    try:
        settings = json.loads(key)
        spec = run_records.read_spec(p)
        result = run_records.read_result(p)
    except (OSError, ValueError):
        return False
    return (result is not None and result.status == "finished"
            and isinstance(settings, dict) and has_settings(spec, settings))


def finished_runs_by_key(runs_dir: Path, members: list[Member],
                         skipped: list[runs.Skipped] | None = None) -> dict[str, str]:
    """Finished runs anywhere in the store that can stand for one of `members`, by member key
    (the newest when several match: by the UTC start each run recorded, not by its id's local
    time). A run the suite did not make must have the member's settings *and* agree with its
    whole spec where both have a field: a run made by hand with another --perplexity is not
    the member. Run folders that cannot be read are appended to `skipped`."""
    wanted = {m.key: m for m in members}
    names = {m.job: tuple(m.settings) for m in members}
    out: dict[str, str] = {}
    listed, unreadable_runs = runs.RunStore(runs_dir).listing()
    if skipped is not None:
        skipped.extend(unreadable_runs)
    for info in reversed(listed):   # oldest first: newest wins
        if info.status != "finished" or info.job not in names:
            continue
        key = key_for_spec(info.spec, names[info.job])
        m = wanted.get(key) if key is not None else None
        if m is not None and compatible(info.spec, m.spec):
            out[m.key] = info.run_id
    return out


def key_for_spec(spec: object, names: Sequence[str]) -> str | None:
    """The member key a recorded spec would have for a member set by `names` (None if the spec
    lacks one of them)."""
    if not isinstance(spec, dict) or any(n not in spec for n in names):
        return None
    return member_key({n: spec[n] for n in names})


def has_settings(spec: object, settings: dict[str, Any]) -> bool:
    """True when `spec` holds every one of `settings` (compared as JSON: 30 == 30.0, a tuple is
    a list)."""
    return isinstance(spec, dict) and all(
        n in spec and _as_json(spec[n]) == _as_json(v) for n, v in settings.items())


def compatible(recorded: dict[str, Any], current: dict[str, Any]) -> bool:
    """Every setting both specs have is equal; one only one of them has (a field added or
    removed since the run) does not count."""
    return all(_as_json(recorded[k]) == _as_json(current[k]) for k in recorded.keys() & current)


def _as_json(v: object) -> Any:
    return json.loads(json.dumps(v))
