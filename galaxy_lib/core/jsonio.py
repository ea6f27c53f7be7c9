"""Strict JSON for everything the workbench writes: metrics, manifests, the audit log.

numpy and pandas scalars become plain numbers, timestamps become ISO strings,
NaN / inf / NaT become ``null`` (JSON has no NaN), and files are replaced
atomically so a reader never sees half of one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["canonical_json", "to_jsonable", "write_json_atomic"]


def to_jsonable(obj: Any) -> Any:
    """Convert ``obj`` into plain JSON types.

    numpy / pandas scalars become Python numbers, arrays and Series lists,
    DataFrames lists of records, timestamps and dates ISO strings, paths strings,
    dataclasses and pydantic models dicts; NaN, +/-inf, ``pd.NA`` and ``NaT``
    become ``None`` (JSON has no NaN). Unknown objects raise ``TypeError`` naming
    the type rather than being written as an unreadable ``repr``.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, decimal.Decimal):
        return to_jsonable(float(obj))
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    if isinstance(obj, (dt.datetime, dt.date, dt.time)):
        return obj.isoformat()
    if isinstance(obj, (pd.Timedelta, dt.timedelta)):
        return pd.Timedelta(obj).total_seconds()
    if isinstance(obj, np.datetime64):
        return None if np.isnat(obj) else pd.Timestamp(obj).isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=str) if isinstance(obj, (set, frozenset)) else obj
        return [to_jsonable(v) for v in items]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, pd.Series):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, pd.DataFrame):
        return [to_jsonable(r) for r in obj.to_dict(orient="records")]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if hasattr(obj, "model_dump"):  # pydantic models (our configs)
        return to_jsonable(obj.model_dump(mode="json"))
    if hasattr(obj, "to_dict"):
        return to_jsonable(obj.to_dict())
    raise TypeError(f"Cannot write a {type(obj).__name__} to JSON: {obj!r:.80}")


def canonical_json(obj: Any) -> str:
    """Canonical JSON (sorted keys, no whitespace, UTF-8) used for hashing."""
    return json.dumps(to_jsonable(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def write_json_atomic(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (temporary file + rename).

    Readers (the index, dashboards, a second scheduler) never see half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_jsonable(obj), indent=indent, ensure_ascii=False, allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; reports are read by others
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
