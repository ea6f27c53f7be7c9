"""Turn a fitted :class:`~galaxy_lib.mmm.model.MediaMixModel` into tables.

Every function takes a fitted model and returns pandas tables or frozen
dataclasses; nothing here plots (see :mod:`galaxy_lib.mmm.plots`).

Definitions (KPI units, summed over geos)
-----------------------------------------
* **Contribution** of a channel: the sum over periods of its modelled
  ``channel_contribution`` (adstock then saturation of its own spend; zero spend
  before the first period). Contributions are additive, so this equals the KPI
  the channel caused inside the data window.
* **ROI** = contribution / spend (the Galaxy ground truth uses the same definition).
* **Marginal ROI** = extra KPI from 1% more spend in every period (carry-over
  included) / that extra spend: the return on the next unit of money.
  Computed with pymc-marketing's ``Incrementality`` counterfactuals.
* **Contribution share** = contribution / total KPI; **share of media** =
  contribution / total media contribution (sums to 1 over channels).
* Intervals are 94% highest-density intervals over posterior draws.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field, field_validator

from galaxy_lib.core.config import GalaxyConfig
from galaxy_lib.mmm.data import MMMDataError
from galaxy_lib.mmm.model import TREND_CONTROL, MediaMixModel

__all__ = [
    "HDI_PROB",
    "contribution_samples",
    "roi_samples",
    "channel_summary",
    "decomposition",
    "response_curves",
    "ResponseCurves",
    "response_curve_samples",
    "PlanComparison",
    "compare_plans",
    "prior_posterior_shift",
    "BudgetConfig",
    "BudgetResult",
    "optimise_budget",
    "spend_plan",
    "forecast",
    "recovery_against_truth",
]

HDI_PROB: float = 0.94


def _hdi(samples: np.ndarray, prob: float = HDI_PROB) -> tuple[float, float]:
    import arviz as az

    lo, hi = az.hdi(np.asarray(samples, dtype=float).ravel(), hdi_prob=prob)
    return float(lo), float(hi)


def contribution_samples(model: MediaMixModel, group: str = "posterior") -> xr.DataArray:
    """Total contribution per channel and draw (KPI units, summed over periods and geos).

    Parameters
    ----------
    model
        Fitted model.
    group
        ``posterior`` or ``prior`` (after :func:`prior_posterior_shift` sampled it).
    """
    model._check_fitted()
    cc = model.idata_[group]["channel_contribution"] * model.target_scale_()
    dims = [d for d in cc.dims if d not in ("chain", "draw", "channel")]
    return cc.sum(dims)


def roi_samples(model: MediaMixModel, group: str = "posterior") -> xr.DataArray:
    """ROI per channel and draw: contribution / spend."""
    contrib = contribution_samples(model, group)
    spend = model.data_.spend_totals()
    return contrib / xr.DataArray(spend.reindex(contrib["channel"].values).to_numpy(), dims="channel",
                                  coords={"channel": contrib["channel"].values})


def _mroi_samples(model: MediaMixModel, spend_increase: float = 0.01) -> xr.DataArray:
    inc = model.mmm_.incrementality.compute_incremental_contribution(
        frequency="all_time", include_carryover=True, counterfactual_spend_factor=1.0 + spend_increase,
    )
    extra = [d for d in inc.dims if d not in ("chain", "draw", "channel")]
    inc = inc.sum(extra)
    spend = model.data_.spend_totals().reindex(inc["channel"].values).to_numpy()
    return inc / xr.DataArray(spend_increase * spend, dims="channel", coords={"channel": inc["channel"].values})


def channel_summary(model: MediaMixModel, marginal: bool = True) -> pd.DataFrame:
    """Per channel: spend, contribution, ROI and marginal ROI with 94% HDIs, shares.

    Parameters
    ----------
    model
        Fitted model.
    marginal
        Compute marginal ROI (a counterfactual evaluation over all draws).

    Returns
    -------
    pd.DataFrame
        Index ``channel``; columns ``spend, contribution_mean, contribution_hdi_low,
        contribution_hdi_high, roi_mean, roi_hdi_low, roi_hdi_high, mroi_mean,
        mroi_hdi_low, mroi_hdi_high, contribution_share, share_of_media,
        share_of_media_hdi_low, share_of_media_hdi_high``.
    """
    contrib = contribution_samples(model)
    roi = roi_samples(model)
    share_media = contrib / contrib.sum("channel")
    total_kpi = float(model.data_.frame["kpi"].sum())
    mroi = _mroi_samples(model) if marginal else None
    rows = []
    for ch in model.data_.channels:
        c = contrib.sel(channel=ch).values
        r = roi.sel(channel=ch).values
        s = share_media.sel(channel=ch).values
        row: dict[str, Any] = {
            "channel": ch,
            "spend": float(model.data_.spend_totals()[ch]),
            "contribution_mean": float(c.mean()),
            "contribution_hdi_low": _hdi(c)[0],
            "contribution_hdi_high": _hdi(c)[1],
            "roi_mean": float(r.mean()),
            "roi_hdi_low": _hdi(r)[0],
            "roi_hdi_high": _hdi(r)[1],
        }
        if mroi is not None:
            m = mroi.sel(channel=ch).values
            row.update(mroi_mean=float(np.nanmean(m)), mroi_hdi_low=_hdi(m)[0], mroi_hdi_high=_hdi(m)[1])
        row.update(
            contribution_share=float(c.mean()) / total_kpi,
            share_of_media=float(s.mean()),
            share_of_media_hdi_low=_hdi(s)[0],
            share_of_media_hdi_high=_hdi(s)[1],
        )
        rows.append(row)
    return pd.DataFrame(rows).set_index("channel")


def decomposition(model: MediaMixModel) -> pd.DataFrame:
    """Posterior-mean contribution of every component per period (KPI units, summed over geos).

    Components: ``baseline`` (intercept), one per channel, one per control, ``trend``
    (linear or piecewise), ``seasonality``; plus the ``observed`` KPI. The
    components add up to the model's mean prediction.

    Returns
    -------
    pd.DataFrame
        Long table ``date, component, kind, contribution`` (``kind`` is ``media``,
        ``control``, ``trend``, ``seasonality``, ``baseline`` or ``observed``).
    """
    model._check_fitted()
    post = model.idata_.posterior
    scale = model.target_scale_()

    def mean_over(var: str) -> xr.DataArray:
        da = (post[var] * scale).mean(("chain", "draw"))
        return da.sum("geo") if "geo" in da.dims else da

    parts: list[pd.DataFrame] = []

    def add(da: xr.DataArray, component: str, kind: str) -> None:
        if "date" not in da.dims:
            da = da.expand_dims(date=post["date"].values)
        parts.append(pd.DataFrame({"date": pd.DatetimeIndex(da["date"].values), "component": component,
                                   "kind": kind, "contribution": da.transpose("date").to_numpy()}))

    inter = mean_over("intercept_contribution")
    add(inter, "baseline", "baseline")
    cc = mean_over("channel_contribution")
    for ch in cc["channel"].values:
        add(cc.sel(channel=ch), str(ch), "media")
    if "control_contribution" in post:
        # Controls enter the model standardised (centred), so their raw contributions
        # sum to zero. Re-express each against a natural reference level (0 for a
        # control whose range holds 0, e.g. holiday flags; the first period for the
        # trend; the mean otherwise) and move the constant into the baseline.
        ctl = mean_over("control_contribution")
        gamma = (post["gamma_control"] * scale).mean(("chain", "draw"))
        frame = model.data_.frame
        shift = 0.0
        for c in ctl["control"].values:
            c = str(c)
            m, sd = model.control_scaling_.mean[c], model.control_scaling_.sd[c]
            if c == TREND_CONTROL:
                ref = 0.0
            else:
                ref = 0.0 if frame[c].min() <= 0 <= frame[c].max() else m
            g = gamma.sel(control=c)
            offset = g * (ref - m) / sd
            if "geo" in offset.dims:
                offset = offset.sum("geo")
            shift = shift + offset
            add(ctl.sel(control=c) - offset, "trend" if c == TREND_CONTROL else c,
                "trend" if c == TREND_CONTROL else "control")
        parts[0]["contribution"] = parts[0]["contribution"] + float(shift)
    for var in post.data_vars:
        if str(var).endswith("_effect_contribution"):
            add(mean_over(str(var)), "trend", "trend")
    if "yearly_seasonality_contribution" in post:
        add(mean_over("yearly_seasonality_contribution"), "seasonality", "seasonality")
    obs = model.data_.frame.groupby("date")["kpi"].sum()
    parts.append(pd.DataFrame({"date": obs.index, "component": "observed", "kind": "observed",
                               "contribution": obs.to_numpy()}))
    return pd.concat(parts, ignore_index=True)


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
            rows.append(pd.DataFrame({"channel": ch, "spend": self.spend[ch], "mean": samples.mean(0),
                                      "hdi_low": hdi[:, 0], "hdi_high": hdi[:, 1],
                                      "current_spend": float(self.current_spend[ch])}))
        return pd.concat(rows, ignore_index=True)


def response_curve_samples(model: MediaMixModel, n_points: int = 41, max_multiple: float = 2.0,
                           num_samples: int = 300, random_seed: int = 0) -> ResponseCurves:
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curve = model.mmm_.sample_saturation_curve(max_value=scaled_max, num_points=400, num_samples=num_samples,
                                                   random_state=random_seed, original_scale=True)
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


def response_curves(model: MediaMixModel, n_points: int = 41, max_multiple: float = 2.0,
                    num_samples: int = 300, random_seed: int = 0) -> pd.DataFrame:
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
    per_channel = pd.DataFrame({
        "current_spend": current,
        "plan_spend": plan_full,
        "kpi_current": {ch: float(d.mean()) for ch, d in draws_current.items()},
        "kpi_plan": {ch: float(d.mean()) for ch, d in draws_plan.items()},
    })
    per_channel.insert(2, "change_pct", (per_channel["plan_spend"] / per_channel["current_spend"] - 1) * 100)
    per_channel.index.name = "channel"
    return PlanComparison(
        channels=per_channel, spend_current=float(current.sum()), spend_plan=float(plan_full.sum()),
        kpi_current=float(r_cur.mean()), kpi_plan=float(r_plan.mean()), gain_mean=float(gain.mean()),
        gain_hdi_low=lo, gain_hdi_high=hi, prob_gain_positive=float((gain > 0).mean()),
    )


def prior_posterior_shift(model: MediaMixModel, samples: int = 500, random_seed: int = 0) -> pd.DataFrame:
    """How much the data (and lift tests) moved each channel's ROI away from the prior.

    Samples the prior (once; kept in ``idata.prior``) and compares prior and
    posterior ROI per channel.

    Returns
    -------
    pd.DataFrame
        Index ``channel``; ``prior_mean, prior_hdi_low, prior_hdi_high, posterior_mean,
        posterior_hdi_low, posterior_hdi_high, shift_in_prior_sd`` (posterior mean minus
        prior mean, in prior standard deviations) and ``contraction`` (1 - posterior
        variance / prior variance: near 1 = the data pinned the ROI down, near 0 = the
        prior still dominates).
    """
    model._check_fitted()
    idata = model.idata_
    if "prior" not in idata or "channel_contribution" not in idata.prior:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.mmm_.sample_prior_predictive(model.X_, model.data_.frame["kpi"].rename("kpi"), samples=samples,
                                               extend_idata=True, random_seed=random_seed)
    prior = roi_samples(model, "prior")
    post = roi_samples(model, "posterior")
    rows = []
    for ch in model.data_.channels:
        p = prior.sel(channel=ch).values.ravel()
        q = post.sel(channel=ch).values.ravel()
        p_sd = float(np.std(p))
        rows.append({
            "channel": ch,
            "prior_mean": float(np.mean(p)), "prior_hdi_low": _hdi(p)[0], "prior_hdi_high": _hdi(p)[1],
            "posterior_mean": float(np.mean(q)), "posterior_hdi_low": _hdi(q)[0], "posterior_hdi_high": _hdi(q)[1],
            "shift_in_prior_sd": (float(np.mean(q)) - float(np.mean(p))) / p_sd if p_sd > 0 else float("nan"),
            "contraction": 1.0 - float(np.var(q)) / float(np.var(p)) if p_sd > 0 else float("nan"),
        })
    return pd.DataFrame(rows).set_index("channel")


# ---------------------------------------------------------------------------- budget
class BudgetConfig(GalaxyConfig):
    """Budget optimisation settings.

    Parameters
    ----------
    horizon_periods
        Length of the plan in periods (13 weeks = a quarter).
    total_budget
        Money to spend over the horizon across all channels. 0 means "the current
        rate": mean spend per period in the data times ``horizon_periods``.
    floor, cap
        Default bounds of every channel, as multiples of its current spend per
        period (0.5 = may be cut to half, 2.0 = may double).
    channel_bounds
        Per-channel ``[floor, cap]`` multiples overriding the defaults, e.g.
        ``{"tv": [0.8, 1.2]}``.
    """

    horizon_periods: int = Field(13, ge=1, le=520)
    total_budget: float = Field(0.0, ge=0)
    floor: float = Field(0.5, ge=0)
    cap: float = Field(2.0, gt=0)
    channel_bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)

    @field_validator("channel_bounds")
    @classmethod
    def _bounds(cls, v: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for ch, (lo, hi) in v.items():
            if lo < 0 or hi <= 0 or lo > hi:
                raise ValueError(f"channel_bounds[{ch!r}] = [{lo}, {hi}] must satisfy 0 <= floor <= cap, cap > 0")
        return v


@dataclass(frozen=True)
class BudgetResult:
    """Outcome of :func:`optimise_budget`.

    Attributes
    ----------
    allocation
        Index ``channel``: ``current_per_period``, ``optimal_per_period``,
        ``current_total``, ``optimal_total`` (over the horizon), ``change_pct``,
        ``floor_per_period``, ``cap_per_period``, ``at_bound``.
    total_budget
        Money allocated over the horizon.
    horizon_periods
        Plan length.
    response_current, response_optimal
        Posterior mean media-driven KPI over the horizon (carry-over included) for
        the current split and the optimal split of the same total.
    gain_mean, gain_hdi_low, gain_hdi_high
        Expected extra KPI of the optimal split over the current one, with its 94% HDI
        (paired draws: the same posterior draw evaluates both splits).
    prob_gain_positive
        Posterior probability that the optimal split beats the current one.
    success, message
        Whether a feasible split (total met, every channel within its floor and cap) was
        found, and SciPy SLSQP's own status message.
    """

    allocation: pd.DataFrame
    total_budget: float
    horizon_periods: int
    response_current: float
    response_optimal: float
    gain_mean: float
    gain_hdi_low: float
    gain_hdi_high: float
    prob_gain_positive: float
    success: bool
    message: str

    @property
    def gain_pct(self) -> float:
        """Expected gain as a share of the current split's response."""
        return self.gain_mean / self.response_current if self.response_current else float("nan")

    def to_metrics(self) -> dict[str, Any]:
        """The recommended allocation and the expected gain, for metrics.json."""
        return {
            "horizon_periods": self.horizon_periods,
            "total_budget": self.total_budget,
            "recommended_allocation": {ch: float(v) for ch, v in self.allocation["optimal_total"].items()},
            "current_allocation": {ch: float(v) for ch, v in self.allocation["current_total"].items()},
            "expected_response_current": self.response_current,
            "expected_response_optimal": self.response_optimal,
            "expected_gain_mean": self.gain_mean,
            "expected_gain_hdi_low": self.gain_hdi_low,
            "expected_gain_hdi_high": self.gain_hdi_high,
            "expected_gain_pct": self.gain_pct,
            "prob_gain_positive": self.prob_gain_positive,
            "optimizer_success": self.success,
            "optimizer_message": self.message,
        }


