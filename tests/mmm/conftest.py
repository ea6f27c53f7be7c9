"""Shared fixtures: a ci Galaxy world and the national MMM fitted on it, once per session (per worker).

Fitting is the expensive part of these tests, so every test that needs the ci
world's national model uses :func:`world_model`, and every test that needs its
channel summary (or a budget result) uses :func:`world_summary` (:func:`world_budget`),
instead of fitting or computing them again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from galaxy_lib.mmm import (
    BudgetConfig,
    BudgetResult,
    MediaMixModel,
    MMMConfig,
    MMMData,
    MMMDataConfig,
    channel_summary,
    load_mmm_data,
    optimise_budget,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "mmm"
#: Sampler settings of the unit tests (the notebook's ci defaults).
CI_SAMPLER = {"chains": 2, "tune": 300, "draws": 300}


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly built and staged ci world (seconds)."""
    from galaxy_lib.simulate import ensure_world

    root = tmp_path_factory.mktemp("mmm_world")
    ensure_world(root, size="ci", progress=False)
    return root


@pytest.fixture(scope="session")
def world_truth(world_dir: Path) -> dict:
    """The ci world's ``ground_truth.json``."""
    return json.loads((world_dir / "ground_truth.json").read_text())


@pytest.fixture(scope="session")
def world_data(world_dir: Path) -> MMMData:
    """The ci world's national data with its lift tests."""
    return load_mmm_data(MMMDataConfig(), data_dir=world_dir)


@pytest.fixture(scope="session")
def world_geo_data(world_dir: Path) -> MMMData:
    """The ci world's per-geo data (four geos) with its geo lift tests."""
    return load_mmm_data(MMMDataConfig(geo_column="geo"), data_dir=world_dir)


@pytest.fixture(scope="session")
def world_model(world_data: MMMData) -> MediaMixModel:
    """The national MMM with lift tests on the ci world, at the notebook's ci sampler settings."""
    return MediaMixModel(MMMConfig(**CI_SAMPLER, random_seed=1)).fit(world_data)


@pytest.fixture(scope="session")
def world_summary(world_model: MediaMixModel) -> pd.DataFrame:
    """:func:`channel_summary` of :func:`world_model`, marginal ROI included."""
    return channel_summary(world_model)


@pytest.fixture(scope="session")
def world_budget(world_model: MediaMixModel) -> BudgetResult:
    """A 4-period budget optimisation of :func:`world_model` (default floors and caps)."""
    return optimise_budget(world_model, BudgetConfig(horizon_periods=4))
