"""MMMParams: the notebook's parameters, flat, and every bound of the library configs checked in the first cell."""

from __future__ import annotations

import ast
from pathlib import Path

import papermill
import pytest

from galaxy_lib.core.config import ConfigError, validate_params
from galaxy_lib.mmm import BudgetConfig, GateThresholds, MMMConfig, MMMDataConfig, MMMParams

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02_mmm.ipynb"


def test_shared_fields_keep_the_library_defaults() -> None:
    shared = set(MMMParams.model_fields) & set(MMMConfig.model_fields)
    assert {"adstock", "l_max", "saturation", "trend", "chains", "tune", "draws", "target_accept"} <= shared
    drifted = {
        name: (MMMParams.model_fields[name].default, MMMConfig.model_fields[name].default)
        for name in shared
        if MMMParams.model_fields[name].default != MMMConfig.model_fields[name].default
    }
    assert drifted == {}, f"MMMParams defaults differ from MMMConfig's: {drifted}"
    gate = set(MMMParams.model_fields) & set(GateThresholds.model_fields)
    assert {"rhat_warn", "rhat_fail", "ess_warn", "ess_fail"} <= gate
    assert {n: MMMParams.model_fields[n].default for n in gate} == {
        n: GateThresholds.model_fields[n].default for n in gate
    }
    budget = MMMParams().to_budget_config()
    assert budget == BudgetConfig()


def test_model_config_carries_every_shared_field() -> None:
    params = MMMParams(target_accept=0.8, l_max=6, chains=3)
    cfg = params.to_model_config()
    for name in set(MMMParams.model_fields) & set(MMMConfig.model_fields):
        assert getattr(cfg, name) == getattr(params, name), name


def test_every_library_config_is_built_from_the_flat_parameters(tmp_path) -> None:
    sales = tmp_path / "sales.csv"
    sales.write_text("week,revenue\n")
    params = MMMParams.from_notebook(
        {
            "data_path": str(sales),
            "channel_columns": ["tv", "search"],
            "l_max": 6,
            "chains": 4,
            "rhat_warn": 1.02,
            "ess_fail": 80.0,
            "budget_floor": 0.8,
            "budget_cap": 1.2,
            "budget_channel_bounds": {"tv": [0.9, 1.1]},
            "budget_horizon_periods": 8,
            "budget_total": 1e6,
            "mmm": object(),
            "__name__": "__main__",  # the rest of a notebook's globals is ignored
        }
    )
    data = params.config("data")
    assert isinstance(data, MMMDataConfig) and data.data_path == str(sales) and data.channel_columns == ("tv", "search")
    assert params.to_data_config() is data and not data.uses_world
    model = params.to_model_config()
    assert isinstance(model, MMMConfig) and (model.l_max, model.chains) == (6, 4)
    gate = params.to_gate_thresholds()
    assert isinstance(gate, GateThresholds) and (gate.rhat_warn, gate.ess_fail) == (1.02, 80.0)
    assert params.to_budget_config() == BudgetConfig(
        horizon_periods=8, total_budget=1e6, floor=0.8, cap=1.2, channel_bounds={"tv": (0.9, 1.1)}
    )
    with pytest.raises(KeyError, match="builds no config 'mta'"):
        params.config("mta")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"chains": 0}, ["chains", "greater than or equal to 1"]),  # MMMConfig: chains >= 1
        ({"tune": 5}, ["tune"]),
        ({"l_max": 0}, ["l_max"]),
        ({"yearly_seasonality": 40}, ["yearly_seasonality"]),
        ({"target_accept": 1.5}, ["target_accept", "less than 1"]),  # a probability
        ({"random_seed": -1}, ["random_seed"]),
        ({"adstock": "weibull_pdf"}, ["adstock", "weibull_cdf"]),  # not NUTS-samplable in pymc-marketing 0.19.2 (#2637)
        ({"sampler": "stan"}, ["sampler"]),
        ({"budget_floor": -1}, ["budget_floor", "greater than or equal to 0"]),  # BudgetConfig
        ({"budget_cap": 0.3}, ["budget_cap", "below the floor"]),  # the default floor is 0.5
        ({"budget_floor": 2.5, "budget_cap": 2.0}, ["budget_cap", "below the floor"]),
        ({"budget_horizon_periods": 0}, ["budget_horizon_periods"]),
        ({"budget_total": -5.0}, ["budget_total"]),
        ({"budget_channel_bounds": {"tv": [1.2, 0.8]}}, ["budget_channel_bounds", "tv"]),
        ({"rhat_fail": 1.005}, ["rhat_fail", "rhat_warn", "must not exceed"]),  # GateThresholds: warn <= fail
        ({"rhat_warn": 1.0}, ["rhat_warn", "greater than 1"]),
        ({"ess_warn": 10.0}, ["ess_fail", "ess_warn", "must not exceed"]),  # lower is worse: fail <= warn
        ({"ess_fail": 0.0}, ["ess_fail"]),
        ({"channel_columns": ["tv", "tv"]}, ["channel_columns", "more than once"]),  # MMMDataConfig
        ({"forecast_periods": 0}, ["forecast_periods"]),
        ({"world_size": "huge"}, ["world_size"]),
    ],
    ids=lambda v: "+".join(v) if isinstance(v, dict) else "",
)
def test_bounds_fail_in_the_first_cell(values: dict, named: list[str]) -> None:
    """Every bound of MMMConfig, BudgetConfig, GateThresholds and MMMDataConfig fails at from_notebook.

    The message names the notebook parameter (not the library config's field).
    """
    with pytest.raises(ConfigError) as err:
        MMMParams.from_notebook(values)
    message = str(err.value)
    for fragment in named:
        assert fragment in message, f"{fragment!r} not in: {message}"


def test_unknown_parameter_is_rejected() -> None:
    """A parameters file (or ``-p``) naming a parameter the notebook does not have fails, with the allowed names."""
    with pytest.raises(ConfigError, match=r"chanel_columns: unknown parameter.*channel_columns"):
        validate_params(MMMParams, {"chanel_columns": ["tv"]})
    with pytest.raises(ConfigError, match="adstock"):
        validate_params(MMMParams, {"adstock": "exponential"})


def _notebook_defaults() -> dict:
    declared = papermill.inspect_notebook(str(NOTEBOOK))
    return {name: ast.literal_eval(p["default"]) for name, p in declared.items()}


def test_notebook_declares_exactly_the_parameters() -> None:
    """The notebook's parameters cell and MMMParams list the same names, and its defaults are the class's."""
    defaults = _notebook_defaults()
    assert set(defaults) == set(MMMParams.model_fields)
    assert MMMParams.from_notebook(defaults) == MMMParams()
