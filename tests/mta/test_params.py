"""Notebook parameters: every bound fails at validation, naming the parameter."""

from __future__ import annotations

import pytest

from galaxy_lib.core.config import ConfigError, validate_params
from galaxy_lib.core.params import NotebookParams
from galaxy_lib.mta import MtaParams


def test_params_are_validated() -> None:
    p = validate_params(MtaParams, {"markov_order": 2, "calibration_model": "shapley"})
    assert p.calibrated_model_name == "shapley"
    assert MtaParams().calibrated_model_name == "markov_order_3"
    with pytest.raises(ConfigError, match="markov_order"):
        validate_params(MtaParams, {"markov_order": 4})
    with pytest.raises(ConfigError, match="unknown parameter"):
        validate_params(MtaParams, {"lookback": 30})
    with pytest.raises(ConfigError, match="calibration_model"):
        validate_params(MtaParams, {"calibration_model": "u_shaped"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("lookback_days", 0),
        ("lookback_days", 400),
        ("half_life_days", 0),
        ("k_min_paths", 1),
        ("top_n_paths", 0),
        ("separator", ""),
        ("calibration_mode", "both"),
        ("world_size", "huge"),
        ("as_of", "someday"),
        ("paths_path", "data/no_such_paths.csv"),
        ("incremental_path", "data/no_such_estimates.csv"),
    ],
)
def test_each_bound_fails_in_the_first_cell(name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=name):
        MtaParams.from_notebook({name: value})


def test_from_notebook_reads_the_notebook_namespace() -> None:
    namespace = {"data_dir": "data/demo", "world_size": "demo", "markov_order": 1, "mta": object(), "__name__": "x"}
    params = MtaParams.from_notebook(namespace)
    assert isinstance(params, NotebookParams)
    assert (params.data_dir, params.world_size, params.output_dir) == ("data/demo", "demo", "")
    assert params.calibrated_model_name == "markov_order_1"


def test_input_paths_and_dates_that_exist_pass(tmp_path) -> None:
    table = tmp_path / "paths.csv"
    table.write_text("path,total_conversions\na,1\n")
    params = MtaParams(paths_path=str(table), incremental_path="latest:mmm", as_of="2025-12-31")
    assert params.incremental_path == "latest:mmm" and params.as_of == "2025-12-31"
    assert MtaParams(incremental_path=str(tmp_path)).incremental_path == str(tmp_path)  # a run folder
