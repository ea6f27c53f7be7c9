"""Experiment records: the spec a person registers, the readout, the stored record, the lifecycle.

Everything here is validated with pydantic (immutable, unknown fields refused), because a
spec comes from a YAML file and a readout from a notebook. The store and the audit log are
:mod:`galaxy_lib.experiments.registry`'s business.

**Statuses.** ``hypothesis -> running -> significant | inconclusive | stopped``, and
``hypothesis -> stopped``; the last three are final. A spec may start an experiment as
``running`` (registered after launch). :data:`TRANSITIONS` is the one table of moves.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from galaxy_lib.core.config import error_parts
from galaxy_lib.core.jsonio import canonical_json, to_jsonable
from galaxy_lib.experiments.ab import AbReadout

__all__ = [
    "ID_PATTERN",
    "ID_RE",
    "INITIAL_STATUSES",
    "MAX_READOUT_CHARS",
    "STATUSES",
    "TRANSITIONS",
    "ArmEstimate",
    "Decision",
    "Experiment",
    "ExperimentRegistryError",
    "ExperimentSpec",
    "Readout",
    "Status",
    "StatusChange",
    "StatusTransitionError",
    "check_id",
    "format_validation_error",
    "load_spec",
    "readout_from_ab",
]

Status = Literal["hypothesis", "running", "significant", "inconclusive", "stopped"]
Decision = Literal["significant", "inconclusive"]
#: Statuses a spec may register an experiment in.
INITIAL_STATUSES: tuple[str, ...] = ("hypothesis", "running")
#: Every status, in lifecycle order.
STATUSES: tuple[str, ...] = ("hypothesis", "running", "significant", "inconclusive", "stopped")
#: Status -> the statuses it may move to (final statuses move nowhere).
TRANSITIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "hypothesis": ("running", "stopped"),
        "running": ("significant", "inconclusive", "stopped"),
        "significant": (),
        "inconclusive": (),
        "stopped": (),
    }
)
#: Largest readout (canonical JSON characters): a summary, not the data.
MAX_READOUT_CHARS = 20_000
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
ID_RE = re.compile(ID_PATTERN)

_Finite = Annotated[float, Field(allow_inf_nan=False)]
_Text = Annotated[str, Field(min_length=1, max_length=2000)]


class ExperimentRegistryError(ValueError):
    """The registry cannot do what was asked (the message names the experiment, field or status and the fix)."""


class StatusTransitionError(ExperimentRegistryError):
    """A status change the lifecycle does not allow (the message names the current and the allowed statuses)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _number(x: float, signed: bool = False) -> str:
    text = f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"
    return f"+{text}" if signed and x > 0 else text


class ArmEstimate(_Model):
    """One arm's effect against control: the estimate, its interval and p-value, in a stated unit."""

    arm: _Text
    estimate: _Finite
    low: _Finite | None = None
    high: _Finite | None = None
    p_value: float | None = Field(None, ge=0, le=1)
    unit: str = Field("", max_length=20)
    n: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _interval_in_order(self) -> ArmEstimate:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"arm {self.arm!r}: low ({self.low}) must not exceed high ({self.high})")
        return self

    def headline(self) -> str:
        """``"email +1.8 pts [0.9, 2.7]"``: arm, signed estimate, unit and interval when known."""
        text = f"{self.arm} {_number(self.estimate, signed=True)}" + (f" {self.unit}" if self.unit else "")
        if self.low is not None and self.high is not None:
            text += f" [{_number(self.low)}, {_number(self.high)}]"
        return text


