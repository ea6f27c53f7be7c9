"""``metrics.json`` payload of ``01_data_inventory``."""

from __future__ import annotations

from pydantic import Field

from galaxy_lib.core.metrics import MetricsPayload

__all__ = ["InventoryMetrics"]


class InventoryMetrics(MetricsPayload):
    """What the data inventory publishes.

    Attributes
    ----------
    tables
        Tables profiled, over every zone.
    rows_raw
        Rows in the raw zone.
    rows_quarantined
        Rows held in quarantine, with their rule and reason.
    consent_share
        Per consent purpose, the share of customers whose consent covers it at ``as_of``.
    pii_findings_outside_raw
        Columns outside the raw zone in which personal data was found (must be 0).
    as_of
        The date the data was judged at (ISO ``YYYY-MM-DD``).
    unknown_channels
        Channels in the staged spend or touchpoints that are not in the channel mapping
        (shown so a new channel name is noticed, not silently modelled apart).
    """

    tables: int = Field(ge=0)
    rows_raw: int = Field(ge=0)
    rows_quarantined: int = Field(ge=0)
    consent_share: dict[str, float]
    pii_findings_outside_raw: int = Field(ge=0)
    as_of: str
    unknown_channels: list[str] = Field(default_factory=list)
