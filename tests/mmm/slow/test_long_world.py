"""Five years of weekly data and more draws: tighter recovery and a clean gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from galaxy_lib.mmm import (
    MediaMixModel,
    MMMConfig,
    MMMDataConfig,
    channel_summary,
    diagnose,
    load_mmm_data,
    recovery_against_truth,
    world_true_roi,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def long_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five years of weekly data, another seed."""
    from galaxy_lib.core.store import DataStore
    from galaxy_lib.governance.pseudonyms import get_salt
    from galaxy_lib.pipeline.staging import stage_world
    from galaxy_lib.simulate import build_world
    from galaxy_lib.simulate.config import WorldConfig

    root = tmp_path_factory.mktemp("mmm_long_world")
    build_world(root, config=WorldConfig.for_size("ci", seed=7, n_weeks=260), progress=False)
    stage_world(DataStore(root), get_salt(demo=True), progress=False)
    return root


def test_recovery_on_a_longer_world_with_more_draws(long_world: Path) -> None:
    data = load_mmm_data(MMMDataConfig(), data_dir=long_world)
    assert data.n_periods == 260
    model = MediaMixModel(MMMConfig(chains=2, tune=1000, draws=1000, random_seed=11)).fit(data)
    diag = diagnose(model)
    assert diag.passed and diag.max_rhat <= 1.01 and diag.min_ess > 400, diag.reasons
    rec = recovery_against_truth(channel_summary(model, marginal=False), world_true_roi(long_world))
    assert rec["n_covered"] >= 4 and rec["roi_mape"] < 0.15, rec
