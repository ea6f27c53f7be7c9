"""Every family fitted on one table (``galaxy_lib.mta.models.fit_all_models``)."""

from __future__ import annotations

import math

import pytest

from galaxy_lib.mta import HEURISTIC_MODELS, PathTableError, fit_all_models, parse_path_table
from galaxy_lib.mta.models import as_path_table

from .reference import table


def test_fit_all_models_names() -> None:
    res = fit_all_models(parse_path_table(table()), markov_orders=(1, 3))
    assert list(res) == [*HEURISTIC_MODELS, "markov_order_1", "markov_order_3", "shapley"]
    for r in res.values():
        assert math.isclose(r.credit["conversions"].sum(), 30.0, rel_tol=1e-9)


def test_as_path_table_is_strict_with_dataframes() -> None:
    parsed = parse_path_table(table())
    assert as_path_table(parsed) is parsed
    bad = table()
    bad.loc[0, "total_conversions"] = -1
    with pytest.raises(PathTableError, match=r"1 of 11 path rows are invalid \(row 0: "):
        as_path_table(bad)
    with pytest.raises(TypeError, match="PathTable or a pandas DataFrame"):
        as_path_table([("a", 1)])
