"""Calibration, truth comparison, credit tables and k-suppression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.mta import heuristic_attribution, markov_attribution
from galaxy_lib.mta.analysis import (
    PublishedPaths,
    calibrate,
    calibrate_if_available,
    calibration_columns,
    compare_to_truth,
    credit_long,
    credit_table,
    inputs_table,
    publishable_paths,
    shares_with_calibration,
    top_paths,
)
from galaxy_lib.mta.incremental import IncrementalEstimate

from .conftest import SMALL_PATHS

PATHS = SMALL_PATHS


def test_relative_calibration_resplits_the_calibrated_channels() -> None:
    last = heuristic_attribution(PATHS, "last_touch")
    inc = {"search": 1.0, "video": 3.0, "social": 2.0, "display": 2.0, "tv": 5.0}
    cal = calibrate(last, inc)
    t = cal.table
    k = ["search", "video", "social", "display"]
    # combined credit of the calibrated channels is unchanged, split 1:3:2:2
    assert t.loc[k, "calibrated_conversions"].sum() == pytest.approx(t.loc[k, "attributed_conversions"].sum())
    np.testing.assert_allclose(
        t.loc[k, "calibrated_conversions"] / t.loc[k, "calibrated_conversions"].sum(), [1 / 8, 3 / 8, 2 / 8, 2 / 8]
    )
    # channels without an estimate keep their credit; TV has no touch and is reported as ignored
    assert t.loc["direct", "calibrated_conversions"] == t.loc["direct", "attributed_conversions"] == 5
    assert t.loc["direct", "factor"] == 1.0 and not t.loc["direct", "calibrated"]
    assert cal.ignored_channels == ("tv",)
    # search had 24 last-touch conversions of the 25 in k; it keeps 1/8 of them
    assert t.loc["search", "factor"] == pytest.approx((25 / 8) / 24)
    assert np.isnan(t.loc["video", "factor"])  # no last-touch credit to scale: factor undefined
    assert cal.shares().sum() == pytest.approx(1.0)
    assert cal.as_result().credit["conversions"].sum() == pytest.approx(last.credit["conversions"].sum())


def test_absolute_calibration_sets_credit_to_the_estimate() -> None:
    lin = heuristic_attribution(PATHS, "linear")
    cal = calibrate(lin, {"search": 5.0, "video": 2.0}, mode="absolute", basis="conversions")
    t = cal.table
    assert t.loc["search", "calibrated_conversions"] == 5.0 and t.loc["video", "calibrated_conversions"] == 2.0
    ratio = 5.0 / t.loc["search", "attributed_conversions"]
    assert t.loc["search", "calibrated_revenue"] == pytest.approx(t.loc["search", "attributed_revenue"] * ratio)


def test_calibration_errors() -> None:
    last = heuristic_attribution(PATHS, "last_touch")
    with pytest.raises(ValueError, match="No channel of the model"):
        calibrate(last, {"tv": 1.0})
    with pytest.raises(ValueError, match="mode must be"):
        calibrate(last, {"search": 1.0}, mode="magic")
    with pytest.raises(ValueError, match="finite and >= 0"):
        calibrate(last, {"search": -1.0})


def test_compare_to_truth() -> None:
    shares = pd.DataFrame({"a": [0.5, 0.5, 0.0], "b": [0.2, 0.3, 0.5]}, index=["x", "y", "z"])
    out = compare_to_truth(shares, {"x": 0.2, "y": 0.3, "z": 0.5})
    assert out.loc["b", "total_variation"] == pytest.approx(0.0)
    assert out.loc["a", "total_variation"] == pytest.approx(0.5)
    assert out.loc["a", "worst_channel"] == "z"
    assert list(out.index) == ["b", "a"]
    with pytest.raises(ValueError, match="sum to 1"):
        compare_to_truth(shares, {"x": 0.5})


def test_publishable_paths_suppresses_small_paths() -> None:
    pub = publishable_paths(PATHS, k=10)
    t = pub.table
    # "display" (2 journeys) and "video > social > direct" (4) are merged into one row, itself < 10 -> blanked
    assert pub.suppressed_paths == 2 and pub.suppressed_journeys == 6
    assert "display" not in set(t["path"]) and "video > social > direct" not in set(t["path"])
    other = t[t["path"].str.startswith("(paths with fewer than 10")]
    assert len(other) == 1 and other["journeys"].isna().all()
    assert t.loc[t["path"] == "search", "journeys"].item() == 68
    assert PublishedPaths.OTHER.startswith("(paths")
    assert "2 paths" in pub.summary()
    big = publishable_paths(PATHS, k=5)
    assert big.table["journeys"].notna().all()  # merged small paths: 2 + 4 = 6 >= 5


def test_top_paths_and_tables() -> None:
    top = top_paths(PATHS, n=2)
    assert top["path"].tolist() == ["search", "video > search"]
    top_c = top_paths(PATHS, n=1, by="conversions", min_journeys=60)
    assert top_c["path"].tolist() == ["search"]
    results = {"last_touch": heuristic_attribution(PATHS, "last_touch"), "markov_order_1": markov_attribution(PATHS)}
    wide = credit_table(results)
    assert wide.shape == (len(PATHS.channels), 2) and np.allclose(wide.sum(), 1.0)
    long = credit_long(results)
    assert set(long["model"]) == set(results) and "removal_effect" in long.columns


def test_calibration_from_an_estimate_and_the_shares_table() -> None:
    results = {"last_touch": heuristic_attribution(PATHS, "last_touch"), "markov_order_1": markov_attribution(PATHS)}
    est = IncrementalEstimate(
        table=pd.DataFrame({"incremental": {"search": 1.0, "video": 3.0}}), unit="revenue", source="test"
    )
    assert calibrate_if_available(results, "markov_order_1", None) is None
    cal = calibrate_if_available(results, "markov_order_1", est)
    assert cal.source == "test" and cal.basis == "revenue"
    shares = shares_with_calibration(results, cal)
    assert list(shares.columns) == ["last_touch", "markov_order_1", "markov_order_1_calibrated"]
    assert np.allclose(shares.sum(), 1.0)
    assert calibration_columns(shares, cal) == ["markov_order_1", "markov_order_1_calibrated"]
    assert calibration_columns(shares, None) == []


def test_inputs_table_reads_as_a_table() -> None:
    table = inputs_table({"journeys": 419102, "mean_touches_per_path": 4.7553, "truth_known": True, "source": "events"})
    assert table.index.tolist() == ["journeys", "mean touches per path", "truth known", "source"]
    assert table["value"].tolist() == ["419,102", "4.76", "True", "events"]
