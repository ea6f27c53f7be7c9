"""Forecasts: the expected KPI for a planned spend after the data, with 94% intervals."""

from __future__ import annotations

import pandas as pd
import xarray as xr

from galaxy_lib.mmm.analysis.intervals import HDI_PROB
from galaxy_lib.mmm.model import MediaMixModel
from galaxy_lib.mmm.sampling import quiet_pymc
from galaxy_lib.mmm.validation import MMMDataError

__all__ = ["forecast", "future_dates", "spend_plan"]


def future_dates(model: MediaMixModel, periods: int) -> pd.DatetimeIndex:
    """Return the ``periods`` dates after the model's data, at the data's frequency."""
    last = model.data_.dates[-1]
    step = pd.tseries.frequencies.to_offset(model.data_.freq)
    return pd.date_range(last + step, periods=periods, freq=step)


def spend_plan(
    model: MediaMixModel, periods: int, per_period: pd.Series | dict[str, float] | None = None
) -> pd.DataFrame:
    """Build a flat future spend plan (one row per future period, and geo).

    Parameters
    ----------
    model
        Fitted model.
    periods
        Number of future periods after the data.
    per_period
        Spend per period per channel (national total); default the current mean.
        For a per-geo model it is split over geos in the channel's historical proportions.
    """
    model._check_fitted()
    data = model.data_
    spend = pd.Series(per_period if per_period is not None else data.mean_period_spend(), dtype=float)
    missing = [c for c in data.channels if c not in spend.index]
    if missing:
        raise MMMDataError(f"spend plan lacks channel(s) {missing}; give spend per period for every channel.")
    dates = future_dates(model, periods)
    if not data.is_geo:
        return pd.DataFrame({"date": dates, **{c: float(spend[c]) for c in data.channels}})
    share = data.frame.groupby("geo")[list(data.channels)].sum()
    share = share / share.sum()
    rows = [
        {"date": d, "geo": g, **{c: float(spend[c] * share.loc[g, c]) for c in data.channels}}
        for d in dates
        for g in data.geos
    ]
    return pd.DataFrame(rows)


def forecast(model: MediaMixModel, plan: pd.DataFrame, random_seed: int = 0) -> pd.DataFrame:
    """Forecast the KPI for a planned spend (periods after the data), with 94% intervals.

    The last ``l_max`` periods of history are prepended so the carry-over of past
    spend is included; trend and seasonality are extrapolated; controls missing from
    ``plan`` are held at their historical mean.

    Parameters
    ----------
    model
        Fitted model.
    plan
        ``date`` (``geo``) and one spend column per channel (e.g. from :func:`spend_plan`),
        optionally control columns.
    random_seed
        Seed of the predictive draws.

    Returns
    -------
    pd.DataFrame
        ``date, kpi_mean, kpi_hdi_low, kpi_hdi_high`` (summed over geos).
    """
    import arviz as az

    model._check_fitted()
    plan = plan.copy()
    plan["date"] = pd.to_datetime(plan["date"])
    last = model.data_.dates[-1]
    if (plan["date"] <= last).any():
        raise MMMDataError(
            f"the forecast plan starts on or before the last data period ({last.date()}); "
            "plan periods must be in the future."
        )
    X = model.design(plan)
    with quiet_pymc():
        y = model.mmm_.sample_posterior_predictive(
            X,
            extend_idata=False,
            combined=True,
            include_last_observations=True,
            progressbar=False,
            random_seed=random_seed,
        )
    if isinstance(y, xr.Dataset):
        y = y["y"]
    y = y * model.target_scale_()
    if "geo" in y.dims:
        y = y.sum("geo")
    samples = y.transpose("date", "sample").values
    hdi = az.hdi(samples.T[None, ...], hdi_prob=HDI_PROB)
    return pd.DataFrame(
        {
            "date": pd.DatetimeIndex(y["date"].values),
            "kpi_mean": samples.mean(1),
            "kpi_hdi_low": hdi[:, 0],
            "kpi_hdi_high": hdi[:, 1],
        }
    )
