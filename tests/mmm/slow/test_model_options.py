"""Alternative model structures on the ci world: each fits, recovers ROI near the truth and survives save/load."""

from __future__ import annotations

from pathlib import Path

import pytest

from galaxy_lib.mmm import MMMConfig

from ..conftest import CI_SAMPLER
from .conftest import check_model_option

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "options",
    [
        {"saturation": "hill"},
        {"adstock": "weibull_cdf", "trend": "piecewise"},
        {"time_varying_intercept": True, "trend": "none"},
    ],
    ids=["hill", "weibull-cdf-piecewise", "time-varying-intercept"],
)
def test_model_options(world_data, world_dir: Path, options: dict, tmp_path: Path) -> None:
    """Every structural option fits, gives finite ROI near the truth and survives save/load."""
    config = MMMConfig(**{**CI_SAMPLER, "tune": 200, "draws": 200, **options}, random_seed=9)
    check_model_option(world_data, world_dir, config, tmp_path)
