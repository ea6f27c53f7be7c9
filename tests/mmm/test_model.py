"""Fitting the MMM: recovery of the Galaxy world's true ROI (with and without lift tests), save/load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from galaxy_lib.mmm import (
    MediaMixModel,
    MMMConfig,
    MMMDataConfig,
    channel_summary,
    compare_plans,
    diagnose,
    load_mmm_data,
    recovery_against_truth,
    response_curve_samples,
    roi_samples,
    world_true_roi,
)

from .conftest import CI_SAMPLER, SHARED


def test_recovers_true_roi_on_ci_world(world_model, world_summary, world_dir) -> None:
    """Acceptance: 94% ROI interval covers the truth for >= 4 of 5 channels, ROI MAPE < 0.25."""
    rec = recovery_against_truth(world_summary, world_true_roi(world_dir))
    assert rec["n_covered"] >= 4, rec
    assert rec["roi_mape"] < 0.25, rec
    assert world_model.n_lift_tests_ == len(world_model.data_.lift_tests)


def test_save_load_round_trip(world_model, tmp_path: Path) -> None:
    path = world_model.save(tmp_path / "mmm_model.nc")
    loaded = MediaMixModel.load(path)
    np.testing.assert_allclose(roi_samples(loaded).values, roi_samples(world_model).values)
    assert loaded.data_.channels == world_model.data_.channels
    np.testing.assert_allclose(
        loaded.data_.frame[list(loaded.data_.channels)].to_numpy(),
        world_model.data_.frame[list(world_model.data_.channels)].to_numpy(),
    )
    np.testing.assert_allclose(loaded.data_.frame["price_index"], world_model.data_.frame["price_index"])
    assert loaded.config == world_model.config and loaded.n_lift_tests_ == world_model.n_lift_tests_
    # the dashboard's planner works from the saved model alone
    plan = {"video": float(world_model.data_.mean_period_spend()["video"]) * 1.5}
    for name in ("gain_mean", "gain_hdi_low", "gain_hdi_high"):
        assert getattr(compare_plans(response_curve_samples(loaded), plan), name) == pytest.approx(
            getattr(compare_plans(response_curve_samples(world_model), plan), name), rel=1e-9
        ), name
    with pytest.raises(ValueError, match="not a Galaxy MMM"):
        import arviz as az

        other = tmp_path / "plain.nc"
        az.from_dict(posterior={"a": np.zeros((1, 5))}).to_netcdf(other, engine="h5netcdf")
        MediaMixModel.load(other)


def test_unfitted_model_says_so() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        MediaMixModel().idata_


def test_without_lift_tests_still_recovers(world_dir) -> None:
    """Calibration is optional: without lift tests the intervals are wider but still honest."""
    data = load_mmm_data(MMMDataConfig(use_lift_tests=False), data_dir=world_dir)
    assert data.lift_tests is None
    model = MediaMixModel(MMMConfig(**CI_SAMPLER, random_seed=2)).fit(data)
    rec = recovery_against_truth(channel_summary(model, marginal=False), world_true_roi(world_dir))
    assert rec["n_covered"] >= 4 and rec["roi_mape"] < 0.25, rec


@pytest.mark.skipif(not (SHARED / "pymc_marketing" / "mmm_example.csv").is_file(), reason="../shared datasets absent")
def test_mmm_example_contribution_shares() -> None:
    """Acceptance: on pymc-marketing's example data the shares of media are within 0.05 of the truth."""
    truth = json.loads((SHARED / "pymc_marketing" / "mmm_example_ground_truth.json").read_text())
    cfg = MMMDataConfig(
        data_path=str(SHARED / "pymc_marketing" / "mmm_example.csv"),
        date_column="date_week",
        target_column="y",
        channel_columns=("x1", "x2"),
        control_columns=("event_1", "event_2"),
    )
    model = MediaMixModel(MMMConfig(**CI_SAMPLER, random_seed=3)).fit(load_mmm_data(cfg))
    summary = channel_summary(model, marginal=False)
    for ch in ("x1", "x2"):
        assert summary.loc[ch, "share_of_media"] == pytest.approx(truth["totals"][f"contribution_share_{ch}"], abs=0.05)
    assert diagnose(model).passed
