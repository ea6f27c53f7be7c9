"""k-anonymity: exactly the cells below k are suppressed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.governance.kanon import (
    KAnonymityError,
    is_k_anonymous,
    smallest_group_size,
    suppress_small_cells,
)


@pytest.fixture
def table():
    return pd.DataFrame(
        {
            "geo": ["UK", "UK", "DE", "DE", "FR", "FR"],
            "segment": ["new", "loyal", "new", "loyal", "new", "loyal"],
            "customers": [0, 4, 5, 12, 1, 10],
            "revenue": [0.0, 410.0, 520.0, 1300.0, 99.0, 1010.0],
            "week": [1, 1, 1, 1, 1, 1],
        }
    )


@pytest.mark.parametrize("k, expected", [(2, [0, 4]), (5, [0, 1, 4]), (6, [0, 1, 2, 4]), (13, [0, 1, 2, 3, 4, 5])])
def test_exactly_cells_below_k_are_suppressed(table, k, expected):
    r = suppress_small_cells(table, "customers", k, value_cols=["revenue"])
    assert list(np.flatnonzero(r.table["suppressed"])) == expected
    assert r.suppressed_rows == len(expected) and r.k == k
    sup = r.table["suppressed"]
    assert r.table.loc[sup, ["customers", "revenue"]].isna().all().all()
    kept = r.table.loc[~sup]
    assert kept["customers"].tolist() == table.loc[~sup, "customers"].tolist()
    assert kept["revenue"].tolist() == table.loc[~sup, "revenue"].tolist()
    # dimensions and columns not named stay
    assert r.table["geo"].tolist() == table["geo"].tolist() and r.table["week"].tolist() == [1] * 6
    assert (r.table.loc[~sup, "customers"] >= k).all()


def test_default_value_cols_are_all_numeric(table):
    r = suppress_small_cells(table, "customers", 5)
    assert r.value_cols == ("customers", "revenue", "week")
    assert r.table.loc[0, ["customers", "revenue", "week"]].isna().all()
    assert table.loc[0, "customers"] == 0  # input untouched


def test_missing_counts_are_suppressed(table):
    table.loc[5, "customers"] = np.nan
    assert suppress_small_cells(table, "customers", 2).table["suppressed"].tolist() == [
        True,
        False,
        False,
        False,
        True,
        True,
    ]


def test_validation(table):
    with pytest.raises(KAnonymityError, match="k must be >= 2"):
        suppress_small_cells(table, "customers", 1)
    with pytest.raises(KAnonymityError, match="integer"):
        suppress_small_cells(table, "customers", 2.5)
    with pytest.raises(KAnonymityError, match="count_col 'n' is not a column"):
        suppress_small_cells(table, "n", 5)
    with pytest.raises(KAnonymityError, match="value_cols"):
        suppress_small_cells(table, "customers", 5, value_cols=["spend"])
    with pytest.raises(KAnonymityError, match="must be numeric"):
        suppress_small_cells(table.assign(customers="many"), "customers", 5)


def test_is_k_anonymous():
    people = pd.DataFrame(
        {"geo": ["UK"] * 3 + ["DE"] * 2 + ["FR"], "age_band": ["18-34"] * 3 + ["35-54"] * 2 + ["55+"]}
    )
    assert smallest_group_size(people, ["geo", "age_band"]) == 1
    assert not is_k_anonymous(people, ["geo", "age_band"], 2)
    assert is_k_anonymous(people.iloc[:5], ["geo", "age_band"], 2)
    assert not is_k_anonymous(people.iloc[:5], ["geo", "age_band"], 3)
    with_nan = pd.DataFrame({"geo": ["UK", "UK", None]})
    assert smallest_group_size(with_nan, ["geo"]) == 1  # missing values form their own group
    with pytest.raises(KAnonymityError, match="quasi_identifiers"):
        is_k_anonymous(people, ["postcode"], 2)
