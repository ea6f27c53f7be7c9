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

The package follows the workflow skeleton (docs/ARCHITECTURE.md):

* :mod:`~galaxy_lib.mta.params`: :class:`MtaParams`, the notebook's parameters;
* :mod:`~galaxy_lib.mta.data`: :func:`load_inputs` from :mod:`~galaxy_lib.mta.paths`
  (path tables), :mod:`~galaxy_lib.mta.journeys` (journeys from events) and
  :mod:`~galaxy_lib.mta.incremental` (calibration targets, the MMM run's ROI);
* :mod:`~galaxy_lib.mta.models`: one module per model family;
* :mod:`~galaxy_lib.mta.analysis`: credit, calibration, truth, publishable tables;
* :mod:`~galaxy_lib.mta.plots`: the figures;
* :mod:`~galaxy_lib.mta.report`: the gates and :func:`publish`.
"""

from galaxy_lib.mta.data import MtaInputs, load_inputs
from galaxy_lib.mta.incremental import (
    LATEST_MMM_RUN,
    IncrementalEstimate,
    incremental_from_lift_tests,
    incremental_from_mmm_run,
    latest_mmm_run,
    read_incremental,
)
from galaxy_lib.mta.journeys import JourneyData, build_journeys
from galaxy_lib.mta.models import (
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
from galaxy_lib.mta.params import MtaParams
from galaxy_lib.mta.paths import (
    DEFAULT_SEPARATOR,
    PATH_COLUMNS,
    PathTable,
    PathTableError,
    parse_path_table,
    read_path_table,
)
from galaxy_lib.mta.report import publish

__all__ = [
    "DEFAULT_SEPARATOR",
    "HEURISTIC_MODELS",
    "LATEST_MMM_RUN",
    "PATH_COLUMNS",
    "AttributionResult",
    "HeuristicAttribution",
    "IncrementalEstimate",
    "JourneyData",
    "MarkovAttribution",
    "MarkovResult",
    "MtaInputs",
    "MtaParams",
    "PathTable",
    "PathTableError",
    "ShapleyAttribution",
    "ShapleyResult",
    "build_journeys",
    "fit_all_models",
    "heuristic_attribution",
    "incremental_from_lift_tests",
    "incremental_from_mmm_run",
    "latest_mmm_run",
    "load_inputs",
    "markov_attribution",
    "parse_path_table",
    "publish",
    "read_incremental",
    "read_path_table",
    "shapley_attribution",
]
