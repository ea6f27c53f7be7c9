"""``metrics.json`` payload of ``02_mmm``.

When the diagnostics gate fails, the run is ``failed`` and the results
(``channels``, ``budget``, ``recovery``) are withheld: they are ``None`` and
``results_withheld`` is true.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from galaxy_lib.core.metrics import MetricsPayload

__all__ = [
    "BudgetMetrics",
    "ChannelMetrics",
    "DataMetrics",
    "DiagnosticsMetrics",
    "MMMMetrics",
    "ModelMetrics",
    "RecoveryChannel",
    "RecoveryMetrics",
    "SamplerMetrics",
]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelMetrics(_Part):
    """One channel's return: ROI and marginal ROI (mean and 94% HDI), shares and spend."""

    roi_mean: float
    roi_hdi_low: float
    roi_hdi_high: float
    mroi_mean: float | None = None
    mroi_hdi_low: float | None = None
    mroi_hdi_high: float | None = None
    contribution_share: float
    share_of_media: float
    spend: float = Field(ge=0)


class DiagnosticsMetrics(_Part):
    """The diagnostics gate's measurements."""

    max_rhat: float | None
    min_ess: float | None
    divergences: int = Field(ge=0)
    divergence_rate: float = Field(ge=0, le=1)
    ppc_coverage_94: float | None
    ppc_r2: float | None
    ppc_mape: float | None
    gate_status: str
    gate_reasons: list[str]


class SamplerMetrics(_Part):
    """The sampler and its sizes."""

    sampler: str
    chains: int
    tune: int
    draws: int


class ModelMetrics(_Part):
    """The model's structure: adstock, saturation, trend, seasonality, geos and controls."""

    adstock: str
    l_max: int
    saturation: str
    trend: str
    yearly_seasonality: int
    geos: list[str]
    controls: list[str]


class DataMetrics(_Part):
    """What the model was fitted on: source, periods, channels, KPI and notes."""

    source: str
    periods: int
    first: str
    last: str
    channels: list[str]
    target: str
    notes: list[str]


class BudgetMetrics(_Part):
    """The optimiser's recommended split of the same budget and its expected gain."""

    horizon_periods: int
    total_budget: float
    recommended_allocation: dict[str, float]
    current_allocation: dict[str, float]
    expected_response_current: float
    expected_response_optimal: float
    expected_gain_mean: float
    expected_gain_hdi_low: float
    expected_gain_hdi_high: float
    expected_gain_pct: float
    prob_gain_positive: float
    optimizer_success: bool
    optimizer_message: str


class RecoveryChannel(_Part):
    """One channel's true ROI against the estimate: covered by the 94% interval, absolute % error."""

    true_roi: float
    roi_mean: float
    covered: bool
    ape: float


class RecoveryMetrics(_Part):
    """ROI recovered against a known truth (Galaxy worlds only)."""

    n_channels: int
    n_covered: int
    covered: list[str]
    roi_mape: float
    channels: dict[str, RecoveryChannel]


class MMMMetrics(MetricsPayload):
    """What an MMM run publishes.

    ``channels[<channel>]`` is the contract other workflows read (the MTA
    calibrates to ``roi_*`` x ``spend``); ``budget`` the recommended split.
    """

    diagnostics: DiagnosticsMetrics
    fit_seconds: float | None
    sampler: SamplerMetrics
    model: ModelMetrics
    data: DataMetrics
    n_lift_tests: int = Field(ge=0)
    model_path: str | None = None
    results_withheld: bool
    channels: dict[str, ChannelMetrics] | None = None
    budget: BudgetMetrics | None = None
    recovery: RecoveryMetrics | None = None
