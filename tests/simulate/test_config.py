import datetime as dt

import pytest
from pydantic import ValidationError

from galaxy_lib.core.config import ConfigError, validate_params
from galaxy_lib.simulate import BLOCK_SIZE, SIZE_PRESETS, WorldConfig


def test_presets_scale_up():
    ci, demo, bench = (WorldConfig.for_size(s) for s in ("ci", "demo", "bench"))
    assert ci.n_customers == 2_000 and ci.n_weeks == 156 and len(ci.geos) == 4
    assert ci.n_customers < demo.n_customers < bench.n_customers
    assert bench.n_customers >= 1_000_000
    assert bench.chunk_size < bench.n_customers  # streamed in several parts
    assert set(SIZE_PRESETS) == {"ci", "demo", "bench"}


def test_for_size_overrides_and_seed():
    cfg = WorldConfig.for_size("ci", seed=7, chunk_size=500, n_weeks=104)
    assert (cfg.seed, cfg.chunk_size, cfg.n_weeks, cfg.size) == (7, 500, 104, "ci")


def test_unknown_size_is_named():
    with pytest.raises(ValueError, match="Unknown world size 'huge'"):
        WorldConfig.for_size("huge")  # type: ignore[arg-type]


def test_chunk_size_must_be_multiple_of_block():
    with pytest.raises(ValidationError, match=f"chunk_size must be a multiple of {BLOCK_SIZE}"):
        WorldConfig.for_size("ci", chunk_size=300)


def test_start_week_must_be_monday_and_says_which():
    with pytest.raises(ValidationError, match="2023-01-02"):
        WorldConfig(start_week=dt.date(2023, 1, 4))


def test_geo_shares_must_match_geos():
    with pytest.raises(ValidationError, match="same length"):
        WorldConfig(geos=("a", "b"), geo_shares=(0.5, 0.3, 0.2))
    with pytest.raises(ValidationError, match="sum to 1"):
        WorldConfig(geos=("a", "b"), geo_shares=(0.5, 0.4))


def test_unknown_parameter_is_rejected_with_allowed_list():
    with pytest.raises(ConfigError, match="n_customer: unknown parameter"):
        validate_params(WorldConfig, {"n_customer": 10}, source="test")


def test_config_is_frozen():
    cfg = WorldConfig.for_size("ci")
    with pytest.raises(ValidationError):
        cfg.seed = 3  # type: ignore[misc]
