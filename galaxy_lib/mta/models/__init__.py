"""Attribution models on an aggregated path table, one family per module.

Three families, one result type (:class:`AttributionResult`, credit per channel in
conversions and revenue):

* **Heuristics** (:mod:`~galaxy_lib.mta.models.heuristic`): first touch, last touch,
  last non-direct, linear, time decay (half-life) and position based (40/20/40).
* **Markov removal effects** (:mod:`~galaxy_lib.mta.models.markov`, order 1 to 3),
  solved exactly from the absorbing chain's fundamental matrix.
* **Shapley values** (:mod:`~galaxy_lib.mta.models.shapley`) of a counterfactual
  coalition game over channel sets, exact up to 20 channels, sampled above.

:func:`fit_all_models` fits every family on one table, as the notebook does.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from galaxy_lib.mta.models.base import AttributionResult, as_path_table
from galaxy_lib.mta.models.heuristic import HEURISTIC_MODELS, HeuristicAttribution, heuristic_attribution
from galaxy_lib.mta.models.markov import MarkovAttribution, MarkovResult, markov_attribution
from galaxy_lib.mta.models.shapley import ShapleyAttribution, ShapleyResult, shapley_attribution
from galaxy_lib.mta.paths import PathTable

__all__ = [
    "HEURISTIC_MODELS",
    "AttributionResult",
    "HeuristicAttribution",
    "MarkovAttribution",
    "MarkovResult",
    "ShapleyAttribution",
    "ShapleyResult",
    "as_path_table",
    "fit_all_models",
    "heuristic_attribution",
    "markov_attribution",
    "shapley_attribution",
]


def fit_all_models(
    paths: PathTable | pd.DataFrame,
    markov_orders: Sequence[int] = (1, 2, 3),
    half_life: float = 7.0,
    direct_channels: Sequence[str] = ("direct",),
    shapley: bool = True,
) -> dict[str, AttributionResult]:
    """Fit every heuristic, a Markov model of each order in ``markov_orders`` and (optionally) Shapley.

    Parameters
    ----------
    paths
        Aggregated path table (:class:`~galaxy_lib.mta.paths.PathTable` or a DataFrame in
        ChannelAttribution's format).
    markov_orders
        Markov orders to fit (each from 1 to 3).
    half_life
        Time-decay half-life (days, or touches when the table has no timing).
    direct_channels
        Channels skipped by last non-direct.
    shapley
        Also fit the Shapley model.

    Returns
    -------
    dict
        Model name -> result, in a stable order (heuristics, Markov, Shapley).
    """
    table = as_path_table(paths)
    out: dict[str, AttributionResult] = {}
    for name in HEURISTIC_MODELS:
        out[name] = heuristic_attribution(table, name, half_life=half_life, direct_channels=direct_channels)
    for k in markov_orders:
        res = markov_attribution(table, order=k)
        out[res.model] = res
    if shapley:
        out["shapley"] = shapley_attribution(table)
    return out
