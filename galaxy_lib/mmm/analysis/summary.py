"""What the fitted model says each channel did.

Contributions, ROI, marginal ROI, shares, the decomposition of the KPI over time,
and how far the data moved each channel's ROI from its prior.

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

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from galaxy_lib.mmm.analysis.intervals import hdi as _hdi
from galaxy_lib.mmm.model import TREND_CONTROL, MediaMixModel
from galaxy_lib.mmm.sampling import quiet_pymc

__all__ = [
    "channel_summary",
    "contribution_samples",
    "decomposition",
    "prior_posterior_shift",
    "roi_samples",
]


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
    return contrib / xr.DataArray(
        spend.reindex(contrib["channel"].values).to_numpy(),
        dims="channel",
        coords={"channel": contrib["channel"].values},
    )


def _mroi_samples(model: MediaMixModel, spend_increase: float = 0.01) -> xr.DataArray:
    inc = model.mmm_.incrementality.compute_incremental_contribution(
        frequency="all_time",
        include_carryover=True,
        counterfactual_spend_factor=1.0 + spend_increase,
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
        parts.append(
            pd.DataFrame(
                {
                    "date": pd.DatetimeIndex(da["date"].values),
                    "component": component,
                    "kind": kind,
                    "contribution": da.transpose("date").to_numpy(),
                }
            )
        )

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
            add(
                ctl.sel(control=c) - offset,
                "trend" if c == TREND_CONTROL else c,
                "trend" if c == TREND_CONTROL else "control",
            )
        parts[0]["contribution"] = parts[0]["contribution"] + float(shift)
    for var in post.data_vars:
        if str(var).endswith("_effect_contribution"):
            add(mean_over(str(var)), "trend", "trend")
    if "yearly_seasonality_contribution" in post:
        add(mean_over("yearly_seasonality_contribution"), "seasonality", "seasonality")
    obs = model.data_.frame.groupby("date")["kpi"].sum()
    parts.append(
        pd.DataFrame({"date": obs.index, "component": "observed", "kind": "observed", "contribution": obs.to_numpy()})
    )
    return pd.concat(parts, ignore_index=True)


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
        with quiet_pymc():
            model.mmm_.sample_prior_predictive(
                model.X_,
                model.data_.frame["kpi"].rename("kpi"),
                samples=samples,
                extend_idata=True,
                random_seed=random_seed,
            )
    prior = roi_samples(model, "prior")
    post = roi_samples(model, "posterior")
    rows = []
    for ch in model.data_.channels:
        p = prior.sel(channel=ch).values.ravel()
        q = post.sel(channel=ch).values.ravel()
        p_sd = float(np.std(p))
        rows.append(
            {
                "channel": ch,
                "prior_mean": float(np.mean(p)),
                "prior_hdi_low": _hdi(p)[0],
                "prior_hdi_high": _hdi(p)[1],
                "posterior_mean": float(np.mean(q)),
                "posterior_hdi_low": _hdi(q)[0],
                "posterior_hdi_high": _hdi(q)[1],
                "shift_in_prior_sd": (float(np.mean(q)) - float(np.mean(p))) / p_sd if p_sd > 0 else float("nan"),
                "contraction": 1.0 - float(np.var(q)) / float(np.var(p)) if p_sd > 0 else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("channel")
