"""pymc's own NUTS instead of numpyro: the same model, the same recovery and save/load."""

from __future__ import annotations

from pathlib import Path

import pytest

from galaxy_lib.mmm import MMMConfig

from ..conftest import CI_SAMPLER
from .conftest import check_model_option

pytestmark = pytest.mark.slow


def test_pymc_sampler(world_data, world_dir: Path, tmp_path: Path) -> None:
    config = MMMConfig(**{**CI_SAMPLER, "tune": 200, "draws": 200, "sampler": "pymc"}, random_seed=9)
    check_model_option(world_data, world_dir, config, tmp_path)
