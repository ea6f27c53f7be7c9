"""Notebook parameters of 04_uplift: defaults validate, every bad value fails in the first cell naming the parameter."""

from __future__ import annotations

from pathlib import Path

import pytest

from galaxy_lib.core.config import ConfigError, validate_params
from galaxy_lib.uplift.params import WORLD_FEATURES, UpliftParams
from galaxy_lib.uplift.policy import Economics


def test_the_defaults_validate() -> None:
    params = validate_params(UpliftParams, {})
    assert params.learners == ["s", "t", "x", "r", "dr", "forest"]
    assert (params.treatment_column, params.control_label, params.outcome_column) == (
        "treatment",
        "control",
        "converted",
    )
    assert params.outcome_type == "binary" and params.test_share == 0.3
    assert UpliftParams.from_notebook({"__name__": "__main__", "uplift": object()}).learners == params.learners


def test_features_fall_back_to_the_world_features() -> None:
    assert UpliftParams().features == list(WORLD_FEATURES)
    assert UpliftParams(feature_columns=["age", "geo"]).features == ["age", "geo"]


def test_duplicate_learners_are_dropped_in_order() -> None:
    assert UpliftParams(learners=["t", "x", "t", "s", "x"]).learners == ["t", "x", "s"]


def test_the_forest_with_a_continuous_outcome_is_refused_naming_learners() -> None:
    with pytest.raises(
        ConfigError,
        match=r"- learners: the uplift forest needs a binary outcome, remove 'forest' for outcome_type 'continuous'",
    ):
        UpliftParams.from_notebook({"outcome_type": "continuous", "outcome_column": "revenue"})
    params = UpliftParams.from_notebook({"outcome_type": "continuous", "learners": ["t", "x", "dr"]})
    assert params.learners == ["t", "x", "dr"]


def test_the_economics_config_is_built() -> None:
    params = UpliftParams(
        margin_per_conversion=12.5,
        contact_cost={"email": 0.02},
        conversion_cost={"coupon": 3.0},
        budget=1_000.0,
        max_contacts=500,
    )
    economics = params.economics
    assert isinstance(economics, Economics)
    assert economics.margin_per_conversion == 12.5
    assert economics.contact("email") == 0.02 and economics.contact("coupon") == 0.0
    assert economics.per_conversion("coupon") == 3.0 and economics.per_conversion("email") == 0.0
    assert (economics.budget, economics.max_contacts) == (1_000.0, 500)
    assert UpliftParams().economics == Economics(
        margin_per_conversion=30.0, contact_cost={"email": 0.1, "coupon": 0.1}, conversion_cost={"coupon": 12.0}
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("contact_cost", {"email": -0.1}, r"contact_cost must be >= 0 for every arm\.\n  - got \{'email': -0\.1\}"),
        ("conversion_cost", {"coupon": -1.0}, r"conversion_cost must be >= 0 for every arm"),
        ("margin_per_conversion", 0.0, r"margin_per_conversion: Input should be greater than 0"),
        ("budget", -5.0, r"budget: Input should be greater than or equal to 0"),
        ("max_contacts", -1, r"max_contacts: Input should be greater than or equal to 0"),
        ("learners", ["s", "causal_forest"], r"learners\.1: Input should be 's', 't', 'x', 'r', 'dr' or 'forest'"),
        ("learners", [], r"learners: List should have at least 1 item"),
        ("test_share", 0.05, r"test_share: Input should be greater than or equal to 0\.1"),
        ("test_share", 0.7, r"test_share: Input should be less than or equal to 0\.5"),
        ("outcome_type", "count", r"outcome_type: Input should be 'binary' or 'continuous'"),
        ("choose_by", "pehe", r"choose_by: Input should be 'qini' or 'auuc'"),
        ("treatment_column", "", r"treatment_column: String should have at least 1 character"),
        ("interval_level", 1.0, r"interval_level: Input should be less than 1"),
        ("n_bootstrap", 10, r"n_bootstrap: Input should be greater than or equal to 50"),
        ("as_of", "next tuesday", r"as_of"),
        ("data_path", "data/no_such_campaign.csv", r"data_path"),
    ],
)
def test_each_bound_fails_in_the_first_cell(name: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        UpliftParams.from_notebook({name: value})


def test_an_unknown_parameter_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"learner: unknown parameter\. Allowed parameters: .*learners"):
        validate_params(UpliftParams, {"learner": ["s"]})


def test_an_existing_data_path_is_accepted(tmp_path: Path) -> None:
    table = tmp_path / "campaign.csv"
    table.write_text("customer_id,treatment,converted\nC1,control,0\n")
    assert UpliftParams(data_path=str(table)).data_path == str(table)
