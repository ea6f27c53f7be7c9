"""Lift tests: checked, and scaled to national units by the geo's share of spend for a national model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.mmm import MMMDataError
from galaxy_lib.mmm.lift_tests import prepare_lift_tests


def _lift_frame() -> tuple[pd.DataFrame, pd.DataFrame]:
    dates = pd.date_range("2023-01-02", periods=20, freq="7D")
    geo = pd.DataFrame(
        {
            "date": np.tile(dates, 2),
            "geo": np.repeat(["north", "south"], 20),
            "tv": np.r_[np.full(20, 30.0), np.full(20, 70.0)],
        }
    )
    geo.loc[(geo.geo == "north") & (geo.date >= dates[5]) & (geo.date <= dates[8]), "tv"] = 60.0  # the test window
    national = geo.groupby("date", as_index=False)["tv"].sum()
    return geo, national


def test_lift_tests_scaled_to_national_units_by_geo_share() -> None:
    geo, national = _lift_frame()
    tests = pd.DataFrame(
        {
            "test_id": ["T1"],
            "channel": ["spend_tv"],
            "geo": ["north"],
            "x": [30.0],
            "delta_x": [30.0],
            "delta_y": [12.0],
            "sigma": [1.2],
            "start_week": [geo.date.unique()[5]],
            "end_week": [geo.date.unique()[8]],
        }
    )
    out, notes = prepare_lift_tests(tests, national, {"tv": "spend_tv"}, (), geo)
    # outside the test window north spends 30 of 100 per week: share 0.3
    assert out.loc[0, "geo_share"] == pytest.approx(0.3)
    assert out.loc[0, ["x", "delta_x", "delta_y", "sigma"]].tolist() == pytest.approx([100.0, 100.0, 40.0, 4.0])
    assert out.loc[0, "channel"] == "tv" and notes
    # a geo_share column wins; national rows are used as they are
    tests2 = tests.assign(geo_share=0.5)
    out2, _ = prepare_lift_tests(tests2, national, {"tv": "spend_tv"}, ())
    assert out2.loc[0, "x"] == pytest.approx(60.0)
    out3, _ = prepare_lift_tests(tests.assign(geo="ALL"), national, {"tv": "spend_tv"}, ())
    assert out3.loc[0, "x"] == pytest.approx(30.0)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"channel": "radio"}, "not channels of the model"),
        ({"sigma": 0.0}, "sigma must be > 0"),
        ({"delta_y": -3.0}, "opposite sign"),
        ({"delta_x": 0.0}, "changed no spend"),
    ],
)
def test_bad_lift_tests(change: dict, fragment: str) -> None:
    geo, national = _lift_frame()
    tests = pd.DataFrame({"channel": ["tv"], "x": [30.0], "delta_x": [30.0], "delta_y": [12.0], "sigma": [1.2]})
    with pytest.raises(MMMDataError, match=fragment):
        prepare_lift_tests(tests.assign(**change), national, {"tv": "spend_tv"}, (), geo)


def test_geo_test_without_geo_data_needs_a_share() -> None:
    _, national = _lift_frame()
    tests = pd.DataFrame(
        {"channel": ["tv"], "geo": ["north"], "x": [30.0], "delta_x": [30.0], "delta_y": [12.0], "sigma": [1.2]}
    )
    with pytest.raises(MMMDataError, match="geo_share"):
        prepare_lift_tests(tests, national, {"tv": "spend_tv"}, ())
