"""Every parameter of the inventory notebook fails at validation, naming itself."""

from __future__ import annotations

import pytest

from galaxy_lib import inventory
from galaxy_lib.core.config import ConfigError, validate_params
from galaxy_lib.governance.quality import Thresholds


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"null_rate_warn": -0.1}, r"null_rate_warn: Input should be greater than or equal to 0"),
        ({"stale_days_fail": -1.0}, r"stale_days_fail: Input should be greater than or equal to 0"),
        ({"min_consent_share": 1.5}, r"min_consent_share: Input should be less than or equal to 1"),
        ({"sample_rows": 10}, r"sample_rows: Input should be greater than or equal to 1000"),
        (
            {"null_rate_warn": 0.5, "null_rate_fail": 0.1},
            r"null_rate_warn \(0\.5\) must not exceed null_rate_fail \(0\.1\)",
        ),
        (
            {"quarantine_share_warn": 0.2, "quarantine_share_fail": 0.1},
            r"quarantine_share_warn \(0\.2\) must not exceed quarantine_share_fail \(0\.1\)",
        ),
        (
            {"min_cardinality_warn": 1, "min_cardinality_fail": 3},
            r"min_cardinality_fail \(3\) must not exceed min_cardinality_warn",
        ),
        ({"world_size": "huge"}, r"world_size: Input should be 'ci', 'demo' or 'bench'"),
        ({"as_of": "yesterday"}, r"as_of: .*'yesterday' is not a date"),
    ],
)
def test_a_bad_value_fails_naming_the_parameter(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        inventory.InventoryParams.from_notebook(values)


def test_an_unknown_name_in_a_parameters_file_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"null_rate_wran: unknown parameter"):
        validate_params(inventory.InventoryParams, {"null_rate_wran": 0.1})


def test_notebook_namespace_is_read_for_the_declared_names_only() -> None:
    namespace = {
        "data_dir": "data/demo",
        "world_size": "demo",
        "null_rate_warn": 0.1,
        "as_of": "2025-12-31",
        "store": object(),
        "In": [],
        "_": None,
    }
    params = inventory.InventoryParams.from_notebook(namespace)
    assert (params.data_dir, params.world_size, params.null_rate_warn, params.as_of) == (
        "data/demo",
        "demo",
        0.1,
        "2025-12-31",
    )


def test_thresholds_are_built_from_the_flat_parameters() -> None:
    params = inventory.InventoryParams(null_rate_warn=0.1, outlier_z=4.0, min_consent_share=0.3)
    th = params.thresholds
    assert type(th) is Thresholds
    assert (th.null_rate_warn, th.outlier_z, th.null_rate_fail) == (0.1, 4.0, Thresholds().null_rate_fail)
    assert th.model_dump() == {name: getattr(params, name) for name in Thresholds.model_fields}
