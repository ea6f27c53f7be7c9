"""Budget optimisation: the split of a total budget that maximises the expected KPI.

The split respects per-channel floors and caps; its gain over the current split
is evaluated on every posterior draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field, ValidationInfo, field_validator

from galaxy_lib.core.config import GalaxyConfig
from galaxy_lib.mmm.analysis.forecast import future_dates
from galaxy_lib.mmm.analysis.intervals import hdi as _hdi
from galaxy_lib.mmm.model import MediaMixModel
from galaxy_lib.mmm.sampling import quiet_pymc
from galaxy_lib.mmm.validation import MMMDataError

__all__ = ["BudgetConfig", "BudgetResult", "optimise_budget"]


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
        period (0.5 = may be cut to half, 2.0 = may double); ``cap`` must not be
        below ``floor``.
    channel_bounds
        Per-channel ``[floor, cap]`` multiples overriding the defaults, e.g.
        ``{"tv": [0.8, 1.2]}``.
    """

    horizon_periods: int = Field(13, ge=1, le=520)
    total_budget: float = Field(0.0, ge=0)
    floor: float = Field(0.5, ge=0)
    cap: float = Field(2.0, gt=0)
    channel_bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)

    @field_validator("cap")
    @classmethod
    def _cap_not_below_floor(cls, v: float, info: ValidationInfo) -> float:
        floor = info.data.get("floor")
        if floor is not None and v < floor:
            raise ValueError(
                f"the cap multiple must not be below the floor multiple ({floor}): raise the cap or lower the floor"
            )
        return v

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
        """Return the recommended allocation and the expected gain, for metrics.json."""
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
    with quiet_pymc():
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
        raise MMMDataError(
            f"budget channel_bounds name unknown channel(s) {unknown}; channels are {list(data.channels)}."
        )
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
    dates = future_dates(model, cfg.horizon_periods)
    with quiet_pymc():
        wrapper = MultiDimensionalBudgetOptimizerWrapper(
            model=model.mmm_, start_date=str(dates[0].date()), end_date=str(dates[-1].date())
        )
        if data.is_geo:
            bounds = (
                xr.DataArray(
                    np.stack([lower.to_numpy(), upper.to_numpy()], axis=-1),
                    dims=("cell", "bound"),
                    coords={"cell": lower.index, "bound": ["lower", "upper"]},
                )
                .unstack("cell")
                .transpose("channel", "geo", "bound")
            )
        else:
            bounds = xr.DataArray(
                np.stack([lower.to_numpy(), upper.to_numpy()], axis=-1),
                dims=("channel", "bound"),
                coords={"channel": list(lower.index), "bound": ["lower", "upper"]},
            )
        # Start from the current split (feasible by construction). SLSQP often stops with
        # "Positive directional derivative for linesearch" once channels sit on their bounds;
        # the split is then checked below instead of trusting the status flag.
        budget_dims = [d for d in model.idata_.constant_data["channel_data"].dims if d != "date"]
        x0 = _as_cells_array(current, data.is_geo).transpose(*budget_dims).to_numpy().ravel()
        optimal_da, res = wrapper.optimize_budget(budget=per_period, budget_bounds=bounds, x0=x0, return_if_fail=True)
    if data.is_geo:
        optimal = optimal_da.to_series().reorder_levels(["channel", "geo"]).reindex(current.index)
    else:
        optimal = optimal_da.to_series().reindex(current.index)
    tol = 1e-4 * per_period
    feasible = bool(
        np.isfinite(optimal).all()
        and abs(optimal.sum() - per_period) <= tol
        and (optimal >= lower - tol).all()
        and (optimal <= upper + tol).all()
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
        return (
            s.groupby(level="channel").sum().reindex(list(data.channels))
            if data.is_geo
            else s.reindex(list(data.channels))
        )

    cur_c, opt_c, lo_c, hi_c = by_channel(current), by_channel(optimal), by_channel(lower), by_channel(upper)
    alloc = pd.DataFrame(
        {
            "current_per_period": cur_c,
            "optimal_per_period": opt_c,
            "current_total": cur_c * cfg.horizon_periods,
            "optimal_total": opt_c * cfg.horizon_periods,
            "change_pct": (opt_c / cur_c - 1) * 100,
            "floor_per_period": lo_c,
            "cap_per_period": hi_c,
        }
    )
    tol = 1e-3 * per_period
    alloc["at_bound"] = np.where(
        np.isclose(opt_c, lo_c, atol=tol), "floor", np.where(np.isclose(opt_c, hi_c, atol=tol), "cap", "")
    )
    alloc.index.name = "channel"
    return BudgetResult(
        allocation=alloc,
        total_budget=per_period * cfg.horizon_periods,
        horizon_periods=cfg.horizon_periods,
        response_current=float(r_cur.mean()),
        response_optimal=float(r_opt.mean()),
        gain_mean=float(gain.mean()),
        gain_hdi_low=lo_g,
        gain_hdi_high=hi_g,
        prob_gain_positive=float((gain > 0).mean()),
        success=feasible,
        message=message,
    )