class Readout(_Model):
    """An experiment's result as the registry keeps it: small, JSON-able, without personal data.

    Attributes
    ----------
    decision
        ``significant`` or ``inconclusive``: the caller's call, which sets the status.
    arms
        One :class:`ArmEstimate` per treatment arm (never the control).
    method, alpha, summary
        How it was computed, the interval level, one sentence for people.
    extra
        Anything else JSON-able the caller keeps (SRM p-value, CUPED share, geo weights);
        at most :data:`MAX_READOUT_CHARS` characters as JSON.
    """

    decision: Decision
    arms: tuple[ArmEstimate, ...] = Field(min_length=1)
    method: str = Field("", max_length=500)
    alpha: float | None = Field(None, gt=0, lt=1)
    summary: str = Field("", max_length=2000)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("extra")
    @classmethod
    def _small_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            plain = to_jsonable(value)
        except TypeError as err:
            raise ValueError(f"must be JSON-able ({err})") from None
        if len(canonical_json(plain)) > MAX_READOUT_CHARS:
            raise ValueError(f"is over {MAX_READOUT_CHARS:,} characters as JSON: keep a summary, not the data")
        return plain

    @model_validator(mode="after")
    def _arms_once(self) -> Readout:
        names = [a.arm for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arms: each arm once, got {names}")
        return self

    def headline(self) -> str:
        """Every arm's :meth:`ArmEstimate.headline`, joined with ``"; "``."""
        return "; ".join(a.headline() for a in self.arms)


class ExperimentSpec(_Model):
    """What a person registers (the YAML of ``galaxy experiments register``).

    Attributes
    ----------
    id
        Lower-case letters, digits, ``-`` and ``_`` (1-64; the record's file name).
    name, hypothesis, metric
        What is tested, what is expected, the primary metric.
    arms, control
        Every arm label, and which of them is the control.
    start, end
        Planned or actual dates (ISO); ``end`` not before ``start``.
    owner
        Optional person or team (an e-mail address is masked: use a name).
    status
        ``hypothesis`` (default) or ``running`` for a test already live.
    """

    id: str
    name: _Text
    hypothesis: _Text
    metric: _Text
    arms: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = Field(min_length=2)
    control: _Text
    start: dt.date | None = None
    end: dt.date | None = None
    owner: str = Field("", max_length=200)
    status: Literal["hypothesis", "running"] = "hypothesis"

    @field_validator("id")
    @classmethod
    def _id_is_a_file_name(cls, value: str) -> str:
        return check_id(value)

    @model_validator(mode="after")
    def _arms_and_dates(self) -> ExperimentSpec:
        if len(set(self.arms)) != len(self.arms):
            raise ValueError(f"arms: each label once, got {list(self.arms)}")
        if self.control not in self.arms:
            raise ValueError(f"control: {self.control!r} is not one of the arms {list(self.arms)}")
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class StatusChange(_Model):
    """One line of an experiment's history: the move, who made it, why, and its audit entry."""

    at: dt.datetime
    old: Status | None
    new: Status
    actor: str
    reason: str = ""
    audit_seq: int | None = None


class Experiment(ExperimentSpec):
    """A registered experiment: the spec, its status, readout and history (as stored)."""

    record_version: Literal[1] = 1
    status: Status  # type: ignore[assignment]  # any status once registered
    readout: Readout | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    history: tuple[StatusChange, ...] = ()

    @property
    def final(self) -> bool:
        """True when no further status change is allowed."""
        return not TRANSITIONS[self.status]

    def headline(self) -> str:
        """Return the readout's headline, or ``""`` before a readout."""
        return self.readout.headline() if self.readout else ""


def format_validation_error(err: ValidationError, source: str, model: type[BaseModel] = ExperimentSpec) -> str:
    """One line per wrong field of ``model`` (``  - arms: ...``), headed by what and where (``source``)."""
    what = "experiment spec" if model is ExperimentSpec else model.__name__.lower()
    lines = [f"Invalid {what} ({source}):"]
    allowed = ", ".join(model.model_fields)
    for e in err.errors():
        where, message = error_parts(e)
        if e["type"] == "extra_forbidden":
            lines.append(f"  - {where}: unknown field. Allowed fields: {allowed}.")
        elif e["type"] == "missing":
            lines.append(f"  - {where}: required.")
        else:
            lines.append(f"  - {where or 'spec'}: {message.rstrip('.')} (got {e.get('input')!r:.80}).")
    return "\n".join(lines)


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate an experiment spec from a YAML file.

    Parameters
    ----------
    path
        A YAML mapping with the fields of :class:`ExperimentSpec`.

    Raises
    ------
    ExperimentRegistryError
        The file is missing, not a YAML mapping, or a field is wrong (each one named).
    """
    path = Path(path)
    if not path.is_file():
        raise ExperimentRegistryError(f"No experiment spec at {path}: give the YAML file to register.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ExperimentRegistryError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ExperimentRegistryError(f"{path} must hold a YAML mapping of field: value, got {type(data).__name__}.")
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as err:
        raise ExperimentRegistryError(format_validation_error(err, str(path))) from None


def readout_from_ab(
    readouts: Sequence[AbReadout],
    *,
    decision: Decision,
    scale: float = 1.0,
    unit: str = "",
    summary: str = "",
    extra: Mapping[str, Any] | None = None,
) -> Readout:
    """Turn :func:`~galaxy_lib.experiments.ab.ab_readout` results into a registry :class:`Readout`.

    Parameters
    ----------
    readouts
        One :class:`~galaxy_lib.experiments.ab.AbReadout` per arm (one metric).
    decision
        ``significant`` or ``inconclusive``: the call is the caller's, not this function's.
    scale, unit
        The difference and its interval are multiplied by ``scale`` and labelled ``unit``;
        for a conversion rate ``scale=100, unit="pts"`` gives percentage points.
    summary, extra
        A sentence for people and any other JSON-able facts to keep.

    Examples
    --------
    >>> readout = readout_from_ab(
    ...     ab_readout(df, "arm", "converted", "control"), decision="significant", scale=100, unit="pts"
    ... )  # doctest: +SKIP
    >>> readout.headline()  # doctest: +SKIP
    'email +1.8 pts [0.9, 2.7]'
    """
    if not readouts:
        raise ExperimentRegistryError("readout_from_ab needs at least one AbReadout (one per treatment arm).")
    first = readouts[0]
    arms = [
        ArmEstimate(
            arm=r.arm,
            estimate=r.diff * scale,
            low=r.diff_low * scale,
            high=r.diff_high * scale,
            p_value=r.p_value,
            unit=unit,
            n=r.n_arm,
        )
        for r in readouts
    ]
    facts = {"metric": first.metric, "control": first.control, "n_control": first.n_control, **(extra or {})}
    if first.variance_reduction is not None:
        facts["cuped_variance_reduction"] = first.variance_reduction
    return Readout(
        decision=decision, arms=tuple(arms), method=first.method, alpha=first.alpha, summary=summary, extra=facts
    )


def check_id(experiment_id: str) -> str:
    """Return ``experiment_id`` when it is a valid id (a safe file name), else raise naming the rule."""
    if not isinstance(experiment_id, str) or not ID_RE.match(experiment_id):
        raise ExperimentRegistryError(
            f"Experiment id {experiment_id!r} is not valid: use 1-64 lower-case letters, digits, '-' and '_', "
            "starting with a letter or digit (e.g. 2024-05-email-subject)."
        )
    return experiment_id
