"""A suite spec from what a person typed: the `--batch --suite` flags or the Suites form.

Comma lists (`--sizes 250,500`, `--backends tensorflow,jax`), seed counts (`--seeds 3`), one line of job options
(`dataset=digits --epochs 1`) and job settings as text become a validated `SuiteSpec`, or a
SpecError with a one-line reason naming the flag. `seeds_text` writes seeds back the way
`parse_seeds` reads them (the form shows a recorded suite's seeds).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from dataclasses import Field
from pathlib import Path
from typing import Any

from mnist_tui.engine.errors import SpecError
from mnist_tui.engine.jobs.specs import JOB_NAMES, flag_name, parse_value, spec_fields
from mnist_tui.engine.suites.spec import DEFAULT_SEEDS, SuiteSpec


def parse_int_list(flag: str, text: str, minimum: int = 0) -> tuple[int, ...]:
    """`250,500,1000` → (250, 500, 1000); SpecError naming the flag otherwise."""
    out = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            value = int(part.replace("_", ""), 10)
        except ValueError:
            raise SpecError(f"{flag}: expected comma-separated integers, got {part!r}") from None
        if value < minimum:
            raise SpecError(f"{flag}: {value} is below the minimum {minimum}")
        out.append(value)
    if not out:
        raise SpecError(f"{flag}: give at least one value")
    return tuple(out)


def parse_backends(text: str) -> tuple[str, ...]:
    """`tensorflow, jax` → ("tensorflow", "jax"); SpecError naming the choices for an unknown
    name (or none given)."""
    from mnist_tui.engine.jobs.backends import BACKENDS

    out = tuple(b.strip().lower() for b in text.split(",") if b.strip())
    if not out:
        raise SpecError(f"--backends: give at least one of {', '.join(BACKENDS)}")
    for b in out:
        if b not in BACKENDS:
            raise SpecError(f"--backends: unknown backend {b!r} (choose from "
                            f"{', '.join(BACKENDS)})")
    return out


def parse_seeds(text: str) -> tuple[int, ...]:
    """`3` → seeds 0, 1, 2; `0,7,9` → exactly those."""
    text = text.strip()
    if "," not in text:
        try:
            n = int(text, 10)
        except ValueError:
            raise SpecError(f"--seeds: expected a count (3) or a list (0,1,2), got {text!r}") \
                from None
        if not 1 <= n <= 100:
            raise SpecError(f"--seeds: a count from 1 to 100, got {n}")
        return tuple(range(n))
    return parse_int_list("--seeds", text)


def seeds_text(seeds: Iterable[int]) -> str:
    """What `parse_seeds` reads back as exactly `seeds`: a count (`3` is 0, 1, 2), else a list
    (`0,7,9`; one seed other than 0 is `7,`, since `7` alone is a count)."""
    seeds = [int(s) for s in seeds]
    if seeds == list(range(len(seeds))):
        return str(len(seeds))
    return ",".join(map(str, seeds)) + ("," if len(seeds) == 1 else "")


def parse_options(text: str) -> dict[str, str]:
    """`dataset=digits iterations=260 --epochs 1` → {"dataset": "digits", "iterations": "260",
    "epochs": "1"}: job options typed as one line (the Suites form), the `given` of
    `suite_spec_from_text`, applied to every member they fit (as `--batch --suite`)."""
    out: dict[str, str] = {}
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise SpecError(f"options: {exc}") from None
    i = 0
    while i < len(tokens):
        tok = tokens[i].lstrip("-")
        if "=" in tok:
            name, _, value = tok.partition("=")
        elif tokens[i].startswith("--") and i + 1 < len(tokens):
            name, value = tok, tokens[i + 1]
            i += 1
        else:
            raise SpecError(f"options: expected name=value, got {tokens[i]!r}")
        out[name.strip().replace("-", "_")] = value
        i += 1
    return out


def _field_for(name: str, methods: Iterable[str]) -> Field[Any] | None:
    for job in methods:
        for f in spec_fields(job):
            if f.name == name:
                return f
    return None


def suite_spec_from_text(suite: str, *, methods: str | None = None, presets: str | None = None,
                         sizes: str | None = None, seeds: str | None = None,
                         protocols: str | None = None, vgg_input_size: str | None = None,
                         backends: str | None = None, given: dict[str, Any]) -> SuiteSpec:
    """A validated SuiteSpec from what a person typed (the batch flags or the Suites form):
    comma lists as text, job settings in `given` as text. SpecError with a one-line reason."""
    kw: dict[str, Any] = {}
    names = tuple(m.strip() for m in methods.split(",") if m.strip()) if methods else JOB_NAMES
    kw["methods"] = names
    if presets:
        kw["presets"] = tuple(p.strip() for p in presets.split(",") if p.strip())
    if sizes:
        kw["sizes"] = parse_int_list("--sizes", sizes, minimum=20)
    kw["seeds"] = parse_seeds(seeds) if seeds else DEFAULT_SEEDS.get(suite, DEFAULT_SEEDS["sweep"])
    if protocols:
        kw["protocols"] = tuple(p.strip() for p in protocols.split(",") if p.strip())
    if backends and backends.strip():
        kw["backends"] = parse_backends(backends)
    if vgg_input_size:
        kw["vgg_input_size"] = parse_int_list("--vgg-input-size", vgg_input_size)[0]
    given = dict(given)
    if "samples" in given:
        if suite != "seed":
            raise SpecError("--samples cannot be used with --suite sweep (use --sizes)")
        value = given.pop("samples")
        kw["supervised_samples"] = parse_int_list("--samples", value, minimum=20)[0]
    if "data_dir" not in given and os.environ.get("MNIST_TUI_DATA_DIR") \
            and given.get("dataset") != "digits":
        given["data_dir"] = os.environ["MNIST_TUI_DATA_DIR"]
    if given.get("data_dir"):
        given["data_dir"] = str(Path(given["data_dir"]).expanduser().resolve())
    overrides: dict[str, Any] = {}
    for name, text in given.items():
        f = _field_for(name, [m for m in names if m in JOB_NAMES] or JOB_NAMES)
        if f is None:
            raise SpecError(f"--{flag_name(name)} does not apply to any method of this suite "
                            f"({', '.join(names)})")
        overrides[name] = text if isinstance(text, bool) else parse_value(f, text)
    return SuiteSpec(name=suite, overrides=overrides, **kw).validate()
