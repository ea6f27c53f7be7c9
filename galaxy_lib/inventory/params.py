"""Parameters of ``notebooks/01_data_inventory``: where the data is, plus every gate threshold.

The notebook's ``parameters`` cell is validated into :class:`InventoryParams` in
its second cell (``inventory.InventoryParams.from_notebook(globals())``), so a
misspelt name, a negative rate or a warn threshold beyond its fail threshold stops
the run there, naming the parameter. The same names are the keys of
``parameters/01_data_inventory.yaml``.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from galaxy_lib.core.gates import check_threshold_order
from galaxy_lib.core.params import IsoDate, NotebookParams
from galaxy_lib.governance.quality import Thresholds

__all__ = ["InventoryParams"]


class InventoryParams(NotebookParams, Thresholds):
    """Every parameter of notebook 01_data_inventory, flat.

    ``data_dir``, ``world_size`` and ``output_dir`` come from
    :class:`~galaxy_lib.core.params.NotebookParams`; the quality-gate thresholds
    (``null_rate_warn`` ... ``stale_days_fail``) from
    :class:`~galaxy_lib.governance.quality.Thresholds`, with its bounds and its
    warn <= fail checks. The fields below are the workflow's own.

    Attributes
    ----------
    as_of
        Reference date for freshness and consent (ISO date); empty means the end of the data.
    min_consent_share
        A consent purpose covering a smaller share of customers warns.
    quarantine_share_warn, quarantine_share_fail
        Share of a raw table held in quarantine above which it warns / fails.
    sample_rows
        Rows of a table read into memory for the row-level gates (a repeatable sample above it).
    """

    as_of: IsoDate = Field(
        "", description="Reference time for freshness and consent (ISO date); empty = the end of the data."
    )
    min_consent_share: float = Field(
        0.5, ge=0, le=1, description="Warn when a purpose's consent coverage is below this."
    )
    quarantine_share_warn: float = Field(
        0.001, ge=0, le=1, description="Quarantined share of a table above which it warns."
    )
    quarantine_share_fail: float = Field(0.05, ge=0, le=1, description="... above which it fails.")
    sample_rows: int = Field(1_000_000, ge=1_000, description="Rows read into memory per table for row-level gates.")

    library_configs = {"thresholds": (Thresholds, {name: name for name in Thresholds.model_fields})}

    @model_validator(mode="after")
    def _quarantine_order(self) -> Self:
        check_threshold_order(self.__dict__, higher_is_worse=("quarantine_share",))
        return self

    @property
    def thresholds(self) -> Thresholds:
        """The quality-gate thresholds alone, as :mod:`galaxy_lib.governance.quality` takes them."""
        return self.config("thresholds")
