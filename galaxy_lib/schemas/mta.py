"""``metrics.json`` payload of ``03_mta``.

An optional field the run did not measure (``calibration`` without incremental
estimates, ``truth_total_variation`` outside a Galaxy world, the journey counts of
``inputs`` for a user's own path table) is left out of the file rather than
written as ``null``, as the workflow has always published it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from galaxy_lib.core.metrics import MetricsPayload

__all__ = ["CalibrationMetrics", "ChannelCredit", "MtaInputsMetrics", "MtaMetrics"]


class _OmitsUnmeasured(BaseModel):
    """Leaves optional fields that are ``None`` out of the dump (a reader gets ``None`` back)."""

    @model_serializer(mode="wrap")
    def _omit_unmeasured(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        fields = type(self).model_fields
        return {k: v for k, v in data.items() if v is not None or k not in fields or fields[k].is_required()}


class _Part(_OmitsUnmeasured):
    model_config = ConfigDict(extra="forbid")


class ChannelCredit(_Part):
    """A channel's credit under one model."""

    conversions: float
    revenue: float
    share: float


class CalibrationMetrics(_Part):
    """How the path model's credit was re-split by incrementality.

    ``factors`` is what each channel's credit was multiplied by (``None`` where the
    model gave the channel no credit to scale).
    """

    model: str
    mode: str
    source: str
    factors: dict[str, float | None]
    ignored_channels: list[str]


class MtaInputsMetrics(_Part):
    """What the models were fitted on (events or a path table) and what was left out.

    ``journeys`` and ``conversions`` are whole numbers when counted from events and
    sums of the table's (possibly fractional) counts for a path table; the fields from
    ``unique_paths`` to ``lookback_days`` exist only for journeys built from events.
    """

    source: str
    paths: int = Field(ge=0)
    journeys: int | float = Field(ge=0)
    conversions: int | float = Field(ge=0)
    revenue: float = Field(ge=0)
    channels: int = Field(ge=0)
    mean_touches_per_path: float = Field(ge=0)
    quarantined_rows: int = Field(ge=0)
    quarantined_path_rows: int = Field(ge=0)
    unique_paths: int | None = Field(None, ge=0)
    consent_excluded_customers: int | None = Field(None, ge=0)
    consent_excluded_touchpoints: int | None = Field(None, ge=0)
    consent_excluded_conversions: int | None = Field(None, ge=0)
    null_journeys: int | None = Field(None, ge=0)
    quarantined_conversions: int | None = Field(None, ge=0)
    lookback_days: float | None = Field(None, gt=0)
    calibration_source: str
    truth_known: bool


class MtaMetrics(MetricsPayload, _OmitsUnmeasured):
    """What an MTA run publishes: credit per model and channel, the calibration, distance to the truth.

    ``credit[<model>][<channel>]`` covers every fitted model and, when calibrated,
    ``<model>_calibrated``; ``models`` lists them in the order fitted.
    """

    credit: dict[str, dict[str, ChannelCredit]]
    models: list[str]
    calibration: CalibrationMetrics | None = None
    truth_total_variation: dict[str, float] | None = None
    inputs: MtaInputsMetrics
