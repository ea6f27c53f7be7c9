"""Forecasts for a planned spend: intervals, ordering by spend, and plans that are not in the future."""

from __future__ import annotations

import pandas as pd
import pytest

from galaxy_lib.mmm import MMMDataError, forecast, spend_plan
from galaxy_lib.mmm.analysis import future_dates


def test_spend_plan_is_flat_and_after_the_data(world_model) -> None:
    data = world_model.data_
    plan = spend_plan(world_model, 4)
    assert list(plan["date"]) == list(future_dates(world_model, 4))
    assert plan["date"].iloc[0] == data.dates[-1] + pd.Timedelta(data.freq)
    pd.testing.assert_series_equal(plan[list(data.channels)].iloc[0], data.mean_period_spend(), check_names=False)
    with pytest.raises(MMMDataError, match="lacks channel"):
        spend_plan(world_model, 4, {"tv": 1.0})


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
