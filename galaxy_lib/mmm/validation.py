"""The checks an MMM input must pass before any sampling.

:func:`validate_frame` checks a canonical frame (dates, enough periods for the
adstock window, the KPI, every channel and control) and raises
:class:`MMMDataError` on the first problem, naming the column and the fix. The
loader (:mod:`galaxy_lib.mmm.data`), the lift-test preparation
(:mod:`galaxy_lib.mmm.lift_tests`) and :meth:`MediaMixModel.fit` all raise it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MIN_PERIODS_PER_LMAX", "MMMDataError", "format_dates", "missing_columns", "validate_frame"]

#: The data must hold at least this many times ``l_max`` periods (per geo).
MIN_PERIODS_PER_LMAX: int = 4


class MMMDataError(ValueError):
    """The MMM input cannot be used as it is; the message names the column and the fix."""


def missing_columns(df: pd.DataFrame, names: list[str], param: str, source: str) -> None:
    """Raise :class:`MMMDataError` when any of ``names`` is not a column of ``df``.

    Parameters
    ----------
    df
        The table as read.
    names
        Columns the parameters ask for.
    param
        The parameter that named them (quoted in the error with its fix).
    source
        Where the table came from (quoted in the error).
    """
    missing = [n for n in names if n not in df.columns]
    if missing:
        cols = ", ".join(map(str, df.columns[:40])) + (" ..." if len(df.columns) > 40 else "")
        raise MMMDataError(
            f"{param}: {missing} {'is' if len(missing) == 1 else 'are'} not a column of {source}. "
            f"Its columns are: {cols}. Fix {param} in the parameters file to use existing column names."
        )


def format_dates(values: Any, n: int = 5) -> str:
    """Format the first ``n`` dates of ``values`` as ``YYYY-MM-DD``, comma-separated (``...`` when there are more)."""
    vals = [pd.Timestamp(v).strftime("%Y-%m-%d") for v in list(values)[:n]]
    return ", ".join(vals) + (" ..." if len(list(values)) > n else "")


def _check_dates(frame: pd.DataFrame, geo: str | None) -> str:
    """Duplicated / missing / irregular dates -> error; returns the period as an offset alias."""
    where = f" in geo {geo!r}" if geo is not None else ""
    d = frame["date"]
    dup = d[d.duplicated(keep=False)]
    if len(dup):
        hint = (
            "set geo_column to the geo column so each geo is its own series, or aggregate to one row per date"
            if geo is None
            else "keep one row per date and geo"
        )
        raise MMMDataError(
            f"date_column has {int(d.duplicated().sum())} duplicated date(s){where}: "
            f"{format_dates(dup.unique())}; {hint}."
        )
    ds = pd.DatetimeIndex(np.sort(d.to_numpy()))
    if len(ds) < 3:
        raise MMMDataError(f"only {len(ds)} dates{where}: an MMM needs a long, regular time series.")
    diffs = np.diff(ds.asi8)
    step = int(pd.Series(diffs).mode().iloc[0])
    if step <= 0:
        raise MMMDataError("date_column: dates do not increase.")
    irregular = np.flatnonzero(diffs != step)
    if len(irregular):
        expected = pd.date_range(ds[0], ds[-1], freq=pd.Timedelta(step))
        missing = expected.difference(ds)
        if len(missing) and (ds.isin(expected)).all():
            raise MMMDataError(
                f"date_column has {len(missing)} missing period(s){where}: {format_dates(missing)}. "
                "Add those periods (spend 0 if nothing ran) so the series is regular."
            )
        raise MMMDataError(
            f"date_column is irregular{where}: periods of {pd.Timedelta(step)} but a different gap after "
            f"{format_dates(ds[irregular])}. Align every date to the same weekday (weekly) or day (daily)."
        )
    return pd.tseries.frequencies.to_offset(pd.Timedelta(step)).freqstr


def validate_frame(
    frame: pd.DataFrame,
    channels: tuple[str, ...] | list[str],
    controls: tuple[str, ...] | list[str],
    l_max: int,
    channel_columns: dict[str, str] | None = None,
) -> str:
    """Check a canonical frame before any sampling; raise :class:`MMMDataError` on the first problem.

    Checks, in order: dates (duplicated, missing, irregular; per geo, same dates in
    every geo), enough periods for ``l_max`` (at least :data:`MIN_PERIODS_PER_LMAX`
    times ``l_max``), the KPI (no missing values, not constant), each channel (no
    missing values, no negative spend, not all zeros, not constant) and each control
    (no missing values, not constant).

    Parameters
    ----------
    frame
        Canonical frame (see :class:`MMMData`).
    channels, controls
        Channel labels and control names in ``frame``.
    l_max
        Adstock window (periods).
    channel_columns
        Label -> source column, so errors name the user's column.

    Returns
    -------
    str
        The period length as a pandas offset alias (``"7D"`` for weekly data).
    """
    names = channel_columns or {c: c for c in channels}
    if "geo" in frame.columns:
        freq = None
        first_dates = None
        for g, part in frame.groupby("geo", sort=True):
            f = _check_dates(part, str(g))
            freq = freq or f
            if f != freq:
                raise MMMDataError(f"geo {g!r} has periods of {f} while other geos have {freq}; use one frequency.")
            dates = pd.DatetimeIndex(np.sort(part["date"].to_numpy()))
            if first_dates is None:
                first_dates = (g, dates)
            elif not dates.equals(first_dates[1]):
                only = dates.symmetric_difference(first_dates[1])
                raise MMMDataError(
                    f"geo {g!r} and geo {first_dates[0]!r} cover different dates (e.g. {format_dates(only)}); "
                    "every geo needs the same dates (add rows with spend 0 where nothing ran)."
                )
        assert freq is not None
    else:
        freq = _check_dates(frame, None)
    n_periods = int(frame["date"].nunique())
    need = MIN_PERIODS_PER_LMAX * l_max
    if n_periods < need:
        raise MMMDataError(
            f"only {n_periods} periods for an adstock window of l_max={l_max}: the model needs at least "
            f"{need} ({MIN_PERIODS_PER_LMAX} x l_max) to tell carry-over from noise. "
            f"Supply more history or lower l_max to {max(1, n_periods // MIN_PERIODS_PER_LMAX)} or less."
        )
    kpi = frame["kpi"]
    if kpi.isna().any():
        rows = frame.loc[kpi.isna(), "date"]
        raise MMMDataError(
            f"target_column has {int(kpi.isna().sum())} missing value(s) (dates {format_dates(rows)}). "
            "Fill them (or drop those periods from every table) before fitting."
        )
    if np.isclose(kpi.std(), 0):
        raise MMMDataError("target_column is constant: there is nothing to explain.")
    for ch in channels:
        col = names.get(ch, ch)
        x = frame[ch]
        if x.isna().any():
            raise MMMDataError(
                f"spend column {col!r} has {int(x.isna().sum())} missing value(s) "
                f"(dates {format_dates(frame.loc[x.isna(), 'date'])}); fill with 0 where nothing ran."
            )
        if (x < 0).any():
            rows = frame.loc[x < 0, "date"]
            raise MMMDataError(
                f"spend column {col!r} has {int((x < 0).sum())} negative value(s) (dates {format_dates(rows)}, "
                f"min {x.min():.4g}); spend cannot be negative: correct those rows (refunds belong in another column)."
            )
        if (x == 0).all():
            raise MMMDataError(
                f"spend column {col!r} is all zeros: the model cannot learn an effect without spend. "
                "Remove it from channel_columns."
            )
        if np.isclose(x.std(), 0):
            raise MMMDataError(
                f"spend column {col!r} is constant ({x.iloc[0]:.4g} every period): its effect cannot be told "
                "apart from the baseline. Remove it from channel_columns (or add history where it varied)."
            )
    for c in controls:
        x = frame[c]
        if x.isna().any():
            raise MMMDataError(
                f"control column {c!r} has {int(x.isna().sum())} missing value(s) "
                f"(dates {format_dates(frame.loc[x.isna(), 'date'])}); fill them or drop the control."
            )
        if np.isclose(x.std(), 0):
            raise MMMDataError(
                f"control column {c!r} is constant: it duplicates the intercept. Remove it from control_columns."
            )
    return freq
