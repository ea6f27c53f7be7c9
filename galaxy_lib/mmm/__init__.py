"""Media-mix modelling: a Bayesian MMM (pymc-marketing) calibrated with lift tests.

A diagnostics gate, ROI and marginal ROI, budget optimisation and forecasts.

Workflow (notebook ``02_mmm``): :class:`MMMParams` (the notebook's parameters) ->
:func:`load_mmm_data` (load and validate) -> :class:`MediaMixModel` ``.fit`` ->
:func:`diagnose` (the gate) -> the tables of :mod:`galaxy_lib.mmm.analysis` ->
the figures of :mod:`galaxy_lib.mmm.plots` -> :func:`publish` (the run folder).

Modules: ``params`` (notebook parameters), ``data`` / ``validation`` /
``lift_tests`` (inputs), ``curated`` (the ``mmm_weekly`` curated table), ``model``
and ``sampling`` (fitting), ``diagnostics`` (the gate), ``analysis`` (summary,
response, budget, forecast, truth), ``plots``, ``report``.
"""

from galaxy_lib.mmm.analysis import (
    BudgetConfig,
    BudgetResult,
    PlanComparison,
    ResponseCurves,
    channel_summary,
    compare_plans,
    decomposition,
    forecast,
    optimise_budget,
    prior_posterior_shift,
    recovery_against_truth,
    response_curve_samples,
    response_curves,
    roi_samples,
    spend_plan,
    world_true_roi,
)
from galaxy_lib.mmm.data import MMMData, MMMDataConfig, MMMDataError, load_mmm_data
from galaxy_lib.mmm.diagnostics import GateThresholds, MMMDiagnostics, diagnose, posterior_predictive
from galaxy_lib.mmm.model import MediaMixModel, MMMConfig
from galaxy_lib.mmm.params import MMMParams
from galaxy_lib.mmm.report import publish
from galaxy_lib.mmm.sampling import pin_jax_cpu_devices, use_jax_compilation_cache

__all__ = [
    "BudgetConfig",
    "BudgetResult",
    "GateThresholds",
    "MMMConfig",
    "MMMData",
    "MMMDataConfig",
    "MMMDataError",
    "MMMDiagnostics",
    "MMMParams",
    "MediaMixModel",
    "PlanComparison",
    "ResponseCurves",
    "channel_summary",
    "compare_plans",
    "decomposition",
    "diagnose",
    "forecast",
    "load_mmm_data",
    "optimise_budget",
    "pin_jax_cpu_devices",
    "posterior_predictive",
    "prior_posterior_shift",
    "publish",
    "recovery_against_truth",
    "response_curve_samples",
    "response_curves",
    "roi_samples",
    "spend_plan",
    "use_jax_compilation_cache",
    "world_true_roi",
]
