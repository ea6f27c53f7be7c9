"""Budget optimisation: the recommended split, its bounds, and settings that cannot work."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from galaxy_lib.mmm import BudgetConfig, MMMDataError, optimise_budget
from galaxy_lib.schemas.mmm import BudgetMetrics


def test_budget_optimisation(world_model, world_summary) -> None:
    cfg = BudgetConfig(horizon_periods=8, floor=0.5, cap=1.5, channel_bounds={"tv": (0.9, 1.1)})
    res = optimise_budget(world_model, cfg)
    alloc = res.allocation
    assert res.success
    assert alloc["optimal_total"].sum() == pytest.approx(res.total_budget, rel=1e-4)
    assert alloc["current_total"].sum() == pytest.approx(res.total_budget, rel=1e-4)
    assert (alloc["optimal_per_period"] >= alloc["floor_per_period"] * (1 - 1e-6)).all()
    assert (alloc["optimal_per_period"] <= alloc["cap_per_period"] * (1 + 1e-6)).all()
    assert alloc.loc["tv", "optimal_per_period"] / alloc.loc["tv", "current_per_period"] == pytest.approx(
        1.0, abs=0.1 + 1e-6
    )
    # the optimum is at least as good as the current split, on average and with high probability
    assert res.gain_mean >= -1e-6 * res.response_current
    assert res.gain_hdi_low <= res.gain_mean <= res.gain_hdi_high
    # money moves toward the channels with the higher marginal ROI
    moved = alloc["change_pct"]
    assert world_summary.loc[moved.idxmax(), "mroi_mean"] > world_summary.loc[moved.idxmin(), "mroi_mean"]
    m = res.to_metrics()
    assert set(m["recommended_allocation"]) == set(world_model.data_.channels)
    assert BudgetMetrics.model_validate(m).expected_gain_pct == pytest.approx(res.gain_pct)


def test_budget_bounds_that_cannot_hold(world_model) -> None:
    with pytest.raises(MMMDataError, match="floors sum to"):
        optimise_budget(world_model, BudgetConfig(floor=1.2, cap=3.0))
    with pytest.raises(MMMDataError, match="unknown channel"):
        optimise_budget(world_model, BudgetConfig(channel_bounds={"radio": (0.5, 1.0)}))


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"floor": 1.5, "cap": 1.2}, "cap"),
        ({"floor": -0.1}, "floor"),
        ({"cap": 0.0}, "cap"),
        ({"horizon_periods": 0}, "horizon_periods"),
        ({"total_budget": -1.0}, "total_budget"),
        ({"channel_bounds": {"tv": (1.2, 0.8)}}, "channel_bounds"),
    ],
    ids=["cap-below-floor", "negative-floor", "zero-cap", "no-horizon", "negative-budget", "channel-cap-below-floor"],
)
def test_budget_config_bounds(settings: dict, field: str) -> None:
    """Settings that cannot describe a budget fail when the config is built, before any model is needed."""
    with pytest.raises(ValidationError) as err:
        BudgetConfig(**settings)
    assert [e["loc"][0] for e in err.value.errors()] == [field]
