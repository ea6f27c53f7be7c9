"""The notebook's parameters as one strict config, split into the library's configs.

``notebooks/02_mmm`` gathers its ``parameters`` cell into :class:`MMMParams`; a
misspelt or mistyped parameter fails at once with a message naming it. The same
names are the keys of ``parameters/02_mmm.yaml`` and of a parameters file for your
own data (see ``parameters/examples/``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from galaxy_lib.mmm.analysis import BudgetConfig
from galaxy_lib.mmm.data import MMMDataConfig
from galaxy_lib.mmm.diagnostics import GateThresholds
from galaxy_lib.mmm.model import MMMConfig

__all__ = ["MMMParams"]


class MMMParams(MMMDataConfig):
    """Every parameter of notebook 02_mmm (see the library configs for their meaning).

    Data: :class:`~galaxy_lib.mmm.data.MMMDataConfig`; model and sampler:
    :class:`~galaxy_lib.mmm.model.MMMConfig`; budget: :class:`~galaxy_lib.mmm.analysis.BudgetConfig`
    (``budget_*`` names); gate: :class:`~galaxy_lib.mmm.diagnostics.GateThresholds`.
    """

    # run
    data_dir: str = "data/ci"
    world_size: Literal["ci", "demo", "bench"] = "ci"
    output_dir: str = ""
    # data: the fields of MMMDataConfig, inherited
    # model
    adstock: Literal["geometric", "weibull_cdf"] = "geometric"
    l_max: int = 8
    saturation: Literal["logistic", "hill"] = "logistic"
    trend: Literal["none", "linear", "piecewise"] = "linear"
    yearly_seasonality: int = 2
    time_varying_intercept: bool = False
    # sampler
    chains: int = 2
    tune: int = 300
    draws: int = 300
    sampler: Literal["numpyro", "pymc"] = "numpyro"
    target_accept: float = 0.95
    random_seed: int = 42
    # gate
    rhat_fail: float = 1.05
    ess_fail: float = 50.0
    # budget + forecast
    budget_horizon_periods: int = 13
    budget_total: float = 0.0
    budget_floor: float = 0.5
    budget_cap: float = 2.0
    budget_channel_bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)
    forecast_periods: int = 13

    def to_data_config(self) -> MMMDataConfig:
        """The data part."""
        return MMMDataConfig(**{name: getattr(self, name) for name in MMMDataConfig.model_fields})

    def to_model_config(self) -> MMMConfig:
        """The model + sampler part."""
        return MMMConfig(
            adstock=self.adstock, l_max=self.l_max, saturation=self.saturation, trend=self.trend,
            yearly_seasonality=self.yearly_seasonality, time_varying_intercept=self.time_varying_intercept,
            chains=self.chains, tune=self.tune, draws=self.draws, sampler=self.sampler,
            target_accept=self.target_accept, random_seed=self.random_seed,
        )

    def to_gate_thresholds(self) -> GateThresholds:
        """The diagnostics gate limits."""
        return GateThresholds(rhat_fail=self.rhat_fail, ess_fail=self.ess_fail)

    def to_budget_config(self) -> BudgetConfig:
        """The budget optimisation part."""
        return BudgetConfig(
            horizon_periods=self.budget_horizon_periods, total_budget=self.budget_total, floor=self.budget_floor,
            cap=self.budget_cap, channel_bounds=self.budget_channel_bounds,
        )
