"""Response curves and what-if spend plans.

A response curve is the long-run KPI per period a channel returns at a steady
spend, kept draw by draw so a plan's gain over the current spend carries its
uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from galaxy_lib.mmm.analysis.intervals import HDI_PROB
from galaxy_lib.mmm.analysis.intervals import hdi as _hdi
from galaxy_lib.mmm.model import MediaMixModel
from galaxy_lib.mmm.sampling import quiet_pymc
from galaxy_lib.mmm.validation import MMMDataError

__all__ = ["PlanComparison", "ResponseCurves", "compare_plans", "response_curve_samples", "response_curves"]


def _cell_scale(ch_scale: xr.DataArray, geo: str | None, channel: str) -> float:
    """pymc-marketing's channel scale of one (geo, channel) cell, whatever dims it was computed over."""
    sel = {}
    if "channel" in ch_scale.dims:
        sel["channel"] = channel
    if geo is not None and "geo" in ch_scale.dims:
        sel["geo"] = geo
    return float(np.asarray(ch_scale.sel(sel)).ravel()[0])


@dataclass(frozen=True)
class ResponseCurves:
    """Steady-state response curves per channel, kept draw by draw.

    Attributes
    ----------
    spend
        Per channel, the grid of spend per period (0 to ``max_multiple`` x the largest observed).
    samples
        Per channel, ``(draws, grid)`` long-run KPI per period at that spend, one row per
        posterior draw (the same draws for every channel, so sums over channels are joint).
    current_spend
        Mean spend per period in the data, per channel.
    """

    spend: dict[str, np.ndarray]
    samples: dict[str, np.ndarray]
    current_spend: pd.Series

    @property
    def channels(self) -> list[str]:
        """Channels with a curve, in model order."""
        return list(self.spend)

    def max_spend(self, channel: str) -> float:
        """Largest spend per period the curve covers."""
        return float(self.spend[channel][-1])

    def full_plan(self, spend_per_period: dict[str, float] | pd.Series) -> pd.Series:
        """Spend per period for every channel: the given ones checked, the others at their current spend.

        Raises
        ------
        MMMDataError
            For an unknown channel, a negative spend, or a spend beyond the curve's range.
        """
        plan = self.current_spend.astype(float).copy()
        for ch, value in dict(spend_per_period).items():
            if ch not in self.spend:
                raise MMMDataError(f"unknown channel {ch!r} in the spend plan; channels are {self.channels}.")
            if not 0 <= float(value) <= self.max_spend(ch) * (1 + 1e-9):
                raise MMMDataError(
                    f"spend {float(value):,.0f} per period for {ch!r} is outside the response curve's range "
                    f"0 to {self.max_spend(ch):,.0f}; recompute the curves with a larger max_multiple."
                )
            plan[ch] = float(value)
        return plan

    def response(self, spend_per_period: dict[str, float] | pd.Series) -> np.ndarray:
        """Long-run media-driven KPI per period, per posterior draw, for a spend per period per channel.

        Channels left out are held at their current spend; bad spend raises as in :meth:`full_plan`.
        """
        plan = self.full_plan(spend_per_period)
        return np.sum([self.channel_response(ch, plan[ch]) for ch in self.channels], axis=0)

    def channel_response(self, channel: str, spend_per_period: float) -> np.ndarray:
        """Long-run KPI per period of one channel at one spend, per posterior draw (no range checks)."""
        grid, rows = self.spend[channel], self.samples[channel]
        # the grid is uniform: linear interpolation of every draw at once
        pos = min(max(float(spend_per_period), 0.0) / grid[-1], 1.0) * (len(grid) - 1) if grid[-1] > 0 else 0.0
        i = min(int(np.floor(pos)), len(grid) - 2)
        w = pos - i
        return rows[:, i] * (1 - w) + rows[:, i + 1] * w

    def table(self) -> pd.DataFrame:
        """``channel, spend, mean, hdi_low, hdi_high, current_spend``: the curves summarised per spend."""
        import arviz as az

        rows = []
        for ch in self.channels:
            samples = self.samples[ch]
            hdi = az.hdi(samples[None, ...], hdi_prob=HDI_PROB)  # (x, 2)
            rows.append(
                pd.DataFrame(
                    {
                        "channel": ch,
                        "spend": self.spend[ch],
                        "mean": samples.mean(0),
                        "hdi_low": hdi[:, 0],
                        "hdi_high": hdi[:, 1],
                        "current_spend": float(self.current_spend[ch]),
                    }
                )
            )
        return pd.concat(rows, ignore_index=True)


