"""Honest timings: where each member of a report ran, how many ran at once, and when times
that the report compares were measured on different hardware or at different concurrency.

Everything comes from the run records: a member's `placement` (`results.Placement`, which the
executor and the worker wrote) and its start and end. A run recorded without a placement (before
suites ran members in parallel, or a run started on its own) ran the only way there was then:
locally, one at a time, on the host its record names, with every core.

Concurrency is measured, not taken from `--parallel`: a suite with `--parallel 4` runs fewer at
once when it has fewer members left, when a classifier waits for a free GPU, or when Ray has
fewer free slots; a resumed suite mixes runs of different sessions; and a report of chosen runs
has no setting at all. The number the times depend on is how many members really ran beside
this one, which the recorded intervals say.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mnist_tui.engine.jobs.results import Placement, RunResult
from mnist_tui.engine.runs.records import utc_seconds
from mnist_tui.engine.suites.report_model import GroupRow, MemberRow

NODE_ID_CHARS = 8          # a Ray node id shown by its first characters, as Ray's own logs do


def placement_of(result: RunResult) -> Placement:
    """Where `result`'s run ran: its recorded placement, or (a run recorded without one) local,
    one at a time, on the host its machine record names, every core."""
    if result.placement is not None:
        return result.placement
    host = result.machine.get("host")
    cpus = result.machine.get("cpus")
    return Placement(executor="local", host=host if isinstance(host, str) else None,
                     parallel=1, cpus=cpus if isinstance(cpus, int) and cpus > 0 else None)


def short_node(node: str | None) -> str | None:
    """A Ray node id as the report shows it: its first characters."""
    return node[:NODE_ID_CHARS] if node else None


def cores(threads: int | None, cpus: int | None) -> str:
    """A member's thread share: `1 of 2 cores`, `4 cores`, `all 16 cores`, `every core`."""
    return Placement(threads=threads, cpus=cpus).share()


def share(row: MemberRow) -> str:
    """What of its machine a member had: `GPU 1: NVIDIA H100` or its thread share."""
    return Placement(gpu=row.gpu, gpu_name=row.gpu_name, threads=row.threads,
                     cpus=row.cpus).share()


def placement_fields(result: RunResult | None) -> dict[str, Any]:
    """A member row's placement fields (`MemberRow.executor` … `retried_after`); none for a
    member with no result (the row's defaults: None)."""
    if result is None:
        return {}
    p = placement_of(result)
    return {"executor": p.executor or "local", "host": p.host, "node": short_node(p.node),
            "where": p.where(), "gpu": p.gpu or None,
            "gpu_name": p.gpu_name if p.gpu else None, "threads": p.threads, "cpus": p.cpus,
            "attempt": p.attempt, "retried_after": p.retried_after}


def interval(result: RunResult | None) -> tuple[float, float] | None:
    """When `result`'s run ran, in seconds since the epoch: from its `started_utc` (else its
    `started_at`) to that plus its recorded total time (the worker's own clock since it started,
    to the microsecond), else to its `finished_at` (to the second). None without both ends."""
    if result is None:
        return None
    start = utc_seconds(result.started_utc)
    if start is None:
        start = utc_seconds(result.started_at)
    if start is None:
        return None
    total = result.timings.get("total")
    if isinstance(total, (int, float)) and total >= 0:
        return start, start + float(total)
    end = utc_seconds(result.finished_at)
    return None if end is None else (start, max(start, end))


def concurrency(intervals: Sequence[tuple[float, float] | None]) -> list[int | None]:
    """For each interval, the most intervals (itself included) that were open at one moment
    while it was: the members that really ran beside it at worst. Intervals touching at an
    end did not overlap (one ended as the next began). None for a missing interval."""
    out: list[int | None] = []
    for mine in intervals:
        if mine is None:
            out.append(None)
            continue
        s, e = mine
        if e <= s:     # no length: the ones open at that instant, and itself
            out.append(1 + sum(1 for iv in intervals
                               if iv is not None and iv is not mine and iv[0] <= s < iv[1]))
            continue
        others = [iv for iv in intervals if iv is not None and iv[0] < e and s < iv[1]]
        events = sorted([(max(a, s), 1) for a, _ in others] + [(min(b, e), -1) for _, b in others])
        best = running = 0
        for _, step in events:     # at a tie the ending one closes first (sorted: -1 < 1)
            running += step
            best = max(best, running)
        out.append(max(1, best))
    return out


def with_concurrency(rows: Sequence[MemberRow],
                     results: Sequence[RunResult | None]) -> list[MemberRow]:
    """`rows` with each one's `concurrency` measured from its run's recorded interval among
    all of them (`results[i]` is `rows[i]`'s)."""
    counts = concurrency([interval(r) for r in results])
    return [replace(row, concurrency=c) for row, c in zip(rows, counts)]


