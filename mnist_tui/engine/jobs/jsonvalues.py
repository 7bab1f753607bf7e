"""Values as strict JSON: what a job puts in an event or a result (numpy scalars and arrays,
Paths, NaN) becomes plain JSON values, once, here. Events and result records both use it.
"""

from __future__ import annotations

import json
import math
from typing import Any


def dumps(obj: Any, indent: int | None = None) -> str:
    """Strict JSON: numpy values converted, NaN/inf (a diverged loss) written as null."""
    return json.dumps(_finite(obj), indent=indent, allow_nan=False, default=_jsonable,
                      separators=None if indent else (",", ":"))


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if type(obj).__module__ == "numpy":
        return _finite(_jsonable(obj))
    return obj


def _jsonable(obj: Any) -> Any:
    """numpy scalars and arrays, Paths: whatever a job puts in a dict becomes JSON."""
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def plain(obj: Any) -> Any:
    """`obj` as the plain JSON values it would be written as (numpy → Python, NaN → None)."""
    return json.loads(dumps(obj))
