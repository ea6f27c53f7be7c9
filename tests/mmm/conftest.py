"""Shared fixtures: a ci Galaxy world and one MMM fitted on it (fitted once per session)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from galaxy_lib.mmm import MediaMixModel, MMMConfig, MMMDataConfig, load_mmm_data

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
    return json.loads((world_dir / "ground_truth.json").read_text())


@pytest.fixture(scope="session")
def world_data(world_dir: Path):
    return load_mmm_data(MMMDataConfig(), data_dir=world_dir)


@pytest.fixture(scope="session")
def world_model(world_data) -> MediaMixModel:
    """The national MMM with lift tests on the ci world, at the notebook's ci sampler settings."""
    return MediaMixModel(MMMConfig(**CI_SAMPLER, random_seed=1)).fit(world_data)