# -- the summary line and the warnings -----------------------------------------------------------

def _place(row: MemberRow) -> str:
    host = row.host or "?"
    return f"{host} node {row.node}" if row.node else host


def _and(texts: Sequence[str]) -> str:
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]


def ran_on(rows: Sequence[MemberRow]) -> str | None:
    """One line: which executor ran the members, on which hosts (or Ray nodes) and how many on
    each, how many at once at most (measured), and with what share of the machine. None when
    no member has a run record."""
    placed = [r for r in rows if r.executor is not None]
    if not placed:
        return None
    executors = " and ".join(dict.fromkeys(str(r.executor) for r in placed))
    most = max((r.concurrency or 1) for r in placed)
    at_once = "one at a time" if most == 1 else f"up to {most} at once"
    counts = Counter(_place(r) for r in placed)
    shares = list(dict.fromkeys(share(r) for r in placed))
    share_text = shares[0] + (" each" if most > 1 else "") if len(shares) == 1 \
        else ", ".join(shares)
    retried = sum(1 for r in placed if (r.attempt or 1) > 1)
    tail = f", {retried} retried after a failed first attempt" if retried else ""
    if len(counts) == 1:
        return f"ran on: {executors}, {at_once} ({next(iter(counts))}: {share_text}){tail}"
    kind = "nodes" if any(r.node for r in placed) else "hosts"
    spread = ", ".join(f"{place}: {n}" for place, n in counts.items())
    return (f"ran on: {executors}: {len(placed)} members on {len(counts)} {kind} ({spread}), "
            f"{at_once}, {share_text}{tail}")


def _device(row: MemberRow) -> str:
    return (row.gpu_name or f"GPU {row.gpu}") if row.gpu else "CPU"


# What differs between runs whose times a report compares: per aspect, the distinct values of
# the finished runs that have a run record (unknown values are not compared).
def _aspects(rows: Sequence[MemberRow]) -> dict[str, list[str]]:
    done = [r for r in rows if r.status == "finished" and r.executor is not None]
    return {"hosts": sorted({r.host for r in done if r.host}),
            "devices": sorted({_device(r) for r in done}),
            "threads": sorted({cores(r.threads, r.cpus) for r in done if not r.gpu}),
            "concurrency": [str(c) for c in sorted({r.concurrency for r in done
                                                    if r.concurrency is not None})]}


def _differs(aspect: str, values: Sequence[str]) -> str:
    if aspect == "hosts":
        return f"ran on {len(values)} hosts ({', '.join(values)})"
    if aspect == "devices":
        return f"ran on different devices ({', '.join(values)})"
    if aspect == "threads":
        return f"ran with different thread shares ({', '.join(values)})"
    return f"times compared across concurrency {_and(values)}"


def group_members(rows: Sequence[MemberRow], g: GroupRow) -> list[MemberRow]:
    """The member rows `g` aggregates (same method, preset and images asked for, and backend
    where the report compares backends)."""
    asked = g.images if g.protocol == "notebook" else None
    return [r for r in rows if (r.method, r.preset, r.images_requested) ==
            (g.method, g.preset, asked) and (g.backend is None or r.backend == g.backend)]


def warnings(rows: Sequence[MemberRow], groups: Sequence[GroupRow],
             by_point: bool) -> list[str]:
    """Where the report compares times measured differently: within a group (its seeds ran on
    different hosts, devices or thread shares, or at different concurrency), and between the
    groups one verdict compares (`by_point`: those of the same images; else all of them) when
    they differ from each other in one of those."""
    out: list[str] = []
    per_group = {id(g): _aspects(group_members(rows, g)) for g in groups}
    for g in groups:
        for aspect, values in per_group[id(g)].items():
            if len(values) > 1:
                said = _differs(aspect, values)
                out.append(f"{g.label}: " + ("seeds " + said if aspect != "concurrency"
                                             else said))
    points: dict[int | None, list[GroupRow]] = {}
    for g in groups:
        points.setdefault(g.images if by_point else None, []).append(g)
    for images, compared in points.items():
        if len(compared) < 2:
            continue
        label = "groups compared" + (f" at {images:,} images" if images is not None else "")
        for aspect in ("hosts", "devices", "threads", "concurrency"):
            sets = [frozenset(per_group[id(g)][aspect]) for g in compared
                    if per_group[id(g)][aspect]]
            if len(sets) > 1 and len(set(sets)) > 1:
                values = sorted(set().union(*sets),
                                key=lambda v: (int(v), "") if v.isdigit() else (0, v))
                said = _differs(aspect, values)
                out.append(f"{label}: {said}" if aspect == "concurrency"
                           else f"{label} {said}")
    return out
