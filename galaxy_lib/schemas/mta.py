"""``metrics.json`` payload of ``03_mta``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from galaxy_lib.core.metrics import MetricsPayload

__all__ = ["ChannelCredit", "CalibrationMetrics", "MtaInputsMetrics", "MtaMetrics"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelCredit(_Part):
    """A channel's credit under one model."""

    conversions: float
    revenue: float
    share: float


class CalibrationMetrics(_Part):
    """How the path model's credit was re-split by incrementality."""

    model: str
    mode: str
    source: str
    factors: dict[str, float | None]
    ignored_channels: list[str]


class MtaInputsMetrics(_Part):
    """What the models were fitted on (events or a path table) and what was left out."""

    model_config = ConfigDict(extra="allow")  # event- and path-table inputs report different counts
    source: str
    paths: int = Field(ge=0)
    journeys: int = Field(ge=0)
    conversions: float = Field(ge=0)
    revenue: float = Field(ge=0)
    channels: int = Field(ge=0)
    calibration_source: str | None = None
    truth_known: bool = False


class MtaMetrics(MetricsPayload):
    """What an MTA run publishes: credit per model and channel, the calibration, distance to the truth."""

    credit: dict[str, dict[str, ChannelCredit]]
    models: list[str]
    calibration: CalibrationMetrics | None = None
    truth_total_variation: dict[str, float] | None = None
    inputs: MtaInputsMetrics
