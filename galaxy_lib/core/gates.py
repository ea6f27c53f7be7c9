"""Gates: the one pass / warn / fail check every workflow publishes.

A gate measures one number (a null rate, an R-hat, a share of quarantined
conversions), compares it with a warn and a fail threshold and says in one
sentence what it found. Data-quality gates
(:mod:`galaxy_lib.governance.quality`), the MMM's diagnostics and the MTA's
checks are all :class:`Gate` objects graded by :func:`grade`;
:meth:`galaxy_lib.core.reporting.ReportWriter.gate` accepts nothing else, and a
run's status is :func:`run_status` of its gates.

Boundaries are strict: for "higher is worse" gates a value *equal to* the warn
threshold passes and anything above it warns (above the fail threshold it
fails); for "lower is worse" gates a value below the threshold warns / fails. A
value that could not be measured (``None`` or NaN) fails.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "GATE_STATUSES",
    "RUN_STATUSES",
    "Gate",
    "GateStatus",
    "RunStatus",
    "check_threshold_order",
    "grade",
    "measure",
    "run_status",
    "worst_status",
]

GateStatus = Literal["pass", "warn", "fail"]
RunStatus = Literal["passed", "warn", "failed"]
#: Statuses of one gate, best first.
GATE_STATUSES: tuple[str, ...] = ("pass", "warn", "fail")
#: Statuses of a run (a ``metrics.json``), best first; the worst gate maps pass -> passed, ...
RUN_STATUSES: tuple[str, ...] = ("passed", "warn", "failed")
_RANK = {s: i for i, s in enumerate(GATE_STATUSES)}


def _clean(x: Any) -> float | None:
    """``x`` as a float, or ``None`` when it is not a measurement (``None``, NaN of any float type, ``pd.NA``)."""
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


@dataclass(frozen=True)
class Gate:
    """Outcome of one gate.

    Attributes
    ----------
    gate
        Gate name, e.g. ``null_rate``, ``mmm_max_rhat``, ``mta_quarantined_conversions``.
    table, column
        What was measured (``None`` when the gate is about a model, not a table column).
    value
        The measured number (NaN or ``None`` when it could not be measured).
    status
        ``"pass"``, ``"warn"`` or ``"fail"``.
    warn_at, fail_at
        The thresholds compared against (``None`` when a gate has no such level).
    detail
        One readable sentence with the value and the thresholds.
    """

    gate: str
    table: str | None
    column: str | None
    value: float | None
    status: GateStatus
    warn_at: float | None
    fail_at: float | None
    detail: str

    def __post_init__(self) -> None:
        if self.status not in _RANK:
            raise ValueError(f"Gate {self.gate!r}: status must be one of {GATE_STATUSES}, got {self.status!r}.")
        if not isinstance(self.gate, str) or not self.gate:
            raise ValueError(f"A gate needs a non-empty name, got {self.gate!r}.")

    @property
    def limit(self) -> float | None:
        """The threshold this gate's status was decided against (fail's for a failure, else warn's)."""
        return self.fail_at if self.status == "fail" else self.warn_at

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes ``None``) for ``metrics.json``."""
        return {
            "gate": self.gate,
            "table": self.table,
            "column": self.column,
            "value": _clean(self.value),
            "status": self.status,
            "warn_at": _clean(self.warn_at),
            "fail_at": _clean(self.fail_at),
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Gate:
        """Rebuild a gate from its :meth:`to_dict` form (as read back from ``metrics.json``)."""
        return cls(**{name: record.get(name) for name in cls.__dataclass_fields__})


def grade(
    value: float | None, warn_at: float | None, fail_at: float | None, higher_is_worse: bool = True
) -> GateStatus:
    """Status of ``value`` against strict thresholds; ``None`` / NaN fails (it could not be measured).

    Parameters
    ----------
    value
        The measured number.
    warn_at, fail_at
        Thresholds; ``None`` means the gate has no such level (e.g. a gate that can only warn).
    higher_is_worse
        ``True`` for rates and ages (above a threshold is bad), ``False`` for counts and
        coverages (below a threshold is bad).
    """
    value = _clean(value)
    if value is None:
        return "fail"

    def beyond(limit: float | None) -> bool:
        if limit is None:
            return False
        return value > limit if higher_is_worse else value < limit

    return "fail" if beyond(fail_at) else "warn" if beyond(warn_at) else "pass"


def measure(
    name: str,
    value: float | None,
    warn_at: float | None,
    fail_at: float | None,
    detail: str,
    *,
    higher_is_worse: bool = True,
    table: str | None = None,
    column: str | None = None,
) -> Gate:
    """Grade ``value`` and return the :class:`Gate` (the usual way to make one).

    Parameters
    ----------
    name
        Gate name.
    value, warn_at, fail_at, higher_is_worse
        As in :func:`grade`.
    detail
        The sentence a stakeholder reads.
    table, column
        What was measured.
    """
    status = grade(value, warn_at, fail_at, higher_is_worse)
    return Gate(name, table, column, value, status, warn_at, fail_at, detail)


def _status_of(result: Gate | Mapping[str, Any]) -> str:
    status = result["status"] if isinstance(result, Mapping) else result.status
    if status not in _RANK:
        raise ValueError(f"Unknown gate status {status!r}; expected one of {GATE_STATUSES}.")
    return status


def worst_status(gates: Iterable[Gate | Mapping[str, Any]]) -> GateStatus:
    """Return the worst status among gates (or their dicts read back from ``metrics.json``); ``"pass"`` when empty."""
    worst = "pass"
    for g in gates:
        status = _status_of(g)
        if _RANK[status] > _RANK[worst]:
            worst = status
    return worst  # type: ignore[return-value]


def run_status(gates: Iterable[Gate | Mapping[str, Any]]) -> RunStatus:
    """Run status implied by its gates: the worst gate, mapped pass/warn/fail -> passed/warn/failed."""
    return RUN_STATUSES[_RANK[worst_status(gates)]]  # type: ignore[return-value]


def check_threshold_order(
    values: Mapping[str, Any], higher_is_worse: Iterable[str] = (), lower_is_worse: Iterable[str] = ()
) -> None:
    """Raise ``ValueError`` naming the fields when a warn threshold lies beyond its fail threshold.

    Parameters
    ----------
    values
        Field name -> value, with pairs named ``<stem>_warn`` and ``<stem>_fail``.
    higher_is_worse
        Stems whose ``warn`` must not exceed ``fail`` (rates, ages, R-hat).
    lower_is_worse
        Stems whose ``fail`` must not exceed ``warn`` (ESS, coverage, cardinality).
    """
    problems = []
    for stem in higher_is_worse:
        warn, fail = values[f"{stem}_warn"], values[f"{stem}_fail"]
        if warn > fail:
            problems.append(f"{stem}_warn ({warn}) must not exceed {stem}_fail ({fail})")
    for stem in lower_is_worse:
        warn, fail = values[f"{stem}_warn"], values[f"{stem}_fail"]
        if fail > warn:
            problems.append(
                f"{stem}_fail ({fail}) must not exceed {stem}_warn ({warn}): below warn it warns, below fail it fails"
            )
    if problems:
        raise ValueError("; ".join(problems) + ".")
