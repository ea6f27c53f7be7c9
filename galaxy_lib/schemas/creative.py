"""``metrics.json`` payload of ``05_creative``.

Every number names the ids it came from: guardrail counts list the creatives
and variants checked, model metrics carry the model id, and the allocation's
spend shares are keyed by creative id. Fields a run could not measure (the truth
outside a Galaxy world, a recommender without a performance history) are ``null``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from galaxy_lib.core.metrics import MetricsPayload

__all__ = [
    "AllocationMetrics",
    "CreativeInputsMetrics",
    "CreativeMetrics",
    "GuardrailMetrics",
    "PreflightMetricsPayload",
    "RecommenderMetricsPayload",
    "RuleCounts",
]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreativeInputsMetrics(_Part):
    """What the run read: where from, how much, and whether the truth is known."""

    source: str
    brand_file: str
    creatives: int = Field(ge=0)
    products: int = Field(ge=0)
    templates: list[str]
    history_rows: int = Field(ge=0)
    history_rows_rejected: int = Field(ge=0)
    audiences: int = Field(ge=0)
    truth_known: bool


class RuleCounts(_Part):
    """How many creatives passed, failed or could not be checked on one rule."""

    passed: int = Field(ge=0)
    failed: int = Field(ge=0)
    not_checked: int = Field(ge=0)


class GuardrailMetrics(_Part):
    """Guardrail results of one batch (existing creatives, or generated variants)."""

    checked: list[str]
    passed_ids: list[str]
    rules: dict[str, RuleCounts]
    unreadable: list[str]


class PreflightMetricsPayload(_Part):
    """The pre-flight model on held-out creatives (``spearman`` against the truth when known)."""

    model_id: str
    target: str
    auc: float
    baseline_auc: float
    calibration_error: float
    log_loss: float
    baseline_log_loss: float | None = None
    spearman: float | None = None
    interval_coverage: float | None = None
    n_train_creatives: int = Field(ge=0)
    n_holdout_creatives: int = Field(ge=0)


class RecommenderMetricsPayload(_Part):
    """LightFM against the popularity baseline on the held-out days."""

    model_id: str
    k: int = Field(ge=1)
    precision_at_k: float
    baseline_precision_at_k: float
    auc: float
    baseline_auc: float
    interactions: int = Field(ge=0)


class AllocationMetrics(_Part):
    """The budget allocation simulated day by day (regret in expected conversions against the oracle)."""

    platform: str
    days: int = Field(ge=1)
    arms: list[str]
    simulated_against: str
    regret: float
    even_regret: float
    regret_ratio: float | None
    oracle_conversions: float
    spend_share: dict[str, float]
    even_spend_share: dict[str, float]
    killed: dict[str, int]
    constraint_violations: int = Field(ge=0)


class CreativeMetrics(MetricsPayload):
    """What a creative run publishes.

    ``guardrails`` holds the existing creatives' results and ``variant_guardrails``
    the generated variants'; ``scored`` lists every id the pre-flight model scored
    (``scored_model_id`` names the model); ``preflight`` is keyed by target
    (``ctr``, ``cvr``).
    """

    inputs: CreativeInputsMetrics
    guardrails: GuardrailMetrics
    variant_guardrails: GuardrailMetrics | None = None
    variants: list[str]
    masters: list[str]
    preflight: dict[str, PreflightMetricsPayload]
    scored: list[str]
    scored_model_id: str
    recommender: RecommenderMetricsPayload | None = None
    allocation: AllocationMetrics | None = None
    interval_level: float
