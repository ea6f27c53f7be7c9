"""Media mix world: weekly spend per channel and geo, and the revenue it causes.

Mechanism (this is exactly what :func:`simulate_mmm` computes and what
``ground_truth["mmm"]`` records)
-----------------------------------------------------------------------------

Notation: channel ``c`` in ``MMM_CHANNELS``, geo ``g`` with population share
``s_g`` (sums to 1), week ``t``; ``S[c,g,t]`` is the spend in the stored ``spend``
table (rounded to cents *before* anything is computed from it).

1. **Spend.** A national weekly series per channel with its own pattern:
   ``tv`` and ``video`` run in flights (on for a few weeks, dark for a few, so
   they have zero weeks), ``search`` is always on and follows demand (rises
   while TV is on: correlated, not collinear; occasional budget cuts), ``social`` is always on with
   promotional bursts, ``display`` drifts with budget shifts and short pauses.
   All share a mild Q4 seasonal lift. Each geo gets ``s_g`` times the national
   spend times independent log-normal noise (sd 0.08). Geo lift tests then change
   the spend of one geo-channel for a few weeks (see :mod:`.lift`).
2. **Adstock.** Geometric, normalised, ``l_max = 8``, zero spend before week 0
   (pymc-marketing's ``GeometricAdstock(l_max=8, normalize=True)``)::

       A[c,g,t] = sum_{l=0}^{7} w_l S[c,g,t-l],   w_l = alpha_c**l / sum_{j=0}^{7} alpha_c**j

3. **Saturation.** Logistic on spend scaled by ``K_c = max_t sum_g S[c,g,t]`` (the
   national weekly maximum, as pymc-marketing max-scales each channel)::

       contribution[c,g,t] = beta_c * s_g * logistic(lam_c * A[c,g,t] / (s_g * K_c))
       logistic(x) = (1 - exp(-x)) / (1 + exp(-x))

   The geo share inside and outside the curve makes the geo curves add up to the
   national curve: when every geo's spend is ``s_g`` times the national spend,
   ``sum_g contribution = beta_c * logistic(lam_c * A_national / K_c)`` exactly; the
   small geo noise and the lift tests make that an approximation, which is what a
   national MMM fitted on the summed data faces.
4. **beta** is solved so that the channel's ROI is the chosen value::

       beta_c = roi_c * sum S[c] / sum_{g,t} s_g * logistic(...)      (so ROI_c is exact)

5. **Baseline** (national, split by ``s_g``)::

       B[t] = intercept + trend * t / (T - 1) + sum_k (a_k sin_k(t) + b_k cos_k(t))
              + price_coef * (price_index[t] - 1) + holiday_effect * holiday[t]

   with the yearly Fourier basis of :mod:`.calendar`. ``price_index`` is national
   (identical in every geo) and its coefficient is negative.
6. **Revenue**: ``revenue[g,t] = s_g B[t] + sum_c contribution[c,g,t] + e[g,t]``,
   ``e ~ Normal(0, sigma * sqrt(s_g))`` so the national noise has sd ``sigma``
   (``noise_pct`` of mean revenue). ``conversions = round(revenue / aov[g,t])``.
7. **Impressions and clicks** follow spend through a per-channel CPM and CTR with
   log-normal noise (TV has no clicks).

ROI of a channel = ``sum_{g,t} contribution[c,g,t] / sum_{g,t} S[c,g,t]``.

Relation to pymc-marketing's parametrisation
--------------------------------------------
pymc-marketing divides each channel by its maximum over dates (``K_c`` above
when fitted on the national total) and the target by its maximum
(``target_scale = max_t sum_g revenue[g,t]``, recorded in
``ground_truth["mmm"]["pymc_marketing"]``). Its ``saturation_lam`` is therefore
our ``lam_c`` and its ``saturation_beta`` is ``beta_c / target_scale``; its
``adstock_alpha`` is our ``alpha_c``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from galaxy_lib.core.contracts import MMM_CHANNELS
from galaxy_lib.simulate._util import rng_for
from galaxy_lib.simulate.calendar import fourier_basis, holiday_flags, week_starts
from galaxy_lib.simulate.config import WorldConfig

__all__ = [
    "CHANNEL_PARAMS",
    "L_MAX",
    "MmmWorld",
    "channel_contributions",
    "geometric_adstock",
    "logistic_saturation",
    "simulate_mmm",
]

L_MAX: int = 8

#: True mechanism per channel: mean weekly national spend, ROI, adstock alpha,
#: saturation lam (on max-scaled spend), CPM and CTR for impressions and clicks.
CHANNEL_PARAMS: dict[str, dict[str, float]] = {
    "tv": {"mean_spend": 70_000.0, "roi": 1.5, "alpha": 0.6, "lam": 2.0, "cpm": 8.0, "ctr": 0.0},
    "search": {"mean_spend": 50_000.0, "roi": 0.9, "alpha": 0.1, "lam": 1.5, "cpm": 40.0, "ctr": 0.04},
    "social": {"mean_spend": 40_000.0, "roi": 2.2, "alpha": 0.3, "lam": 2.5, "cpm": 6.0, "ctr": 0.009},
    "display": {"mean_spend": 35_000.0, "roi": 1.2, "alpha": 0.4, "lam": 1.6, "cpm": 2.5, "ctr": 0.002},
    "video": {"mean_spend": 30_000.0, "roi": 3.0, "alpha": 0.5, "lam": 3.0, "cpm": 14.0, "ctr": 0.004},
}

#: Target share of revenue driven by the paid channels together.
MEDIA_SHARE: float = 0.40
#: Baseline components relative to the intercept.
BASELINE_RELATIVE: dict[str, float] = {
    "trend": 0.08,
    "sin_1": 0.06,
    "cos_1": 0.05,
    "sin_2": 0.02,
    "cos_2": -0.015,
    "price_coef": -0.8,
    "holiday_effect": 0.10,
}
AOV: float = 85.0


def geometric_adstock(x: np.ndarray, alpha: float, l_max: int = L_MAX, normalize: bool = True) -> np.ndarray:
    """Geometric adstock along the last axis with zero padding before the first week.

    Written with NumPy (not pymc-marketing's tensor version) because the simulator
    needs plain arrays and the truth must not depend on a model library; the test
    suite checks it against ``pymc_marketing.mmm.transformers.geometric_adstock``.
    """
    w = alpha ** np.arange(l_max)
    if normalize:
        w = w / w.sum()
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    n = x.shape[-1]
    for lag in range(min(l_max, n)):
        out[..., lag:] += w[lag] * x[..., : n - lag]
    return out


def logistic_saturation(x: np.ndarray, lam: float) -> np.ndarray:
    """``(1 - exp(-lam x)) / (1 + exp(-lam x))`` (pymc-marketing's ``logistic_saturation``)."""
    e = np.exp(-lam * np.asarray(x, dtype=float))
    return (1 - e) / (1 + e)


def channel_contributions(
    spend: np.ndarray,
    geo_shares: np.ndarray,
    alpha: float,
    lam: float,
    beta: float,
    spend_scale: float,
    l_max: int = L_MAX,
) -> np.ndarray:
    """Contribution of one channel per geo and week (the mechanism of the module docstring).

    Parameters
    ----------
    spend
        Shape ``(n_geos, n_weeks)``.
    geo_shares
        Shape ``(n_geos,)``.
    alpha, lam, beta
        Adstock decay, saturation steepness and scale.
    spend_scale
        ``K_c``: maximum national weekly spend of the channel.
    """
    s = np.asarray(geo_shares, dtype=float)[:, None]
    a = geometric_adstock(spend, alpha, l_max)
    return beta * s * logistic_saturation(a / (s * spend_scale), lam)


@dataclass(frozen=True)
class MmmWorld:
    """The weekly media world (arrays indexed ``[channel, geo, week]`` in ``MMM_CHANNELS`` order)."""

    weeks: pd.DatetimeIndex
    geos: tuple[str, ...]
    geo_shares: np.ndarray
    spend: np.ndarray
    impressions: np.ndarray
    clicks: np.ndarray
    contributions: np.ndarray
    baseline: np.ndarray  # [geo, week]
    noise: np.ndarray  # [geo, week]
    revenue: np.ndarray  # [geo, week]
    conversions: np.ndarray  # [geo, week]
    price_index: np.ndarray  # [week]
    holiday: np.ndarray  # [week]
    lift_tests: pd.DataFrame
    lift_truth: list[dict]
    truth: dict = field(repr=False)

    def spend_table(self) -> pd.DataFrame:
        """Long ``spend`` table: week, geo, channel, spend, impressions, clicks."""
        nc, ng, nt = self.spend.shape
        idx = np.indices((nc, ng, nt)).reshape(3, -1)
        return pd.DataFrame(
            {
                "week": self.weeks[idx[2]],
                "geo": np.asarray(self.geos, dtype=object)[idx[1]],
                "channel": np.asarray(MMM_CHANNELS, dtype=object)[idx[0]],
                "spend": self.spend.reshape(-1),
                "impressions": self.impressions.reshape(-1),
                "clicks": self.clicks.reshape(-1),
            }
        ).sort_values(["week", "geo", "channel"], kind="stable", ignore_index=True)

    def kpi_table(self) -> pd.DataFrame:
        """Long ``kpi`` table: week, geo, revenue, conversions, price_index, holiday."""
        ng, nt = self.revenue.shape
        g, t = np.indices((ng, nt)).reshape(2, -1)
        return pd.DataFrame(
            {
                "week": self.weeks[t],
                "geo": np.asarray(self.geos, dtype=object)[g],
                "revenue": self.revenue.reshape(-1),
                "conversions": self.conversions.reshape(-1),
                "price_index": self.price_index[t],
                "holiday": self.holiday[t],
            }
        ).sort_values(["week", "geo"], kind="stable", ignore_index=True)


def _flights(rng: np.random.Generator, n: int, on: tuple[int, int], off: tuple[int, int]) -> np.ndarray:
    """0/1 flighting pattern: alternate runs of on and off weeks of random length."""
    out = np.zeros(n)
    t = 0
    state = rng.random() < 0.5
    while t < n:
        length = int(rng.integers(*on) if state else rng.integers(*off))
        out[t : t + length] = 1.0 if state else 0.0
        t += length
        state = not state
    return out


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    e = rng.normal(0, sd, n)
    out = np.empty(n)
    out[0] = e[0] / np.sqrt(1 - phi**2)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + e[t]
    return out


def _national_spend(rng: np.random.Generator, weeks: pd.DatetimeIndex) -> np.ndarray:
    n = len(weeks)
    woy = weeks.isocalendar().week.to_numpy().astype(float)
    q4 = np.exp(-0.5 * ((woy - 48) / 3.5) ** 2)
    season = 1 + 0.35 * q4 + 0.08 * np.sin(2 * np.pi * (woy - 10) / 52.18)

    tv_on = _flights(rng, n, on=(3, 8), off=(2, 7))
    # one level per flight: hold the level constant within a run of on weeks
    run_id = np.cumsum(np.r_[1, np.diff(tv_on) != 0])
    tv_level = np.exp(rng.normal(0, 0.35, run_id.max() + 1))[run_id]
    tv = tv_on * tv_level * season**1.5 * rng.lognormal(0, 0.1, n)

    video_on = np.maximum(_flights(rng, n, on=(2, 6), off=(2, 6)), tv_on * (rng.random(n) < 0.25))
    vid_run = np.cumsum(np.r_[1, np.diff(video_on) != 0])
    video = video_on * np.exp(rng.normal(0, 0.4, vid_run.max() + 1))[vid_run] * season * rng.lognormal(0, 0.12, n)

    budget_cut = np.where(rng.random(n) < 0.06, 0.4, 1.0)
    search = np.exp(_ar1(rng, n, 0.8, 0.25)) * season**1.2 * (1 + 0.2 * tv_on) * budget_cut * rng.lognormal(0, 0.12, n)

    bursts = np.where(rng.random(n) < 0.12, 1.7, 1.0)
    social = np.exp(_ar1(rng, n, 0.85, 0.22)) * bursts * season * rng.lognormal(0, 0.1, n)

    steps = np.exp(np.cumsum(np.where(rng.random(n) < 0.06, rng.normal(0, 0.4, n), 0.0)))
    steps = steps / np.exp(np.log(steps).mean())
    paused = np.zeros(n)
    for start in np.flatnonzero(rng.random(n) < 0.04):
        paused[start : start + int(rng.integers(1, 4))] = 1
    display = np.exp(_ar1(rng, n, 0.9, 0.2)) * steps * (1 - paused) * season**0.5 * rng.lognormal(0, 0.1, n)

    series = {"tv": tv, "search": search, "social": social, "display": display, "video": video}
    out = np.empty((len(MMM_CHANNELS), n))
    for i, c in enumerate(MMM_CHANNELS):
        x = series[c]
        out[i] = x * CHANNEL_PARAMS[c]["mean_spend"] / x.mean()
    return out


def simulate_mmm(config: WorldConfig) -> MmmWorld:
    """Simulate the weekly media world of ``config`` (see the module docstring for the mechanism)."""
    from galaxy_lib.simulate.lift import apply_lift_tests, design_lift_tests, measure_lift_tests

    rng = rng_for(config.seed, "mmm")
    weeks = week_starts(config.start_week, config.n_weeks)
    n_weeks = len(weeks)
    shares = np.asarray(config.geo_shares, dtype=float)
    n_geos = len(shares)

    national = _national_spend(rng, weeks)
    geo_noise = rng.lognormal(0, 0.08, (len(MMM_CHANNELS), n_geos, n_weeks))
    base_spend = np.round(national[:, None, :] * shares[None, :, None] * geo_noise, 2)

    design = design_lift_tests(rng_for(config.seed, "lift"), base_spend, config)
    spend = apply_lift_tests(base_spend, design)

    channel_truth: dict[str, dict[str, float]] = {}
    contributions = np.empty_like(spend)
    for i, c in enumerate(MMM_CHANNELS):
        p = CHANNEL_PARAMS[c]
        scale = float(spend[i].sum(axis=0).max())
        unit = channel_contributions(spend[i], shares, p["alpha"], p["lam"], 1.0, scale)
        beta = p["roi"] * spend[i].sum() / unit.sum()
        contributions[i] = beta * unit
        channel_truth[c] = {
            "adstock_alpha": p["alpha"],
            "l_max": L_MAX,
            "lam": p["lam"],
            "beta": float(beta),
            "spend_scale": scale,
        }

    # Baseline, sized so that media drive about MEDIA_SHARE of revenue.
    media_weekly = contributions.sum() / n_weeks
    intercept = float(media_weekly * (1 - MEDIA_SHARE) / MEDIA_SHARE)
    rel = BASELINE_RELATIVE
    fourier = fourier_basis(weeks)
    holiday = holiday_flags(weeks)
    woy = weeks.isocalendar().week.to_numpy().astype(float)
    promo = (rng.random(n_weeks) < 0.10) * -0.06
    price_index = np.round(
        np.clip(
            1 + 0.02 * np.sin(2 * np.pi * (woy + 13) / 52.18) + 0.01 * _ar1(rng, n_weeks, 0.6, 0.8) + promo, 0.85, 1.15
        ),
        4,
    )
    coefs = {k: v * intercept for k, v in rel.items()}
    t_rel = np.arange(n_weeks) / (n_weeks - 1)
    national_baseline = (
        intercept
        + coefs["trend"] * t_rel
        + fourier @ np.array([coefs["sin_1"], coefs["cos_1"], coefs["sin_2"], coefs["cos_2"]])
        + coefs["price_coef"] * (price_index - 1)
        + coefs["holiday_effect"] * holiday
    )
    baseline = shares[:, None] * national_baseline[None, :]
    expected = baseline + contributions.sum(axis=0)
    sigma = config.noise_pct * float(expected.sum(axis=0).mean())
    noise = rng.normal(0, 1, (n_geos, n_weeks)) * sigma * np.sqrt(shares)[:, None]
    revenue = np.round(np.maximum(expected + noise, 0.0), 2)
    aov = AOV * rng.lognormal(0, 0.03, (n_geos, n_weeks))
    conversions = np.round(revenue / aov)

    cpm = np.array([CHANNEL_PARAMS[c]["cpm"] for c in MMM_CHANNELS])[:, None, None]
    ctr = np.array([CHANNEL_PARAMS[c]["ctr"] for c in MMM_CHANNELS])[:, None, None]
    impressions = np.round(spend / cpm * 1000 * rng.lognormal(0, 0.1, spend.shape))
    clicks = np.round(impressions * ctr * rng.lognormal(0, 0.15, spend.shape))

    lift, lift_truth = measure_lift_tests(
        rng_for(config.seed, "lift-measure"),
        design,
        base_spend,
        spend,
        shares,
        tuple(config.geos),
        channel_truth,
        weeks,
    )

    total_revenue = float(revenue.sum())
    for i, c in enumerate(MMM_CHANNELS):
        total_spend = float(spend[i].sum())
        total_contrib = float(contributions[i].sum())
        channel_truth[c].update(
            roi=total_contrib / total_spend,
            total_spend=total_spend,
            total_contribution=total_contrib,
            contribution_share=total_contrib / total_revenue,
            mean_weekly_spend=total_spend / n_weeks,
            zero_spend_weeks=int((spend[i].sum(axis=0) == 0).sum()),
        )
    target_scale = float(revenue.sum(axis=0).max())
    truth = {
        "kpi": "revenue",
        "adstock": "geometric",
        "adstock_normalize": True,
        "saturation": "logistic",
        "l_max": L_MAX,
        "channels": channel_truth,
        "baseline": {
            "intercept": intercept,
            "trend": coefs["trend"],
            "fourier": {k: coefs[k] for k in ("sin_1", "cos_1", "sin_2", "cos_2")},
            "fourier_period_days": 365.25,
            "price_coef": coefs["price_coef"],
            "holiday_effect": coefs["holiday_effect"],
            "noise_sigma_national": sigma,
            "geo_shares": dict(zip(config.geos, map(float, shares), strict=True)),
            "total_baseline": float(baseline.sum()),
        },
        "media_share": float(contributions.sum() / total_revenue),
        "total_revenue": total_revenue,
        "pymc_marketing": {
            "target_scale": target_scale,
            "channel_scale": {c: channel_truth[c]["spend_scale"] for c in MMM_CHANNELS},
            "saturation_lam": {c: channel_truth[c]["lam"] for c in MMM_CHANNELS},
            "saturation_beta": {c: channel_truth[c]["beta"] / target_scale for c in MMM_CHANNELS},
            "adstock_alpha": {c: channel_truth[c]["adstock_alpha"] for c in MMM_CHANNELS},
            "note": (
                "Fit on the national total (sum over geos): pymc-marketing max-scales each channel "
                "(scale = spend_scale) and the target (scale = target_scale), so its saturation_lam equals "
                "lam and its saturation_beta equals beta / target_scale. Geo noise and lift tests make the "
                "national curve an approximation of the sum of the geo curves."
            ),
        },
        "formula": (
            "revenue[g,t] = s_g*(intercept + trend*t/(T-1) + sum_k a_k sin(2 pi k doy/365.25) + b_k cos(...) "
            "+ price_coef*(price_index[t]-1) + holiday_effect*holiday[t]) "
            "+ sum_c beta_c*s_g*logistic(lam_c*adstock_geometric_norm(spend[c,g], alpha_c, l_max=8)[t]"
            "/(s_g*spend_scale_c)) "
            "+ Normal(0, noise_sigma_national*sqrt(s_g)); logistic(x)=(1-exp(-x))/(1+exp(-x)); "
            "spend_scale_c = max_t sum_g spend[c,g,t]"
        ),
    }
    return MmmWorld(
        weeks=weeks,
        geos=tuple(config.geos),
        geo_shares=shares,
        spend=spend,
        impressions=impressions,
        clicks=clicks,
        contributions=contributions,
        baseline=baseline,
        noise=noise,
        revenue=revenue,
        conversions=conversions,
        price_index=price_index,
        holiday=holiday,
        lift_tests=lift,
        lift_truth=lift_truth,
        truth=truth,
    )
