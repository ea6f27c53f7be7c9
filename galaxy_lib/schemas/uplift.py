"""``metrics.json`` payload of ``04_uplift``.

Per-customer policy values are incremental over contacting nobody, measured on
the held-out rows of the experiment; ``population`` is the number of customers
the policy applies to, so a total is ``value * population``. Fields a run could
not measure (the truth outside a Galaxy world, a revenue metric the table does
not have, geo tests in a store without them) are ``null``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from galaxy_lib.core.metrics import MetricsPayload

__all__ = [
    "ArmReadoutMetrics",
    "GeoTestMetrics",
    "LearnerArmMetrics",
    "PolicyMetrics",
    "UpliftInputsMetrics",
    "UpliftMetrics",
]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UpliftInputsMetrics(_Part):
    """What the models were fitted on and who could not be targeted."""

    source: str
    rows: int = Field(ge=0)
    arms: dict[str, int]
    outcome: str
    outcome_type: str
    features: list[str]
    targetable: int = Field(ge=0)
    not_targetable: int = Field(ge=0)
    left_out: dict[str, int]
    truth_known: bool


class LearnerArmMetrics(_Part):
    """One learner on one arm, on the held-out rows (``pehe``/``spearman`` against the truth when known)."""

    auuc: float
    qini: float
    qini_se: float | None = None
    pehe: float | None = None
    spearman: float | None = None


class ArmReadoutMetrics(_Part):
    """The A/B readout of one arm on one metric: difference and relative lift with their interval."""

    diff: float
    diff_low: float
    diff_high: float
    lift: float | None
    lift_low: float | None
    lift_high: float | None
    p_value: float
    n_arm: int = Field(ge=0)
    n_control: int = Field(ge=0)
    cuped_variance_reduction: float | None = None


class PolicyMetrics(_Part):
    """A targeting policy's incremental value per customer, with its bootstrap interval."""

    contacts: float = Field(ge=0, le=1)
    conversions: float
    conversions_low: float
    conversions_high: float
    profit: float
    profit_low: float
    profit_high: float
    true_profit: float | None = None


class GeoTestMetrics(_Part):
    """A geo test read out from per-geo KPI: incremental KPI per test week with its interval."""

    channel: str
    geo: str
    delta_y: float
    low: float
    high: float
    true_delta_y: float | None = None


class UpliftMetrics(MetricsPayload):
    """What an uplift run publishes.

    ``learners[<learner>][<arm>]`` scores every fitted learner; ``chosen_model``
    is the one the policy uses. ``ate[<metric>][<arm>]`` is the experiment's
    readout; ``policies[<policy>]`` compares uplift targeting with everyone and
    propensity targeting per arm and with no contact.
    """

    chosen_model: str
    choose_by: str
    learners: dict[str, dict[str, LearnerArmMetrics]]
    ate: dict[str, dict[str, ArmReadoutMetrics]]
    srm_p_value: float
    interval_level: float
    policies: dict[str, PolicyMetrics]
    population: int = Field(ge=0)
    contacts: dict[str, int]
    geo_tests: dict[str, GeoTestMetrics] | None = None
    experiment_id: str | None = None
    experiment_status: str | None = None
    inputs: UpliftInputsMetrics
