"""The shared weekly calendar: week starts, holiday weeks and yearly Fourier terms.

Holiday weeks (``holiday = 1`` in the KPI table) are the ISO weeks that contain
Easter Sunday, Black Friday (the fourth Friday after Thanksgiving Thursday in
November), the week before Christmas and Christmas day itself, and the first
full week of July (the summer sale).

The yearly seasonality uses the same basis as pymc-marketing's ``YearlyFourier``:
``sin(2 pi k d / 365.25)`` and ``cos(2 pi k d / 365.25)`` with ``d`` the day of year
of the week start, so a fitted MMM with ``yearly_seasonality >= 2`` can represent
the simulated seasonality exactly.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from dateutil.easter import easter

__all__ = ["N_FOURIER", "fourier_basis", "holiday_flags", "week_starts"]

#: Number of yearly Fourier orders in the baseline (sin and cos for each).
N_FOURIER: int = 2


def week_starts(start_week: dt.date, n_weeks: int) -> pd.DatetimeIndex:
    """Mondays of the simulated weeks."""
    return pd.date_range(pd.Timestamp(start_week), periods=n_weeks, freq="7D")


def _holiday_dates(year: int) -> list[dt.date]:
    nov1 = dt.date(year, 11, 1)
    thanksgiving = nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7 + 21)
    jul1 = dt.date(year, 7, 1)
    first_monday_july = jul1 + dt.timedelta(days=(0 - jul1.weekday()) % 7)
    return [
        easter(year),
        thanksgiving + dt.timedelta(days=1),  # Black Friday
        dt.date(year, 12, 18),
        dt.date(year, 12, 25),
        first_monday_july,
    ]


def holiday_flags(weeks: pd.DatetimeIndex) -> np.ndarray:
    """1 for weeks containing a holiday event (see module docstring), else 0."""
    days = {d for y in range(weeks[0].year - 1, weeks[-1].year + 2) for d in _holiday_dates(y)}
    flags = np.zeros(len(weeks), dtype=np.int64)
    for i, w in enumerate(weeks):
        monday = w.date()
        if any(monday <= d < monday + dt.timedelta(days=7) for d in days):
            flags[i] = 1
    return flags


def fourier_basis(weeks: pd.DatetimeIndex, n_order: int = N_FOURIER) -> np.ndarray:
    """Yearly Fourier basis, shape ``(n_weeks, 2 * n_order)``: ``sin_1, cos_1, sin_2, cos_2, ...``."""
    doy = weeks.dayofyear.to_numpy().astype(float)
    cols = []
    for k in range(1, n_order + 1):
        cols.append(np.sin(2 * np.pi * k * doy / 365.25))
        cols.append(np.cos(2 * np.pi * k * doy / 365.25))
    return np.column_stack(cols)
