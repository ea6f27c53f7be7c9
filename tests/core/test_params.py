"""Notebook parameters: flat fields, library configs built during validation, errors named by the notebook field."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from galaxy_lib.core.config import ConfigError, validate_params
from galaxy_lib.core.gates import check_threshold_order
from galaxy_lib.core.params import WORLD_SIZES, NotebookParams


class SamplerConfig(BaseModel):
    """A library config with bounds and a rule over two fields, like a workflow's model config."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    draws: int = Field(1000, ge=100)
    chains: int = Field(2, ge=1, le=8)
    rhat_warn: float = 1.01
    rhat_fail: float = 1.05

    @model_validator(mode="after")
    def _ordered(self) -> SamplerConfig:
        check_threshold_order(self.__dict__, higher_is_worse=("rhat",))
        return self


class BudgetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    floor: float = Field(0.0, ge=0)


class DemoParams(NotebookParams):
    """Notebook fields named differently from the config fields they feed."""

    n_draws: int = 1000
    n_chains: int = 2
    mmm_rhat_warn: float = 1.01
    mmm_rhat_fail: float = 1.05
    budget_floor: float = 0.0

    library_configs = {
        "sampler": (
            SamplerConfig,
            {"draws": "n_draws", "chains": "n_chains", "rhat_warn": "mmm_rhat_warn", "rhat_fail": "mmm_rhat_fail"},
        ),
        "budget": (BudgetConfig, {"floor": "budget_floor"}),
    }


def _error(namespace: dict) -> str:
    with pytest.raises(ConfigError) as err:
        DemoParams.from_notebook(namespace)
    return str(err.value)


def test_defaults_build_every_library_config():
    p = DemoParams.from_notebook({})
    assert (p.data_dir, p.world_size, p.output_dir) == ("data/ci", "ci", "")
    assert p.config("sampler") == SamplerConfig()
    assert p.config("budget") == BudgetConfig()
    assert p.world_size in WORLD_SIZES


def test_from_notebook_takes_only_its_fields_from_globals():
    namespace = {
        "n_draws": 500,
        "budget_floor": 2.5,
        "world_size": "demo",
        "pd": object(),
        "__name__": "__main__",
        "In": [],
        "_": None,
    }
    p = DemoParams.from_notebook(namespace)
    assert p.n_draws == 500 and p.config("sampler").draws == 500
    assert p.config("budget").floor == 2.5
    assert p.world_size == "demo"


def test_a_library_bound_fails_with_the_notebook_parameter_name():
    msg = _error({"n_draws": 50})
    assert "Invalid parameters for DemoParams (notebook parameters)" in msg
    assert "- n_draws: Input should be greater than or equal to 100 (got 50)." in msg
    assert "draws:" not in msg.replace("n_draws:", "")  # the config's own field name is not what the user wrote


def test_every_problem_is_listed_on_its_own_line():
    msg = _error({"n_draws": 50, "n_chains": 20, "budget_floor": -1.0})
    lines = [ln for ln in msg.splitlines() if ln.startswith("  - ")]
    assert lines == [
        "  - n_draws: Input should be greater than or equal to 100 (got 50).",
        "  - n_chains: Input should be less than or equal to 8 (got 20).",
        "  - budget_floor: Input should be greater than or equal to 0 (got -1.0).",
    ]


def test_a_rule_over_several_fields_is_named_with_the_notebook_parameters():
    msg = _error({"mmm_rhat_warn": 1.2})
    assert "- mmm_rhat_warn (1.2) must not exceed mmm_rhat_fail (1.05)." in msg


def test_a_rule_naming_no_field_lists_the_parameters_that_feed_the_config():
    class Whole(BaseModel):
        low: int = 1
        high: int = 2

        @model_validator(mode="after")
        def _ordered(self) -> Whole:
            if self.low > self.high:
                raise ValueError("the range is empty.")
            return self

    class RangeParams(NotebookParams):
        range_start: int = 1
        range_end: int = 2
        library_configs = {"range": (Whole, {"low": "range_start", "high": "range_end"})}

    with pytest.raises(ConfigError) as err:
        RangeParams.from_notebook({"range_start": 5})
    assert "- the range is empty (parameters: range_start, range_end)." in str(err.value)


def test_flat_field_errors_name_the_field():
    assert "- n_draws: Input should be a valid integer" in _error({"n_draws": "many"})
    assert "- world_size: Input should be 'ci', 'demo' or 'bench' (got 'huge')." in _error({"world_size": "huge"})


def test_unknown_fields_are_refused_with_the_allowed_names():
    with pytest.raises(ConfigError) as err:
        validate_params(DemoParams, {"n_drawz": 5}, source="parameters/02_mmm.yaml")
    msg = str(err.value)
    assert "(parameters/02_mmm.yaml)" in msg and "- n_drawz: unknown parameter." in msg
    assert "Allowed parameters: budget_floor, data_dir, mmm_rhat_fail, mmm_rhat_warn, n_chains, n_draws" in msg


def test_config_of_an_unknown_name_lists_the_built_ones():
    with pytest.raises(KeyError, match=r"DemoParams builds no config 'model'; it builds \['budget', 'sampler'\]"):
        DemoParams.from_notebook({}).config("model")


def test_params_are_immutable_and_configs_are_per_instance():
    a = DemoParams.from_notebook({"n_draws": 300})
    b = DemoParams.from_notebook({"n_draws": 400})
    assert (a.config("sampler").draws, b.config("sampler").draws) == (300, 400)
    with pytest.raises(ValidationError, match="frozen"):
        a.n_draws = 500  # type: ignore[misc]


def test_the_base_class_builds_no_config():
    p = NotebookParams.from_notebook({"output_dir": "reports/x"})
    assert p.output_dir == "reports/x"
    with pytest.raises(KeyError, match="builds no config"):
        p.config("anything")