def _future_dates(model: MediaMixModel, periods: int) -> pd.DatetimeIndex:
    last = model.data_.dates[-1]
    step = pd.tseries.frequencies.to_offset(model.data_.freq)
    return pd.date_range(last + step, periods=periods, freq=step)


def _current_cells(model: MediaMixModel) -> pd.Series:
    """Mean spend per period of every budget cell (channel, or (channel, geo))."""
    data = model.data_
    if data.is_geo:
        per_geo = data.frame.groupby("geo")[list(data.channels)].sum() / data.n_periods
        return per_geo.T.stack().rename_axis(["channel", "geo"])
    return data.mean_period_spend().rename_axis("channel")


def _as_cells_array(cells: pd.Series, is_geo: bool) -> xr.DataArray:
    if is_geo:
        return xr.DataArray.from_series(cells).transpose("channel", "geo")
    return xr.DataArray(cells.to_numpy(), dims="channel", coords={"channel": list(cells.index)})


def _response_samples(wrapper: Any, cells: pd.Series, is_geo: bool) -> np.ndarray:
    """Media-driven KPI over the horizon (+ carry-over) per posterior draw for a per-period allocation."""
    da = _as_cells_array(cells, is_geo)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resp = wrapper.sample_response_distribution(allocation_strategy=da, noise_level=1e-9)
    return np.asarray(resp["total_media_contribution_original_scale"]).ravel()


