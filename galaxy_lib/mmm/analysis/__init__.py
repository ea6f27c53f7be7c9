"""Turn a fitted :class:`~galaxy_lib.mmm.model.MediaMixModel` into tables, one question per module.

* :mod:`.summary`: what each channel did (contributions, ROI, marginal ROI, shares,
  the decomposition over time, prior against posterior);
* :mod:`.response`: response curves and what-if spend plans;
* :mod:`.budget`: the budget split that maximises the expected KPI;
* :mod:`.forecast`: the KPI expected for a future spend plan;
* :mod:`.truth`: ROI recovered against a Galaxy world's known truth.

Every function takes a fitted model (or its tables) and returns pandas tables or
frozen dataclasses; nothing here plots (see :mod:`galaxy_lib.mmm.plots`).
Intervals are 94% highest-density intervals over posterior draws (:data:`HDI_PROB`).
"""

from galaxy_lib.mmm.analysis.budget import BudgetConfig, BudgetResult, optimise_budget
from galaxy_lib.mmm.analysis.forecast import forecast, future_dates, spend_plan
from galaxy_lib.mmm.analysis.intervals import HDI_PROB, hdi
from galaxy_lib.mmm.analysis.response import (
    PlanComparison,
    ResponseCurves,
    compare_plans,
    response_curve_samples,
    response_curves,
)
from galaxy_lib.mmm.analysis.summary import (
    channel_summary,
    contribution_samples,
    decomposition,
    prior_posterior_shift,
    roi_samples,
)
from galaxy_lib.mmm.analysis.truth import recovery_against_truth, world_true_roi

__all__ = [
    "HDI_PROB",
    "BudgetConfig",
    "BudgetResult",
    "PlanComparison",
    "ResponseCurves",
    "channel_summary",
    "compare_plans",
    "contribution_samples",
    "decomposition",
    "forecast",
    "future_dates",
    "hdi",
    "optimise_budget",
    "prior_posterior_shift",
    "recovery_against_truth",
    "response_curve_samples",
    "response_curves",
    "roi_samples",
    "spend_plan",
    "world_true_roi",
]