def response_curve_samples(
    model: MediaMixModel, n_points: int = 41, max_multiple: float = 2.0, num_samples: int = 300, random_seed: int = 0
) -> ResponseCurves:
    """Steady-state response curve per channel and posterior draw: KPI per period against spend per period.

    With normalised adstock a spend held at ``x`` per period has adstocked value
    ``x``, so the long-run KPI per period is the saturation curve at ``x``. The
    grid runs from 0 to ``max_multiple`` times the channel's largest observed
    spend per period. For a per-geo model, national spend is split across geos in
    the channel's historical proportions and the geo curves are summed.
    """
    model._check_fitted()
    data = model.data_
    ch_scale = model.idata_.constant_data["channel_scale"]  # (channel) or (geo, channel)
    scaled_max = max_multiple * 1.05
    if data.is_geo:
        share = data.frame.groupby("geo")[list(data.channels)].sum()
        share = share / share.sum()
        # Largest scaled value needed: national spend * share / geo scale.
        national_max = data.frame.groupby("date")[list(data.channels)].sum().max()
        scales = pd.DataFrame({g: {ch: _cell_scale(ch_scale, g, ch) for ch in data.channels} for g in data.geos}).T
        need = (share * national_max) / scales.reindex(index=share.index, columns=share.columns)
        scaled_max = float(np.nanmax(need.to_numpy())) * max_multiple * 1.05
    with quiet_pymc():
        curve = model.mmm_.sample_saturation_curve(
            max_value=scaled_max, num_points=400, num_samples=num_samples, random_state=random_seed, original_scale=True
        )
    extra = [d for d in curve.dims if d not in ("x", "sample", "channel", "geo")]
    curve = curve.isel({d: 0 for d in extra}, drop=True)
    grid = curve["x"].values
    spends, samples = {}, {}
    for ch in data.channels:
        if data.is_geo:
            national_max = float(data.frame.groupby("date")[ch].sum().max())
            spend = np.linspace(0, max_multiple * national_max, n_points)
            total = 0
            for g in data.geos:
                xg = spend * float(share.loc[g, ch]) / _cell_scale(ch_scale, g, ch)
                cg = curve.sel(channel=ch, geo=g).transpose("sample", "x").values
                total = total + np.stack([np.interp(xg, grid, row) for row in cg])
            samples[ch] = total
        else:
            scale = _cell_scale(ch_scale, None, ch)
            spend = np.linspace(0, max_multiple * float(data.frame[ch].max()), n_points)
            cg = curve.sel(channel=ch).transpose("sample", "x").values
            samples[ch] = np.stack([np.interp(spend / scale, grid, row) for row in cg])
        spends[ch] = spend
    return ResponseCurves(spend=spends, samples=samples, current_spend=data.mean_period_spend().astype(float))


def response_curves(
    model: MediaMixModel, n_points: int = 41, max_multiple: float = 2.0, num_samples: int = 300, random_seed: int = 0
) -> pd.DataFrame:
    """Steady-state response curve per channel, summarised: see :func:`response_curve_samples`.

    Returns
    -------
    pd.DataFrame
        ``channel, spend, mean, hdi_low, hdi_high, current_spend`` (current =
        mean spend per period in the data).
    """
    return response_curve_samples(model, n_points, max_multiple, num_samples, random_seed).table()


@dataclass(frozen=True)
class PlanComparison:
    """A spend plan against the current spend on the long-run response curves (:func:`compare_plans`).

    Attributes
    ----------
    channels
        Index ``channel``: ``current_spend``, ``plan_spend`` (per period), ``change_pct``,
        ``kpi_current``, ``kpi_plan`` (posterior mean long-run KPI per period).
    spend_current, spend_plan
        Total spend per period.
    kpi_current, kpi_plan
        Posterior mean long-run media-driven KPI per period.
    gain_mean, gain_hdi_low, gain_hdi_high, prob_gain_positive
        KPI per period of the plan minus the current spend, draw by draw (paired).
    """

    channels: pd.DataFrame
    spend_current: float
    spend_plan: float
    kpi_current: float
    kpi_plan: float
    gain_mean: float
    gain_hdi_low: float
    gain_hdi_high: float
    prob_gain_positive: float

    @property
    def roi_of_change(self) -> float:
        """Extra KPI per extra unit of spend (NaN when the total spend does not change)."""
        extra = self.spend_plan - self.spend_current
        return self.gain_mean / extra if abs(extra) > 1e-9 * max(self.spend_current, 1.0) else float("nan")


def compare_plans(curves: ResponseCurves, plan: dict[str, float] | pd.Series) -> PlanComparison:
    """Compare a spend per period per channel with the current spend, on every posterior draw.

    Parameters
    ----------
    curves
        From :func:`response_curve_samples`.
    plan
        Spend per period per channel; channels left out stay at their current spend.
    """
    current = curves.current_spend
    plan_full = curves.full_plan(plan)
    # per channel and draw, once; the totals are their sums (same draws for every channel)
    draws_current = {ch: curves.channel_response(ch, current[ch]) for ch in curves.channels}
    draws_plan = {ch: curves.channel_response(ch, plan_full[ch]) for ch in curves.channels}
    r_cur = np.sum(list(draws_current.values()), axis=0)
    r_plan = np.sum(list(draws_plan.values()), axis=0)
    gain = r_plan - r_cur
    lo, hi = _hdi(gain)
    per_channel = pd.DataFrame(
        {
            "current_spend": current,
            "plan_spend": plan_full,
            "kpi_current": {ch: float(d.mean()) for ch, d in draws_current.items()},
            "kpi_plan": {ch: float(d.mean()) for ch, d in draws_plan.items()},
        }
    )
    per_channel.insert(2, "change_pct", (per_channel["plan_spend"] / per_channel["current_spend"] - 1) * 100)
    per_channel.index.name = "channel"
    return PlanComparison(
        channels=per_channel,
        spend_current=float(current.sum()),
        spend_plan=float(plan_full.sum()),
        kpi_current=float(r_cur.mean()),
        kpi_plan=float(r_plan.mean()),
        gain_mean=float(gain.mean()),
        gain_hdi_low=lo,
        gain_hdi_high=hi,
        prob_gain_positive=float((gain > 0).mean()),
    )
