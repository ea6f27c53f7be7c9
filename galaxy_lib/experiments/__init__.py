"""Experiments: read out A/B and geo tests honestly, and keep a registry of them.

A statistics library below the workflows: the uplift workflow reads out its
randomised campaign with it, and geo-test readouts feed the MMM's and MTA's
calibration.

* :mod:`~galaxy_lib.experiments.ab`: A/B readout (intervals, relative lift, CUPED,
  the sample-ratio guard) and power;
* :mod:`~galaxy_lib.experiments.sequential`: always-valid monitoring (mSPRT);
* :mod:`~galaxy_lib.experiments.geo` and :mod:`~galaxy_lib.experiments.geo_data`:
  geo tests read out from per-geo KPI with CausalPy, as lift-test rows;
* :mod:`~galaxy_lib.experiments.records` and :mod:`~galaxy_lib.experiments.registry`:
  the experiment registry in the store, every status change audited.
"""

from galaxy_lib.experiments.ab import (
    MIN_ROWS_PER_ARM,
    AbReadout,
    ExperimentDataError,
    SampleRatioMismatch,
    SrmCheck,
    ab_readout,
    cuped_adjust,
    readout_table,
    sample_size_per_arm,
    srm_check,
)
from galaxy_lib.experiments.geo import (
    GEO_LIFT_COLUMNS,
    GeoLiftReadout,
    geo_lift_readout,
    geo_lift_readouts,
    geo_lift_table,
    usable_lift_rows,
)
from galaxy_lib.experiments.geo_data import GeoDesignConflict, GeoTest
from galaxy_lib.experiments.records import (
    Experiment,
    ExperimentRegistryError,
    ExperimentSpec,
    Readout,
    StatusTransitionError,
    readout_from_ab,
)
from galaxy_lib.experiments.registry import ExperimentRegistry
from galaxy_lib.experiments.sequential import SequentialResult, sequential_monitor

__all__ = [
    "GEO_LIFT_COLUMNS",
    "MIN_ROWS_PER_ARM",
    "AbReadout",
    "Experiment",
    "ExperimentDataError",
    "ExperimentRegistry",
    "ExperimentRegistryError",
    "ExperimentSpec",
    "GeoDesignConflict",
    "GeoLiftReadout",
    "GeoTest",
    "Readout",
    "SampleRatioMismatch",
    "SequentialResult",
    "SrmCheck",
    "StatusTransitionError",
    "ab_readout",
    "cuped_adjust",
    "geo_lift_readout",
    "geo_lift_readouts",
    "geo_lift_table",
    "readout_from_ab",
    "readout_table",
    "sample_size_per_arm",
    "sequential_monitor",
    "srm_check",
    "usable_lift_rows",
]
