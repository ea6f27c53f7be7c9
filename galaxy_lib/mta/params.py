"""Parameters of ``notebooks/03_mta``: every notebook parameter, flat, validated in its second cell.

``data_dir``, ``world_size`` and ``output_dir`` come from
:class:`galaxy_lib.core.params.NotebookParams`; the fields below are the MTA's own.
Every bound (the lookback window, the Markov order, the k of k-anonymity, the
model names, an input path that does not exist, a date that is not one) fails at
validation, naming the parameter, before any data is read.
The MTA's functions take plain arguments, so there is no library config to build
(:attr:`~galaxy_lib.core.params.NotebookParams.library_configs` stays empty).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from galaxy_lib.core.params import InputPath, IsoDate, NotebookParams, existing_path_or_empty
from galaxy_lib.mta.incremental import LATEST_MMM_RUN

__all__ = ["MtaParams"]


class MtaParams(NotebookParams):
    """Parameters of ``notebooks/03_mta`` (validated in the cell after the parameters cell).

    Examples
    --------
    In the notebook's second cell::

        params = mta.MtaParams.from_notebook(globals())
    """

    paths_path: InputPath = Field(
        "",
        description="Your own path table (ChannelAttribution format, CSV or Parquet); "
        "empty = journeys built from the store's events.",
    )
    separator: str = Field(" > ", min_length=1, description="Separator between channels in paths_path.")
    lookback_days: float = Field(30.0, gt=0, le=365, description="Attribution window before a conversion (days).")
    half_life_days: float = Field(7.0, gt=0, description="Time-decay half-life (days; touches for a path table).")
    markov_order: int = Field(3, ge=1, le=3, description="Highest Markov order fitted (orders 1..markov_order).")
    k_min_paths: int = Field(
        10, ge=2, description="Paths seen by fewer distinct customers (journeys for a path file) are suppressed."
    )
    calibration_model: Literal[
        "markov", "shapley", "first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based"
    ] = Field("markov", description="Model whose credit is calibrated ('markov' = the highest order fitted).")
    calibration_mode: Literal["relative", "absolute"] = Field("relative", description="See mta.analysis.calibrate.")
    incremental_path: str = Field(
        "",
        description="Per-channel incremental estimates: a CSV/JSON table, a lift-test table (04_uplift's "
        "geo_lift_tests.csv), a 02_mmm run folder or metrics.json, "
        "or 'latest:mmm' (the newest passing MMM run); empty = the store's lift tests, if any.",
    )
    direct_channel: str = Field("direct", min_length=1, description="Channel skipped by last non-direct.")
    as_of: IsoDate = Field("", description="Consent evaluated at this date (ISO); empty = now.")
    top_n_paths: int = Field(15, ge=1, le=200, description="Journeys drawn in the Sankey chart.")

    @field_validator("incremental_path")
    @classmethod
    def _incremental_source(cls, value: str) -> str:
        """``latest:mmm``, empty, or an existing file or run folder."""
        return value if value == LATEST_MMM_RUN else existing_path_or_empty(value)

    @property
    def calibrated_model_name(self) -> str:
        """Name of the fitted model to calibrate (``markov_order_<markov_order>`` for ``markov``)."""
        return f"markov_order_{self.markov_order}" if self.calibration_model == "markov" else self.calibration_model