def optimise_budget(model: MediaMixModel, config: BudgetConfig | None = None) -> BudgetResult:
    """Find the split of a total budget that maximises the expected media-driven KPI.

    Uses pymc-marketing's ``BudgetOptimizer`` (SLSQP on the posterior-mean response,
    spend held flat over the horizon, carry-over after it counted) within per-channel
    floors and caps, then evaluates the current and the optimal split on every
    posterior draw to give the expected gain with its uncertainty.

    Parameters
    ----------
    model
        Fitted model.
    config
        Horizon, total budget and bounds.

    Raises
    ------
    MMMDataError
        When bounds name unknown channels or cannot hold the total budget.
    """
    from pymc_marketing.mmm.multidimensional import MultiDimensionalBudgetOptimizerWrapper

    cfg = config or BudgetConfig()
    model._check_fitted()
    data = model.data_
    unknown = sorted(set(cfg.channel_bounds) - set(data.channels))
    if unknown:
        raise MMMDataError(f"budget channel_bounds name unknown channel(s) {unknown}; channels are {list(data.channels)}.")
    cells = _current_cells(model)
    current_total_per_period = float(cells.sum())
    per_period = cfg.total_budget / cfg.horizon_periods if cfg.total_budget > 0 else current_total_per_period
    # Current split scaled to the same total, so the comparison is like for like.
    current = cells * (per_period / current_total_per_period)
    lo_mult = pd.Series({ch: cfg.channel_bounds.get(ch, (cfg.floor, cfg.cap))[0] for ch in data.channels})
    hi_mult = pd.Series({ch: cfg.channel_bounds.get(ch, (cfg.floor, cfg.cap))[1] for ch in data.channels})
    ch_index = cells.index.get_level_values("channel") if data.is_geo else cells.index
    lower = current * lo_mult.reindex(ch_index).to_numpy()
    upper = current * hi_mult.reindex(ch_index).to_numpy()
    if lower.sum() > per_period * (1 + 1e-9) or upper.sum() < per_period * (1 - 1e-9):
        raise MMMDataError(
            f"budget bounds cannot hold the budget: floors sum to {lower.sum():,.0f} and caps to {upper.sum():,.0f} "
            f"per period, the budget is {per_period:,.0f} per period. Widen floor/cap or change total_budget."
        )
    dates = _future_dates(model, cfg.horizon_periods)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapper = MultiDimensionalBudgetOptimizerWrapper(model=model.mmm_, start_date=str(dates[0].date()),
                                                         end_date=str(dates[-1].date()))
        if data.is_geo:
            bounds = xr.DataArray(
                np.stack([lower.to_numpy(), upper.to_numpy()], axis=-1),
                dims=("cell", "bound"), coords={"cell": lower.index, "bound": ["lower", "upper"]},
            ).unstack("cell").transpose("channel", "geo", "bound")
        else:
            bounds = xr.DataArray(np.stack([lower.to_numpy(), upper.to_numpy()], axis=-1), dims=("channel", "bound"),
                                  coords={"channel": list(lower.index), "bound": ["lower", "upper"]})
        # Start from the current split (feasible by construction). SLSQP often stops with
        # "Positive directional derivative for linesearch" once channels sit on their bounds;
        # the split is then checked below instead of trusting the status flag.
        budget_dims = [d for d in model.idata_.constant_data["channel_data"].dims if d != "date"]
        x0 = _as_cells_array(current, data.is_geo).transpose(*budget_dims).to_numpy().ravel()
        optimal_da, res = wrapper.optimize_budget(budget=per_period, budget_bounds=bounds, x0=x0,
                                                  return_if_fail=True)
    if data.is_geo:
        optimal = optimal_da.to_series().reorder_levels(["channel", "geo"]).reindex(current.index)
    else:
        optimal = optimal_da.to_series().reindex(current.index)
    tol = 1e-4 * per_period
    feasible = bool(
        np.isfinite(optimal).all() and abs(optimal.sum() - per_period) <= tol
        and (optimal >= lower - tol).all() and (optimal <= upper + tol).all()
    )
    message = f"SLSQP: {res.message}"
    if not feasible:
        message = f"no feasible split found ({res.message}); the current split is kept"
        optimal = current.copy()
    r_cur = _response_samples(wrapper, current, data.is_geo)
    r_opt = _response_samples(wrapper, optimal, data.is_geo)
    gain = r_opt - r_cur
    lo_g, hi_g = _hdi(gain)

    def by_channel(s: pd.Series) -> pd.Series:
        return s.groupby(level="channel").sum().reindex(list(data.channels)) if data.is_geo else s.reindex(list(data.channels))

    cur_c, opt_c, lo_c, hi_c = by_channel(current), by_channel(optimal), by_channel(lower), by_channel(upper)
    alloc = pd.DataFrame({
        "current_per_period": cur_c,
        "optimal_per_period": opt_c,
        "current_total": cur_c * cfg.horizon_periods,
        "optimal_total": opt_c * cfg.horizon_periods,
        "change_pct": (opt_c / cur_c - 1) * 100,
        "floor_per_period": lo_c,
        "cap_per_period": hi_c,
    })
    tol = 1e-3 * per_period
    alloc["at_bound"] = np.where(np.isclose(opt_c, lo_c, atol=tol), "floor",
                                 np.where(np.isclose(opt_c, hi_c, atol=tol), "cap", ""))
    alloc.index.name = "channel"
    return BudgetResult(
        allocation=alloc, total_budget=per_period * cfg.horizon_periods, horizon_periods=cfg.horizon_periods,
        response_current=float(r_cur.mean()), response_optimal=float(r_opt.mean()),
        gain_mean=float(gain.mean()), gain_hdi_low=lo_g, gain_hdi_high=hi_g,
        prob_gain_positive=float((gain > 0).mean()), success=feasible, message=message,
    )


