"""Response curves and the planner's what-if comparison, checked against the world's true curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.mmm import MMMDataError, compare_plans, response_curve_samples, response_curves
from galaxy_lib.simulate.mmm import logistic_saturation


def _true_steady_state(t: dict, x: float) -> float:
    """The world's long-run KPI per period of a channel at steady spend ``x`` (its true curve)."""
    return float(t["beta"] * logistic_saturation(x / t["spend_scale"], t["lam"]))


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
    true_gain = sum(
        _true_steady_state(channels[ch], plan[ch]) - _true_steady_state(channels[ch], current[ch]) for ch in plan
    )
    assert result.spend_plan == pytest.approx(result.spend_current)
    assert result.gain_hdi_low <= true_gain <= result.gain_hdi_high, (result, true_gain)
    assert result.gain_mean == pytest.approx(true_gain, rel=0.25)
    # unchanged channels contribute nothing to the gain, changed ones everything
    diff = result.channels["kpi_plan"] - result.channels["kpi_current"]
    assert diff.drop(["tv", "video"]).abs().max() == 0.0
    assert diff.sum() == pytest.approx(result.gain_mean, rel=1e-6)
    # a plan that keeps the total has no "ROI of the change"; one that adds spend has one
    assert np.isnan(result.roi_of_change)
    more = compare_plans(response, {"video": current["video"] * 1.5})
    assert more.roi_of_change == pytest.approx(more.gain_mean / (current["video"] * 0.5))


def test_plan_outside_the_curves_is_refused(world_model) -> None:
    response = response_curve_samples(world_model, n_points=11, num_samples=50)
    with pytest.raises(MMMDataError, match="unknown channel 'radio'"):
        compare_plans(response, {"radio": 1.0})
    with pytest.raises(MMMDataError, match="outside the response curve's range"):
        compare_plans(response, {"tv": response.max_spend("tv") * 1.5})
    with pytest.raises(MMMDataError, match="outside the response curve's range"):
        compare_plans(response, {"tv": -1.0})
