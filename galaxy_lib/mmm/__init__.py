"""Media-mix modelling: a Bayesian MMM (pymc-marketing) with lift-test calibration,
a diagnostics gate, ROI and marginal ROI, budget optimisation and forecasts.

Workflow: :func:`load_mmm_data` (validate) -> :class:`MediaMixModel` ``.fit`` ->
:func:`diagnose` (the gate) -> the tables of :mod:`galaxy_lib.mmm.analysis` ->
the figures of :mod:`galaxy_lib.mmm.plots`. Notebook ``02_mmm`` runs it end to end.
"""

from galaxy_lib.mmm.analysis import (
    BudgetConfig,
    BudgetResult,
    channel_summary,
    decomposition,
    forecast,
    optimise_budget,
    prior_posterior_shift,
    recovery_against_truth,
    PlanComparison,
    ResponseCurves,
    compare_plans,
    response_curve_samples,
    response_curves,
    roi_samples,
    spend_plan,
)
from galaxy_lib.mmm.data import MMMData, MMMDataConfig, MMMDataError, load_mmm_data
from galaxy_lib.mmm.diagnostics import GateThresholds, MMMDiagnostics, diagnose, posterior_predictive
from galaxy_lib.mmm.model import MediaMixModel, MMMConfig
from galaxy_lib.mmm.params import MMMParams
from galaxy_lib.mmm.sampling import pin_jax_cpu_devices, use_jax_compilation_cache

__all__ = [
    "MMMDataConfig",
    "MMMData",
    "MMMDataError",
    "load_mmm_data",
    "MMMConfig",
    "MediaMixModel",
    "pin_jax_cpu_devices",
    "use_jax_compilation_cache",
    "GateThresholds",
    "MMMDiagnostics",
    "diagnose",
    "posterior_predictive",
    "BudgetConfig",
    "BudgetResult",
    "channel_summary",
    "roi_samples",
    "decomposition",
    "response_curves",
    "ResponseCurves",
    "response_curve_samples",
    "PlanComparison",
    "compare_plans",
    "prior_posterior_shift",
    "optimise_budget",
    "spend_plan",
    "forecast",
    "recovery_against_truth",
    "MMMParams",
]
