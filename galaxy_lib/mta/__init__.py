"""Multi-touch attribution: heuristic, Markov (exact, order 1 to 3) and Shapley models.

Public API (used by ``notebooks/03_mta.py`` and ``bench/mta_vs_channelattribution.py``)::

    from galaxy_lib.mta import markov_attribution, shapley_attribution, heuristic_attribution
    markov_attribution(paths, order=1)
    shapley_attribution(paths)
    heuristic_attribution(paths, "last_touch")

``paths`` is an aggregated path table: a :class:`PathTable` from
:func:`read_path_table` / :func:`build_journeys`, or a DataFrame in
ChannelAttribution's format (``path``, ``total_conversions``,
``total_conversion_value``, ``total_null``, channels separated by ``" > "``).
"""

from galaxy_lib.mta.data import (
    DEFAULT_SEPARATOR,
    PATH_COLUMNS,
    IncrementalEstimate,
    JourneyData,
    MtaInputs,
    MtaParams,
    PathTable,
    PathTableError,
    build_journeys,
    incremental_from_lift_tests,
    load_inputs,
    parse_path_table,
    read_incremental,
    incremental_from_mmm_run,
    latest_mmm_run,
    LATEST_MMM_RUN,
    read_path_table,
)
from galaxy_lib.mta.model import (
    HEURISTIC_MODELS,
    AttributionResult,
    HeuristicAttribution,
    MarkovAttribution,
    MarkovResult,
    ShapleyAttribution,
    ShapleyResult,
    fit_all_models,
    heuristic_attribution,
    markov_attribution,
    shapley_attribution,
)

__all__ = [
    "MtaParams",
    "MtaInputs",
    "load_inputs",
    "IncrementalEstimate",
    "incremental_from_lift_tests",
    "read_incremental",
    "incremental_from_mmm_run",
    "latest_mmm_run",
    "LATEST_MMM_RUN",
    "DEFAULT_SEPARATOR",
    "PATH_COLUMNS",
    "HEURISTIC_MODELS",
    "PathTable",
    "PathTableError",
    "JourneyData",
    "parse_path_table",
    "read_path_table",
    "build_journeys",
    "AttributionResult",
    "MarkovResult",
    "ShapleyResult",
    "HeuristicAttribution",
    "MarkovAttribution",
    "ShapleyAttribution",
    "heuristic_attribution",
    "markov_attribution",
    "shapley_attribution",
    "fit_all_models",
]
