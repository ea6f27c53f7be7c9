"""The parameters of notebook ``02_mmm``: flat, checked, and built into the library's configs.

``notebooks/02_mmm`` validates its ``parameters`` cell in its second cell::

    params = mmm.MMMParams.from_notebook(globals())

A misspelt or mistyped parameter fails there with its name. So does every bound
of the library configs the run needs: :class:`MMMParams` builds
:class:`~galaxy_lib.mmm.data.MMMDataConfig`, :class:`~galaxy_lib.mmm.model.MMMConfig`,
:class:`~galaxy_lib.mmm.diagnostics.GateThresholds` and
:class:`~galaxy_lib.mmm.analysis.BudgetConfig` during validation
(:attr:`MMMParams.library_configs`), so ``chains: 0`` or ``budget_floor: -1`` is
reported in the first cell, naming the notebook parameter, instead of in the fit
cell or after sampling. The same names are the keys of ``parameters/02_mmm.yaml``
and of a parameters file for your own data (see ``parameters/examples/``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from galaxy_lib.core.params import NotebookParams
from galaxy_lib.mmm.analysis.budget import BudgetConfig
from galaxy_lib.mmm.data import MMMDataConfig
from galaxy_lib.mmm.diagnostics import GateThresholds
from galaxy_lib.mmm.model import MMMConfig

__all__ = ["MMMParams"]

_MODEL_FIELDS: tuple[str, ...] = (
    "adstock",
    "l_max",
    "saturation",
    "trend",
    "yearly_seasonality",
    "time_varying_intercept",
    "chains",
    "tune",
    "draws",
    "sampler",
    "target_accept",
    "random_seed",
)
_GATE_FIELDS: tuple[str, ...] = ("rhat_warn", "rhat_fail", "ess_warn", "ess_fail")


class MMMParams(NotebookParams, MMMDataConfig):
    """Every parameter of notebook 02_mmm (see the library configs for their meaning).

    Run: ``data_dir``, ``world_size``, ``output_dir`` (:class:`~galaxy_lib.core.params.NotebookParams`).
    Data: the fields of :class:`~galaxy_lib.mmm.data.MMMDataConfig`, inherited. Model and
    sampler: :class:`~galaxy_lib.mmm.model.MMMConfig` (same names). Gate:
    :class:`~galaxy_lib.mmm.diagnostics.GateThresholds` (same names). Budget:
    :class:`~galaxy_lib.mmm.analysis.BudgetConfig` (``budget_*`` names).
    ``forecast_periods``: periods to forecast after the data (at least 1).

    The other bounds live in the library configs only; :meth:`config` returns each one
    built (``"data"``, ``"model"``, ``"gate"``, ``"budget"``).
    """

    # model (bounds: MMMConfig)
    adstock: Literal["geometric", "weibull_cdf"] = "geometric"
    l_max: int = 8
    saturation: Literal["logistic", "hill"] = "logistic"
    trend: Literal["none", "linear", "piecewise"] = "linear"
    yearly_seasonality: int = 2
    time_varying_intercept: bool = False
    # sampler (bounds: MMMConfig)
    chains: int = 2
    tune: int = 300
    draws: int = 300
    sampler: Literal["numpyro", "pymc"] = "numpyro"
    target_accept: float = 0.95
    random_seed: int = 42
    # gate (bounds and warn <= fail: GateThresholds)
    rhat_warn: float = 1.01
    rhat_fail: float = 1.05
    ess_warn: float = 200.0
    ess_fail: float = 50.0
    # budget (bounds: BudgetConfig) + forecast
    budget_horizon_periods: int = 13
    budget_total: float = 0.0
    budget_floor: float = 0.5
    budget_cap: float = 2.0
    budget_channel_bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)
    forecast_periods: int = Field(13, ge=1)

    library_configs: ClassVar = {
        "data": (MMMDataConfig, {name: name for name in MMMDataConfig.model_fields}),
        "model": (MMMConfig, {name: name for name in _MODEL_FIELDS}),
        "gate": (GateThresholds, {name: name for name in _GATE_FIELDS}),
        "budget": (
            BudgetConfig,
            {
                "horizon_periods": "budget_horizon_periods",
                "total_budget": "budget_total",
                "floor": "budget_floor",
                "cap": "budget_cap",
                "channel_bounds": "budget_channel_bounds",
            },
        ),
    }

    def to_data_config(self) -> MMMDataConfig:
        """Return the data part (:class:`~galaxy_lib.mmm.data.MMMDataConfig`)."""
        return self.config("data")

    def to_model_config(self) -> MMMConfig:
        """Return the model + sampler part (:class:`~galaxy_lib.mmm.model.MMMConfig`)."""
        return self.config("model")

    def to_gate_thresholds(self) -> GateThresholds:
        """Return the diagnostics gate limits (:class:`~galaxy_lib.mmm.diagnostics.GateThresholds`)."""
        return self.config("gate")

    def to_budget_config(self) -> BudgetConfig:
        """Return the budget optimisation part (:class:`~galaxy_lib.mmm.analysis.BudgetConfig`)."""
        return self.config("budget")
