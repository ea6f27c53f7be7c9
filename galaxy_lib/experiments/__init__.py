"""Experiments: read out A/B tests honestly (intervals, CUPED, SRM guard, power, sequential looks).

A statistics library below the workflows: the uplift workflow reads out its
randomised campaign with it, and geo-test readouts feed the MMM's and MTA's
calibration. It knows no store, notebook or workflow.
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
from galaxy_lib.experiments.sequential import SequentialResult, sequential_monitor

__all__ = [
    "MIN_ROWS_PER_ARM",
    "AbReadout",
    "ExperimentDataError",
    "SampleRatioMismatch",
    "SequentialResult",
    "SrmCheck",
    "ab_readout",
    "cuped_adjust",
    "readout_table",
    "sample_size_per_arm",
    "sequential_monitor",
    "srm_check",
]
