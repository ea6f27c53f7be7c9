"""World configuration: how big the Galaxy world is and which seed draws it.

Three named sizes cover the workbench's needs:

========  ===========  ==============================  =======================
size      customers    touchpoints (about)             build time (2 cores)
========  ===========  ==============================  =======================
``ci``        2,000    ~30 thousand                    a few seconds
``demo``     50,000    ~0.7 million                    well under a minute
``bench`` 1,000,000    ~14 million                     a few minutes, bounded memory
========  ===========  ==============================  =======================

Customers are generated in *blocks* of :data:`BLOCK_SIZE` customers, each block
with its own random stream derived from ``(seed, block index)``. A *chunk*
(``chunk_size`` customers, a multiple of the block size) is the unit written to
one Parquet part. Because randomness is tied to blocks and not to chunks, the
same seed and size give the same rows whatever the chunk size: only the number
of Parquet parts changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from galaxy_lib.core.config import GalaxyConfig

__all__ = ["BLOCK_SIZE", "SIZE_PRESETS", "WorldConfig", "WorldSize"]

#: Customers per random-number block (chunk sizes must be a multiple of it).
BLOCK_SIZE: int = 250

WorldSize = Literal["ci", "demo", "bench"]

#: Size-dependent defaults used by :meth:`WorldConfig.for_size`.
SIZE_PRESETS: dict[str, dict[str, Any]] = {
    "ci": {"n_customers": 2_000, "chunk_size": 2_000, "n_creatives": 60},
    "demo": {"n_customers": 50_000, "chunk_size": 25_000, "n_creatives": 80},
    "bench": {"n_customers": 1_000_000, "chunk_size": 50_000, "n_creatives": 120},
}


class WorldConfig(GalaxyConfig):
    """Everything that shapes a Galaxy world.

    Parameters
    ----------
    size
        Name of the size preset (``ci``, ``demo`` or ``bench``); recorded in ``world.json``.
    seed
        Master seed; every random stream of the world is derived from it.
    n_customers
        Number of customers in the CRM panel (touchpoints scale with it, ~14 per customer).
    n_weeks
        Weeks of history (MMM and journeys share the calendar). At least 60.
    start_week
        Monday of the first week.
    geos
        Geo names (MMM geos and customer regions).
    geo_shares
        Population share of each geo (sums to 1): splits national spend and baseline revenue.
    chunk_size
        Customers per Parquet part of the customer-level tables; a multiple of ``BLOCK_SIZE``.
    n_creatives
        Number of creatives (PNG images) across social, display, video and e-mail.
    n_lift_tests
        Number of geo lift tests (1 to 12).
    touch_rate
        Multiplier on every channel's touch intensity (1.0 gives ~14 touches per customer).
    noise_pct
        Standard deviation of the national weekly revenue noise, as a share of mean revenue.
    """

    size: WorldSize = "ci"
    seed: int = Field(42, ge=0)
    n_customers: int = Field(2_000, ge=BLOCK_SIZE)
    n_weeks: int = Field(156, ge=60, le=520)
    start_week: dt.date = dt.date(2023, 1, 2)
    geos: tuple[str, ...] = ("north", "south", "east", "west")
    geo_shares: tuple[float, ...] = (0.35, 0.30, 0.20, 0.15)
    chunk_size: int = Field(2_000, ge=BLOCK_SIZE)
    n_creatives: int = Field(40, ge=8, le=2_000)
    n_lift_tests: int = Field(8, ge=1, le=12)
    touch_rate: float = Field(1.0, gt=0, le=10)
    noise_pct: float = Field(0.025, ge=0, le=0.5)

    @field_validator("start_week")
    @classmethod
    def _monday(cls, v: dt.date) -> dt.date:
        if v.weekday() != 0:
            monday = v - dt.timedelta(days=v.weekday())
            raise ValueError(f"start_week must be a Monday (ISO week start); {v} is not. Use {monday}.")
        return v

    @field_validator("chunk_size")
    @classmethod
    def _chunk_multiple(cls, v: int) -> int:
        if v % BLOCK_SIZE:
            raise ValueError(
                f"chunk_size must be a multiple of {BLOCK_SIZE} (the random-number block); "
                f"got {v}, use {max(BLOCK_SIZE, round(v / BLOCK_SIZE) * BLOCK_SIZE)}."
            )
        return v

    @field_validator("n_customers")
    @classmethod
    def _customers_multiple(cls, v: int) -> int:
        if v % BLOCK_SIZE:
            raise ValueError(
                f"n_customers must be a multiple of {BLOCK_SIZE}; got {v}, "
                f"use {max(BLOCK_SIZE, round(v / BLOCK_SIZE) * BLOCK_SIZE)}."
            )
        return v

    @model_validator(mode="after")
    def _geos_consistent(self) -> WorldConfig:
        if len(self.geos) != len(self.geo_shares):
            raise ValueError(
                f"geos ({len(self.geos)}) and geo_shares ({len(self.geo_shares)}) must have the same length."
            )
        if len(set(self.geos)) != len(self.geos) or not all(g.isidentifier() for g in self.geos):
            raise ValueError(f"geos must be distinct identifiers (letters, digits, _); got {self.geos}.")
        if any(s <= 0 for s in self.geo_shares) or abs(sum(self.geo_shares) - 1) > 1e-9:
            raise ValueError(f"geo_shares must be positive and sum to 1; got {self.geo_shares}.")
        if "ALL" in self.geos:
            raise ValueError("'ALL' is reserved for the national total; rename that geo.")
        return self

    @classmethod
    def for_size(cls, size: WorldSize, seed: int = 42, **overrides: Any) -> WorldConfig:
        """Config of a named size preset, with optional field overrides.

        Parameters
        ----------
        size
            ``"ci"``, ``"demo"`` or ``"bench"``.
        seed
            Master seed.
        **overrides
            Any other :class:`WorldConfig` field (e.g. ``chunk_size=500``).

        Examples
        --------
        >>> WorldConfig.for_size("ci", chunk_size=500).n_customers
        2000
        """
        if size not in SIZE_PRESETS:
            raise ValueError(f"Unknown world size {size!r}; expected one of {', '.join(SIZE_PRESETS)}.")
        return cls(size=size, seed=seed, **{**SIZE_PRESETS[size], **overrides})

    @property
    def end(self) -> dt.datetime:
        """First instant after the simulated period."""
        return dt.datetime.combine(self.start_week, dt.time()) + dt.timedelta(weeks=self.n_weeks)