# ---------------------------------------------------------------------------- forecast
def spend_plan(model: MediaMixModel, periods: int, per_period: pd.Series | dict[str, float] | None = None) -> pd.DataFrame:
    """A flat future spend plan (one row per future period, and geo).

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
    dates = _future_dates(model, periods)
    if not data.is_geo:
        return pd.DataFrame({"date": dates, **{c: float(spend[c]) for c in data.channels}})
    share = data.frame.groupby("geo")[list(data.channels)].sum()
    share = share / share.sum()
    rows = [{"date": d, "geo": g, **{c: float(spend[c] * share.loc[g, c]) for c in data.channels}}
            for d in dates for g in data.geos]
    return pd.DataFrame(rows)


def forecast(model: MediaMixModel, plan: pd.DataFrame, random_seed: int = 0) -> pd.DataFrame:
    """Expected KPI for a planned spend (periods after the data), with 94% intervals.

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
            f"the forecast plan starts on or before the last data period ({last.date()}); plan periods must be in the future."
        )
    X = model.design(plan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = model.mmm_.sample_posterior_predictive(X, extend_idata=False, combined=True, include_last_observations=True,
                                                   progressbar=False, random_seed=random_seed)
    if isinstance(y, xr.Dataset):
        y = y["y"]
    y = y * model.target_scale_()
    if "geo" in y.dims:
        y = y.sum("geo")
    samples = y.transpose("date", "sample").values
    hdi = az.hdi(samples.T[None, ...], hdi_prob=HDI_PROB)
    return pd.DataFrame({"date": pd.DatetimeIndex(y["date"].values), "kpi_mean": samples.mean(1),
                         "kpi_hdi_low": hdi[:, 0], "kpi_hdi_high": hdi[:, 1]})


# ---------------------------------------------------------------------------- truth
def recovery_against_truth(summary: pd.DataFrame, true_roi: dict[str, float]) -> dict[str, Any]:
    """Compare estimated ROI with known true ROI (the Galaxy world's ground truth).

    Parameters
    ----------
    summary
        Output of :func:`channel_summary`.
    true_roi
        Channel -> true ROI.

    Returns
    -------
    dict
        ``covered`` (channels whose 94% HDI holds the truth), ``n_covered``,
        ``n_channels``, ``roi_mape``, and per channel ``true_roi`` / ``ape``.
    """
    missing = [c for c in summary.index if c not in true_roi]
    if missing:
        raise KeyError(f"no true ROI for channel(s) {missing}")
    per = {}
    for ch, row in summary.iterrows():
        t = float(true_roi[ch])
        per[ch] = {"true_roi": t, "roi_mean": float(row["roi_mean"]),
                   "covered": bool(row["roi_hdi_low"] <= t <= row["roi_hdi_high"]),
                   "ape": abs(float(row["roi_mean"]) - t) / abs(t)}
    return {
        "n_channels": len(per),
        "n_covered": sum(v["covered"] for v in per.values()),
        "covered": [c for c, v in per.items() if v["covered"]],
        "roi_mape": float(np.mean([v["ape"] for v in per.values()])),
        "channels": per,
    }
