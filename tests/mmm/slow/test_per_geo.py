"""One model over the four geos of the ci world (per-geo parameters), fitted once for every check."""

from __future__ import annotations

from pathlib import Path

import pytest

from galaxy_lib.mmm import (
    MediaMixModel,
    MMMConfig,
    channel_summary,
    diagnose,
    optimise_budget,
    recovery_against_truth,
    world_true_roi,
)

from ..conftest import CI_SAMPLER

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def geo_model(world_geo_data) -> MediaMixModel:
    return MediaMixModel(MMMConfig(**CI_SAMPLER, random_seed=5)).fit(world_geo_data)


def test_geo_model_uses_every_geo_lift_test_and_passes_the_gate(geo_model, world_geo_data) -> None:
    assert geo_model.n_lift_tests_ == len(world_geo_data.lift_tests)
    assert diagnose(geo_model).passed


def test_geo_model_recovers_the_national_roi(geo_model, world_dir: Path) -> None:
    rec = recovery_against_truth(channel_summary(geo_model, marginal=False), world_true_roi(world_dir))
    assert rec["n_covered"] >= 4 and rec["roi_mape"] < 0.25, rec


def test_geo_budget_is_optimised_per_geo(geo_model) -> None:
    budget = optimise_budget(geo_model)
    assert budget.success and budget.allocation["optimal_total"].sum() == pytest.approx(budget.total_budget, rel=1e-4)
    assert list(budget.allocation.index) == list(geo_model.data_.channels)
