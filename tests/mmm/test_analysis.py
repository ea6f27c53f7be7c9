"""Results of a fitted MMM checked against the world's truth and against their own definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.mmm import (
    BudgetConfig,
    MMMDataError,
    channel_summary,
    compare_plans,
    decomposition,
    forecast,
    optimise_budget,
    posterior_predictive,
    prior_posterior_shift,
    response_curve_samples,
    response_curves,
    spend_plan,
)
from galaxy_lib.mmm import plots
from galaxy_lib.simulate.mmm import logistic_saturation


def _true_steady_state(t: dict, x: float) -> float:
    """The world's long-run KPI per period of a channel at steady spend ``x`` (its true curve)."""
    return float(t["beta"] * logistic_saturation(x / t["spend_scale"], t["lam"]))
from galaxy_lib.mmm.report import CHANNEL_METRICS, channel_metrics


@pytest.fixture(scope="module")
def summary(world_model) -> pd.DataFrame:
    return channel_summary(world_model)


def test_summary_definitions(summary, world_model, world_truth) -> None:
    data = world_model.data_
    # ROI = contribution / spend; shares of media sum to one; contribution share is of the total KPI
    np.testing.assert_allclose(summary["roi_mean"], summary["contribution_mean"] / summary["spend"], rtol=1e-9)
    assert summary["share_of_media"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(summary["contribution_share"], summary["contribution_mean"] / data.frame["kpi"].sum())
    assert (summary["roi_hdi_low"] <= summary["roi_mean"]).all() and (summary["roi_mean"] <= summary["roi_hdi_high"]).all()
    # logistic saturation is concave through the origin: the next unit returns less than the average unit
    assert (summary["mroi_mean"] < summary["roi_mean"]).all()
    assert (summary["mroi_mean"] > 0).all()
    # the media share of revenue matches the world's
    assert summary["contribution_share"].sum() == pytest.approx(world_truth["mmm"]["media_share"], abs=0.05)


def test_mroi_against_the_true_curves(summary, world_truth) -> None:
    """Marginal ROI from the fitted curves ranks the channels like the true curves do (Spearman >= 0.8)."""
    truth = world_truth["mmm"]["channels"]
    true_mroi = {}
    for ch, t in truth.items():
        # steady-state derivative of beta*logistic(lam*x/K) at the mean weekly spend, national scale
        x = t["mean_weekly_spend"] / t["spend_scale"]
        lam = t["lam"]
        e = np.exp(-lam * x)
        true_mroi[ch] = t["beta"] * lam * 2 * e / (1 + e) ** 2 / t["spend_scale"]
    est = summary["mroi_mean"].reindex(list(true_mroi))
    rho = pd.Series(true_mroi).rank().corr(est.rank())
    assert rho >= 0.8, (true_mroi, est.to_dict())


def test_channel_metrics_contract(summary) -> None:
    m = channel_metrics(summary)
    assert set(m) == set(summary.index)
    for fields in m.values():
        assert set(CHANNEL_METRICS) <= set(fields)
        assert all(isinstance(v, float) for v in fields.values())


def test_decomposition_adds_up(world_model) -> None:
    dec = decomposition(world_model)
    parts = dec[dec["kind"] != "observed"].groupby("date")["contribution"].sum()
    obs = dec[dec["kind"] == "observed"].set_index("date")["contribution"]
    ppc = posterior_predictive(world_model).set_index("date")
    np.testing.assert_allclose(parts.reindex(ppc.index), ppc["mean"], rtol=0.01)
    assert {"baseline", "trend", "seasonality", "price_index", "holiday", *world_model.data_.channels} <= set(dec["component"])
    # holiday flags are 0/1: their contribution is zero outside holiday weeks and positive in them (true effect > 0)
    hol = dec[dec["component"] == "holiday"].set_index("date")["contribution"]
    flags = world_model.data_.frame.set_index("date")["holiday"]
    assert np.allclose(hol[flags == 0], 0.0) and (hol[flags == 1] > 0).all()
    assert (obs > 0).all()


def test_response_curves(world_model, world_truth) -> None:
    curves = response_curves(world_model, n_points=21)
    for ch, part in curves.groupby("channel"):
        assert part["mean"].iloc[0] == pytest.approx(0.0, abs=1e-6)
        assert np.all(np.diff(part["mean"]) > 0)  # more spend, more KPI
        assert np.all(np.diff(np.diff(part["mean"])) < 1e-6)  # diminishing returns
        assert (part["hdi_low"] <= part["mean"] + 1e-9).all() and (part["mean"] <= part["hdi_high"] + 1e-9).all()
        # at the current spend the curve is close to the true steady-state curve
        t = world_truth["mmm"]["channels"][ch]
        x = part["current_spend"].iloc[0]
        true_y = _true_steady_state(t, x)
        est_y = np.interp(x, part["spend"], part["mean"])
        assert est_y == pytest.approx(true_y, rel=0.35), ch


def test_plan_comparison_matches_the_true_curves(world_model, world_truth) -> None:
    """The planner's gain for a budget shift agrees with the world's true curves."""
    response = response_curve_samples(world_model, n_points=81)
    pd.testing.assert_frame_equal(response.table(), response_curves(world_model, n_points=81))
    current = response.current_spend
    # move 20% of tv's spend to video (same total)
    moved = 0.2 * current["tv"]
    plan = {"tv": current["tv"] - moved, "video": current["video"] + moved}
    result = compare_plans(response, plan)
    channels = world_truth["mmm"]["channels"]
    true_gain = sum(_true_steady_state(channels[ch], plan[ch]) - _true_steady_state(channels[ch], current[ch])
                    for ch in plan)
    assert result.spend_plan == pytest.approx(result.spend_current)
    assert result.gain_hdi_low <= true_gain <= result.gain_hdi_high, (result, true_gain)
    assert result.gain_mean == pytest.approx(true_gain, rel=0.25)
    # unchanged channels contribute nothing to the gain, changed ones everything
    diff = result.channels["kpi_plan"] - result.channels["kpi_current"]
    assert diff.drop(["tv", "video"]).abs().max() == 0.0
    assert diff.sum() == pytest.approx(result.gain_mean, rel=1e-6)


def test_prior_posterior_shift(world_model) -> None:
    shift = prior_posterior_shift(world_model, samples=300)
    assert list(shift.index) == list(world_model.data_.channels)
    # every channel has a lift test or enough variation: the data must have pinned its ROI down
    assert (shift["contraction"] > 0.5).all(), shift
    assert "prior" in world_model.idata_


def test_budget_optimisation(world_model) -> None:
    cfg = BudgetConfig(horizon_periods=8, floor=0.5, cap=1.5, channel_bounds={"tv": (0.9, 1.1)})
    res = optimise_budget(world_model, cfg)
    alloc = res.allocation
    assert res.success
    assert alloc["optimal_total"].sum() == pytest.approx(res.total_budget, rel=1e-4)
    assert alloc["current_total"].sum() == pytest.approx(res.total_budget, rel=1e-4)
    assert (alloc["optimal_per_period"] >= alloc["floor_per_period"] * (1 - 1e-6)).all()
    assert (alloc["optimal_per_period"] <= alloc["cap_per_period"] * (1 + 1e-6)).all()
    assert alloc.loc["tv", "optimal_per_period"] / alloc.loc["tv", "current_per_period"] == pytest.approx(1.0, abs=0.1 + 1e-6)
    # the optimum is at least as good as the current split, on average and with high probability
    assert res.gain_mean >= -1e-6 * res.response_current
    assert res.gain_hdi_low <= res.gain_mean <= res.gain_hdi_high
    # money moves toward the channels with the higher marginal ROI
    s = channel_summary(world_model, marginal=True)
    moved = alloc["change_pct"]
    assert s.loc[moved.idxmax(), "mroi_mean"] > s.loc[moved.idxmin(), "mroi_mean"]
    m = res.to_metrics()
    assert set(m["recommended_allocation"]) == set(world_model.data_.channels)


def test_budget_bounds_that_cannot_hold(world_model) -> None:
    with pytest.raises(MMMDataError, match="floors sum to"):
        optimise_budget(world_model, BudgetConfig(floor=1.2, cap=3.0))
    with pytest.raises(MMMDataError, match="unknown channel"):
        optimise_budget(world_model, BudgetConfig(channel_bounds={"radio": (0.5, 1.0)}))


def test_forecast(world_model) -> None:
    plan = spend_plan(world_model, 6)
    fc = forecast(world_model, plan)
    assert len(fc) == 6 and (fc["kpi_hdi_low"] < fc["kpi_mean"]).all() and (fc["kpi_mean"] < fc["kpi_hdi_high"]).all()
    # at the usual spend the forecast sits in the range of recent weeks
    recent = world_model.data_.frame["kpi"].tail(52)
    assert recent.min() * 0.8 < fc["kpi_mean"].mean() < recent.max() * 1.2
    # more spend on every channel forecasts more KPI; no spend forecasts less
    more = forecast(world_model, spend_plan(world_model, 6, world_model.data_.mean_period_spend() * 2))
    none = forecast(world_model, spend_plan(world_model, 6, world_model.data_.mean_period_spend() * 0))
    assert none["kpi_mean"].sum() < fc["kpi_mean"].sum() < more["kpi_mean"].sum()
    with pytest.raises(MMMDataError, match="future"):
        forecast(world_model, plan.assign(date=world_model.data_.dates[-6:]))
    with pytest.raises(MMMDataError, match="lacks channel"):
        forecast(world_model, plan.drop(columns=["tv"]))


def test_figures_build(world_model, summary) -> None:
    curves = response_curves(world_model, n_points=11)
    figs = [
        plots.spend_chart(world_model.data_.frame, world_model.data_.channels),
        plots.roi_chart(summary, {"tv": 1.5}),
        plots.share_chart(summary),
        plots.decomposition_chart(decomposition(world_model)),
        plots.response_curves_chart(curves),
        plots.ppc_chart(posterior_predictive(world_model)),
    ]
    for fig in figs:
        assert fig.data and fig.layout.title.text
