"""Heuristics against hand-computed splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.mta import HEURISTIC_MODELS, heuristic_attribution

SMALL = pd.DataFrame(
    {
        "path": ["search > social > email > direct", "direct", "display > direct"],
        "total_conversions": [4, 2, 1],
        "total_conversion_value": [40.0, 10.0, 5.0],
        "total_null": [1, 3, 0],
    }
)


def credit(model: str, **kw) -> dict[str, float]:
    return heuristic_attribution(SMALL, model, **kw).credit["conversions"].to_dict()


def test_first_last_and_last_non_direct() -> None:
    assert credit("first_touch") == {"direct": 2, "display": 1, "email": 0, "search": 4, "social": 0}
    assert credit("last_touch") == {"direct": 7, "display": 0, "email": 0, "search": 0, "social": 0}
    # all-direct path keeps its credit on direct
    assert credit("last_non_direct") == {"direct": 2, "display": 1, "email": 4, "search": 0, "social": 0}


def test_linear_and_position_based() -> None:
    lin = credit("linear")
    assert lin["search"] == pytest.approx(1.0) and lin["direct"] == pytest.approx(1 + 2 + 0.5)
    pos = credit("position_based")
    assert pos["search"] == pytest.approx(0.4 * 4)
    assert pos["social"] == pytest.approx(0.1 * 4) and pos["email"] == pytest.approx(0.1 * 4)
    assert pos["direct"] == pytest.approx(0.4 * 4 + 2 + 0.5)
    assert pos["display"] == pytest.approx(0.5)
    custom = credit("position_based", first_weight=0.3, last_weight=0.5)
    assert custom["display"] == pytest.approx(0.3 / 0.8)


def test_time_decay_in_touches_and_days() -> None:
    td = credit("time_decay", half_life=1.0)
    w = np.array([1 / 8, 1 / 4, 1 / 2, 1.0])
    w = w / w.sum()
    assert td["search"] == pytest.approx(4 * w[0])
    assert td["direct"] == pytest.approx(4 * w[3] + 2 + 2 / 3)
    timed = SMALL.assign(lag_days=["10 > 10 > 3 > 0", "0", "7 > 0"])
    res = heuristic_attribution(timed, "time_decay", half_life=7.0)
    assert res.params["decay_unit"] == "days"
    wd = 0.5 ** (np.array([10, 10, 3, 0]) / 7.0)
    wd = wd / wd.sum()
    assert res.credit.loc["social", "conversions"] == pytest.approx(4 * wd[1])
    assert res.credit.loc["display", "conversions"] == pytest.approx(0.5 / 1.5)


def test_every_heuristic_conserves_totals() -> None:
    for m in HEURISTIC_MODELS:
        res = heuristic_attribution(SMALL, m)
        assert res.credit["conversions"].sum() == pytest.approx(7.0), m
        assert res.credit["revenue"].sum() == pytest.approx(55.0), m
        assert res.credit["conversion_share"].sum() == pytest.approx(1.0), m


def test_unknown_heuristic_and_bad_weights() -> None:
    with pytest.raises(ValueError, match="Unknown heuristic model 'u_shaped'"):
        heuristic_attribution(SMALL, "u_shaped")
    with pytest.raises(ValueError, match="sum to at most 1"):
        heuristic_attribution(SMALL, "position_based", first_weight=0.7, last_weight=0.5)
    with pytest.raises(ValueError, match="half_life must be > 0"):
        heuristic_attribution(SMALL, "time_decay", half_life=0)
