"""Every notebook parameter bound fails in the first cell after the parameters, naming the field.

The README promises that a wrong value never gets as far as sampling. For each
notebook this feeds one bad value per kind of field (counts, probabilities,
floors and caps, warn/fail pairs, paths, choices) the way papermill injects it
(an assignment after the ``parameters`` cell) and runs the notebook's
validation statement: it must raise ``ConfigError`` whose message names the
field. Only the statements up to the validation run, so no world is built and
no model is fitted.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import nbformat
import pytest

from galaxy_lib.core.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]

#: notebook -> [(field class, {parameter: bad value}, field the message must name)]
BAD_VALUES: dict[str, list[tuple[str, dict[str, Any], str]]] = {
    "01_data_inventory": [
        ("probability", {"null_rate_warn": 1.5}, "null_rate_warn"),
        ("warn above fail", {"stale_days_warn": 30.0, "stale_days_fail": 14.0}, "stale_days_warn"),
        ("positive number", {"outlier_z": 0.0}, "outlier_z"),
        ("share", {"min_consent_share": -0.1}, "min_consent_share"),
        ("choice", {"world_size": "huge"}, "world_size"),
        ("date", {"as_of": "the day before yesterday"}, "as_of"),
    ],
    "02_mmm": [
        ("count", {"chains": 0}, "chains"),
        ("count", {"draws": -5}, "draws"),
        ("probability", {"target_accept": 1.5}, "target_accept"),
        ("floor", {"budget_floor": -1.0}, "budget_floor"),
        ("cap below floor", {"budget_floor": 1.5, "budget_cap": 1.0}, "budget_cap"),
        ("gate threshold", {"rhat_fail": 0.9}, "rhat_fail"),
        ("path", {"data_path": "data/no_such_file.csv"}, "data_path"),
        ("path", {"lift_tests_path": "data/no_such_tests.csv"}, "lift_tests_path"),
        ("choice", {"adstock": "exponential"}, "adstock"),
        ("choice", {"sampler": "stan"}, "sampler"),
    ],
    "03_mta": [
        ("count", {"k_min_paths": 0}, "k_min_paths"),
        ("order", {"markov_order": 4}, "markov_order"),
        ("positive number", {"lookback_days": -3.0}, "lookback_days"),
        ("path", {"paths_path": "data/no_such_paths.csv"}, "paths_path"),
        ("path", {"incremental_path": "data/no_such_estimates.csv"}, "incremental_path"),
        ("choice", {"calibration_mode": "sideways"}, "calibration_mode"),
        ("date", {"as_of": "someday"}, "as_of"),
    ],
    "04_uplift": [
        ("share", {"test_share": 0.9}, "test_share"),
        ("count", {"n_bootstrap": 10}, "n_bootstrap"),
        ("choice", {"learners": ["s", "causal_forest"]}, "learners"),
        ("choice", {"outcome_type": "count"}, "outcome_type"),
        ("choice", {"choose_by": "accuracy"}, "choose_by"),
        ("positive number", {"margin_per_conversion": -5.0}, "margin_per_conversion"),
        ("cost", {"contact_cost": {"email": -0.1}}, "contact_cost"),
        ("floor", {"budget": -100.0}, "budget"),
        ("path", {"data_path": "data/no_such_campaign.csv"}, "data_path"),
        ("date", {"as_of": "next spring"}, "as_of"),
        ("forest on an amount", {"outcome_type": "continuous", "outcome_column": "revenue"}, "learners"),
    ],
    "05_creative": [
        ("share", {"holdout_share": 0.9}, "holdout_share"),
        ("count", {"bootstrap": 1}, "bootstrap"),
        ("cap below floor", {"floor": 0.3, "cap": 0.2}, "cap"),
        ("platform", {"allocation_platform": "tiktok"}, "allocation_platform"),
        ("platform", {"variant_platforms": ["social", "billboard"]}, "variant_platforms"),
        ("palette", {"band_colour": "gold"}, "band_colour"),
        ("path", {"brand_file": "parameters/no_such_brand.yaml"}, "brand_file"),
        ("path", {"history_path": "data/no_such_history.csv"}, "history_path"),
        ("count", {"top_k": 0}, "top_k"),
        ("probability", {"kill_probability": 1.5}, "kill_probability"),
    ],
}


def _validation_code(notebook: str) -> tuple[str, str]:
    """The parameters cell, and the second code cell up to (and including) its validation statement."""
    nb = nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    tree = ast.parse(code[1])
    upto = next(i for i, stmt in enumerate(tree.body) if "from_notebook" in ast.unparse(stmt))
    return code[0], ast.unparse(ast.Module(body=tree.body[: upto + 1], type_ignores=[]))


CASES = [(nb, kind, bad, field) for nb, cases in BAD_VALUES.items() for kind, bad, field in cases]


@pytest.mark.parametrize(
    ("notebook", "kind", "bad", "field"), CASES, ids=[f"{nb}-{field}" for nb, _, _, field in CASES]
)
def test_bad_value_fails_in_the_first_cell_naming_the_field(notebook: str, kind: str, bad: dict, field: str) -> None:
    parameters, validation = _validation_code(notebook)
    namespace: dict[str, Any] = {}
    exec(parameters, namespace)
    namespace.update(bad)  # what papermill's injected-parameters cell does
    with pytest.raises(ConfigError) as err:
        exec(validation, namespace)
    named = [line for line in str(err.value).splitlines() if field in line]
    assert named, f"{notebook}: a bad {kind} ({bad}) must fail naming {field!r}; got:\n{err.value}"


@pytest.mark.parametrize("notebook", sorted(BAD_VALUES))
def test_defaults_validate(notebook: str) -> None:
    """The control: the notebook's own defaults pass the same statement."""
    parameters, validation = _validation_code(notebook)
    namespace: dict[str, Any] = {}
    exec(parameters, namespace)
    exec(validation, namespace)
    assert namespace["params"].data_dir == namespace["data_dir"]
