"""The ``metrics.json`` contract: one envelope for every run, a typed payload per workflow.

Every run folder holds a ``metrics.json`` written by
:class:`galaxy_lib.core.reporting.ReportWriter`::

    {
        "schema_version": 1,
        "notebook": "02_mmm",
        "status": "passed",
        "status_reason": "...",
        "metrics": {...},
        "gates": [...],
        "tables": [...],
        "figures": [...],
        "written_at": "2026-11-30T06:00:00+00:00",
    }

:class:`RunMetrics` is that envelope. Its ``metrics`` payload is typed by the
workflow's schema (``galaxy_lib.schemas.<workflow>``): the writer validates the
payload before anything is written, and every consumer (the MTA's
``latest:mmm``, dashboards, the reports index) reads through
:func:`read_metrics` with the same schema, so a renamed key fails where it was
renamed, not in a dashboard weeks later.

Compatibility: ``schema_version`` rises when a field is removed or changes
meaning; adding an optional field keeps it. Readers refuse a newer version
with a message saying which one they understand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from galaxy_lib.core.config import error_parts
from galaxy_lib.core.gates import Gate

__all__ = [
    "METRICS_SCHEMA_VERSION",
    "FigureEntry",
    "MetricsError",
    "MetricsPayload",
    "RunMetrics",
    "TableEntry",
    "describe_problems",
    "read_metrics",
]

#: Version of the envelope and of every workflow payload written by this code.
METRICS_SCHEMA_VERSION: int = 1

P = TypeVar("P", bound=BaseModel)


class MetricsError(ValueError):
    """A ``metrics.json`` is missing, unreadable or does not match its schema; the message names the file."""


class MetricsPayload(BaseModel):
    """Base of a workflow's ``metrics`` payload: strict (a misspelt key fails at write time)."""

    model_config = ConfigDict(extra="forbid")


class TableEntry(BaseModel):
    """A table written with the run (``<name>.csv``)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    path: str
    rows: int = Field(ge=0)
    columns: list[str]


class FigureEntry(BaseModel):
    """A figure written with the run (``<name>.html`` and ``<name>.json``)."""

    name: str
    html: str
    json_: str = Field(alias="json")
    title: str = ""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RunMetrics(BaseModel, Generic[P]):
    """The envelope of ``metrics.json``; ``RunMetrics[MMMMetrics]`` types its payload."""

    model_config = ConfigDict(extra="forbid")
    schema_version: int = METRICS_SCHEMA_VERSION
    notebook: str
    status: Literal["passed", "warn", "failed"]
    status_reason: str = ""
    metrics: P
    gates: list[Gate] = Field(default_factory=list)
    tables: list[TableEntry] = Field(default_factory=list)
    figures: list[FigureEntry] = Field(default_factory=list)
    written_at: str = ""

    @property
    def passed(self) -> bool:
        """True when the run passed its gates (``passed`` or ``warn``)."""
        return self.status in ("passed", "warn")


def describe_problems(err: ValidationError) -> str:
    """Describe a validation error as ``key.path: message`` items joined by ``"; "``, one per problem."""
    return "; ".join("{}: {}".format(*error_parts(e)) for e in err.errors())


class _AnyPayload(BaseModel):
    model_config = ConfigDict(extra="allow")


def read_metrics(path: str | Path, payload: type[P] | None = None) -> RunMetrics[Any]:
    """Read a run's ``metrics.json`` (or its run folder) and validate it.

    Parameters
    ----------
    path
        ``metrics.json`` or the run folder holding it.
    payload
        The workflow's payload schema (e.g. ``galaxy_lib.schemas.mmm.MMMMetrics``);
        ``None`` checks only the envelope.

    Raises
    ------
    MetricsError
        When the file is missing, is not JSON, was written by a newer schema, or
        does not match the schema (each problem is named with its key).
    """
    p = Path(path)
    if p.is_dir():
        p = p / "metrics.json"
    if not p.is_file():
        raise MetricsError(f"No metrics.json at {p}: is this a run folder (reports/<job>/<run_id>)?")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MetricsError(f"{p} is not valid JSON: {err}") from None
    if not isinstance(raw, dict):
        raise MetricsError(f"{p} must hold a JSON object, got {type(raw).__name__}.")
    version = raw.get("schema_version", METRICS_SCHEMA_VERSION)
    if not isinstance(version, int) or version > METRICS_SCHEMA_VERSION:
        raise MetricsError(
            f"{p} has metrics schema_version {version!r}; this code reads up to {METRICS_SCHEMA_VERSION}. "
            "Update galaxy-workbench to read it."
        )
    model = RunMetrics[payload or _AnyPayload]  # type: ignore[valid-type]
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise MetricsError(
            f"{p} does not match the {(payload or RunMetrics).__name__} schema: {describe_problems(err)}"
        ) from None
