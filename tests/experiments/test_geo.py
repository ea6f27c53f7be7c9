"""Geo-test readout on the Galaxy ci world: checked against the world's true lifts, fed to the MMM and the MTA.

The ci world (seed 42) runs 8 lift tests over 156 weeks; each leaves its footprint in
the per-geo KPI and ``ground_truth.json`` records its noise-free ``true_delta_y``
(incremental revenue per test week, cool-down included). The readouts are fitted once
per module (about 20 s on one core).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.core.store import DataStore
from galaxy_lib.experiments import ExperimentDataError, geo_data
from galaxy_lib.experiments import geo as geo_module
from galaxy_lib.experiments.geo import (
    GEO_LIFT_COLUMNS,
    GeoLiftReadout,
    geo_lift_readout,
    geo_lift_readouts,
    geo_lift_table,
    usable_lift_rows,
)
from galaxy_lib.experiments.geo_data import GeoDesignConflict, GeoTest, min_pre_weeks, overlapping_pairs
from galaxy_lib.simulate import ensure_world

#: Cheap sampling for the extra fits below (the world's readouts use the defaults).
FAST = {"draws": 300, "tune": 300, "chains": 2}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> DataStore:
    """The ci world, built and staged (the MMM's loader reads its curated table)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="GALAXY_PII_SALT is not set", category=UserWarning)
        return ensure_world(tmp_path_factory.mktemp("geo") / "ci", size="ci", progress=False)


@pytest.fixture(scope="module")
def kpi(world: DataStore) -> pd.DataFrame:
    return world.read("raw", "kpi")


@pytest.fixture(scope="module")
def spend(world: DataStore) -> pd.DataFrame:
    return world.read("raw", "spend")


@pytest.fixture(scope="module")
def design(world: DataStore) -> pd.DataFrame:
    return world.read("raw", "lift_tests")


@pytest.fixture(scope="module")
def truth(world: DataStore) -> pd.DataFrame:
    gt = json.loads((Path(world.root) / "ground_truth.json").read_text())
    return pd.DataFrame(gt["lift_tests"]).set_index("test_id")


@pytest.fixture(scope="module")
def readouts(kpi: pd.DataFrame, spend: pd.DataFrame, design: pd.DataFrame) -> list[GeoLiftReadout]:
    return geo_lift_readouts(kpi, spend, design, progress=False)


@pytest.fixture(scope="module")
def table(readouts: list[GeoLiftReadout]) -> pd.DataFrame:
    return pd.DataFrame([r.row() for r in readouts], columns=list(GEO_LIFT_COLUMNS))


# --- recovery of the world's true lifts ------------------------------------------------------------


def test_intervals_cover_the_true_lift_of_at_least_80_percent_of_tests(
    readouts: list[GeoLiftReadout], truth: pd.DataFrame
) -> None:
    assert len(readouts) == len(truth) == 8
    covered = [r.lift_low <= truth.at[r.test.test_id, "true_delta_y"] <= r.lift_high for r in readouts]
    assert np.mean(covered) >= 0.8, [
        (r.test.test_id, truth.at[r.test.test_id, "true_delta_y"], r.lift_low, r.lift_high) for r in readouts
    ]
    # Honest, not vacuous: every interval is narrower than +-3 times the week's KPI noise summed
    # over its weeks, and the estimates are not centred away from the truth.
    for r in readouts:
        weeks = r.test_weeks + r.cooldown_weeks
        assert r.lift_high - r.lift_low < 6 * r.diagnostics.residual_sd * np.sqrt(weeks) / r.test_weeks
    z = [(r.lift - truth.at[r.test.test_id, "true_delta_y"]) / r.lift_sd for r in readouts]
    assert abs(np.mean(z)) < 1.5


def test_readouts_converge_and_count_the_cooldown(readouts: list[GeoLiftReadout], truth: pd.DataFrame) -> None:
    for r in readouts:
        assert r.diagnostics.converged, (r.test.test_id, r.diagnostics)
        assert r.diagnostics.r2 > 0.5
        assert r.cooldown_weeks == truth.at[r.test.test_id, "cooldown_weeks"] == 7
        assert r.test_weeks == truth.at[r.test.test_id, "weeks"]
        assert r.hdi_prob == 0.94
        assert r.lift_low < r.lift < r.lift_high
        periods = r.series["period"].value_counts()
        assert periods["test"] == r.test_weeks and periods["cooldown"] == r.cooldown_weeks
        assert periods["pre"] == r.pre_weeks >= min_pre_weeks(r.test_weeks)
        post = r.series.loc[r.series["period"] != "pre"]
        assert np.isclose(post["impact"].sum() / r.test_weeks, r.lift, rtol=0.05, atol=200)


def test_concurrent_tests_leave_the_donor_pool(readouts: list[GeoLiftReadout]) -> None:
    by_id = {r.test.test_id: r for r in readouts}
    # LT04 (south), LT05 (west) and LT08 (east) run in autumn 2025 at the same time: north is the only donor.
    for tid in ("LT04", "LT05", "LT08"):
        assert by_id[tid].donors == ("north",)
        assert set(by_id[tid].excluded_donors) == {"south", "west", "east"} - {by_id[tid].test.geo}
    assert by_id["LT06"].donors == ("east", "south", "west")


def test_planned_spend_is_estimated_from_the_donors(readouts: list[GeoLiftReadout], design: pd.DataFrame) -> None:
    world = design.set_index("test_id")
    for r in readouts:
        assert r.x == pytest.approx(world.at[r.test.test_id, "x"], rel=0.1)
        assert np.sign(r.delta_x) == np.sign(world.at[r.test.test_id, "delta_x"])
        assert r.delta_x == pytest.approx(world.at[r.test.test_id, "delta_x"], rel=0.2)


def test_a_planted_lift_is_found_and_a_placebo_is_not(kpi: pd.DataFrame, spend: pd.DataFrame) -> None:
    """+25% revenue in west for 6 weeks (nothing else changes): the interval must find it; a quiet window must not."""
    start = pd.Timestamp("2024-03-04")
    weeks = pd.date_range(start, periods=6, freq="7D")
    planted = kpi.copy()
    hit = (planted["geo"] == "west") & planted["week"].isin(weeks)
    added = 0.25 * planted.loc[hit, "revenue"]
    planted.loc[hit, "revenue"] += added
    true_lift = float(added.sum()) / 6
    test = GeoTest("PLANT", "social", "west", start, weeks[-1], cooldown_weeks=2)
    r = geo_lift_readout(planted, spend, test, **FAST)
    assert r.lift_low <= true_lift <= r.lift_high
    assert r.lift_low > 0  # detected
    placebo = geo_lift_readout(kpi, spend, test, **FAST)
    assert placebo.lift_low <= 0 <= placebo.lift_high


# --- rows for the MMM and the MTA --------------------------------------------------------------------


def test_table_columns_and_units(table: pd.DataFrame, design: pd.DataFrame) -> None:
    assert list(table.columns) == list(GEO_LIFT_COLUMNS)
    assert list(table["test_id"]) == list(design["test_id"])
    assert (table["sigma"] > 0).all()
    assert ((table["geo_share"] > 0) & (table["geo_share"] < 1)).all()
    assert (table["delta_y_low"] < table["delta_y"]).all() and (table["delta_y"] < table["delta_y_high"]).all()
    assert (table["kpi"] == "revenue").all()


def test_rows_pass_the_mmm_lift_test_checks(table: pd.DataFrame, world: DataStore) -> None:
    from galaxy_lib.mmm.lift_tests import LIFT_TEST_COLUMNS, prepare_lift_tests

    rows = usable_lift_rows(table)
    assert len(rows) >= 6
    channels = sorted(rows["channel"].unique())
    frame = pd.DataFrame({"date": [pd.Timestamp("2024-01-01")], "geo": ["north"], **{c: [1.0] for c in channels}})
    out, _ = prepare_lift_tests(rows, frame, {c: c for c in channels}, ("east", "north", "south", "west"))
    assert set(LIFT_TEST_COLUMNS) <= set(out.columns)
    assert len(out) == len(rows)


def test_rows_feed_02_mmm_as_lift_tests_path(table: pd.DataFrame, world: DataStore, tmp_path: Path) -> None:
    from galaxy_lib.mmm.data import MMMDataConfig, load_mmm_data

    path = tmp_path / "geo_lift_tests.csv"
    usable_lift_rows(table).to_csv(path, index=False)
    per_geo = load_mmm_data(MMMDataConfig(geo_column="geo", lift_tests_path=str(path)), store=world)
    assert per_geo.lift_tests is not None and len(per_geo.lift_tests) == len(usable_lift_rows(table))
    assert set(per_geo.lift_tests["geo"]) <= set(per_geo.geos)
    national = load_mmm_data(MMMDataConfig(lift_tests_path=str(path)), store=world)
    lt = national.lift_tests
    assert lt is not None
    # A national model scales each geo row by its geo_share: x / share is national spend per week.
    assert np.allclose(lt["x"] * lt["geo_share"], usable_lift_rows(table)["x"])


def test_unusable_rows_are_dropped_with_a_warning(table: pd.DataFrame, caplog: pytest.LogCaptureFixture) -> None:
    flipped = table.copy()
    flipped.loc[0, "delta_y"] = -np.sign(flipped.loc[0, "delta_x"]) * 100.0
    with caplog.at_level("WARNING"):
        rows = usable_lift_rows(flipped)
    assert table.loc[0, "test_id"] not in set(rows["test_id"])
    assert table.loc[0, "test_id"] in caplog.text


def test_rows_feed_the_mta_calibration(table: pd.DataFrame, spend: pd.DataFrame) -> None:
    from galaxy_lib.mta.incremental import incremental_from_lift_tests

    est = incremental_from_lift_tests(usable_lift_rows(table), spend)
    assert est.unit == "revenue"
    assert set(est.table.index) == set(usable_lift_rows(table)["channel"])
    assert (est.table["iroas"] > 0).all() and np.isfinite(est.table["iroas_se"]).all()


# --- bad input: a clear error before any model is fitted ---------------------------------------------


@pytest.fixture
def no_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a model would be fitted."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was fitted before the input was checked")

    monkeypatch.setattr(geo_module, "_fit", refuse)


def _test(**kw: object) -> GeoTest:
    base: dict = {
        "test_id": "T1",
        "channel": "social",
        "geo": "west",
        "start_week": "2024-03-04",
        "end_week": "2024-04-08",
    }
    return GeoTest(**{**base, **kw})


def test_test_geo_not_in_the_kpi_table(kpi: pd.DataFrame, spend: pd.DataFrame, no_fit: None) -> None:
    with pytest.raises(ExperimentDataError, match=r"test geo 'atlantis' is not in the KPI table's 'geo' column.*east"):
        geo_lift_readout(kpi, spend, _test(geo="atlantis"))


def test_channel_not_in_spend(kpi: pd.DataFrame, spend: pd.DataFrame, no_fit: None) -> None:
    with pytest.raises(ExperimentDataError, match=r"channel 'radio' is not in the spend table's 'channel' column"):
        geo_lift_readout(kpi, spend, _test(channel="radio"))


def test_pre_period_too_short(kpi: pd.DataFrame, spend: pd.DataFrame, no_fit: None) -> None:
    with pytest.raises(ExperimentDataError, match=r"pre-period has 10 usable week\(s\).*needs at least 18"):
        geo_lift_readout(kpi, spend, _test(start_week="2023-03-13", end_week="2023-04-17"))


def test_no_donor_geo(kpi: pd.DataFrame, spend: pd.DataFrame, no_fit: None) -> None:
    others = [_test(test_id=f"O{i}", geo=g) for i, g in enumerate(("north", "south", "east"))]
    with pytest.raises(ExperimentDataError, match=r"no donor geo for 'west'.*under test at the same time"):
        geo_lift_readout(kpi, spend, _test(), other_tests=others)
    with pytest.raises(ExperimentDataError, match=r"no donor geo for 'west'.*only geo"):
        geo_lift_readout(kpi.loc[kpi["geo"] == "west"], spend, _test())


def test_overlapping_windows_in_one_geo(kpi: pd.DataFrame, spend: pd.DataFrame, no_fit: None) -> None:
    design = pd.DataFrame(
        {
            "test_id": ["A", "B"],
            "channel": ["social", "tv"],
            "geo": ["west", "west"],
            "start_week": ["2024-03-04", "2024-05-06"],
            "end_week": ["2024-04-08", "2024-05-27"],
        }
    )
    with pytest.raises(ExperimentDataError, match=r"tests A and B both run in geo 'west'.*shorten cooldown_weeks"):
        geo_lift_table(kpi, spend, design, progress=False)
    # Without the cool-down they no longer meet.
    assert not overlapping_pairs(geo_data.tests_from_design(design.assign(cooldown_weeks=0)))


def test_overlapping_tests_can_be_left_out(
    kpi: pd.DataFrame, spend: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(geo_module, "_fit", lambda prep, *a, **k: prep.test.test_id)
    design = pd.DataFrame(
        {
            "test_id": ["A", "B", "C"],
            "channel": ["social", "tv", "search"],
            "geo": ["west", "west", "north"],
            "start_week": ["2024-03-04", "2024-03-18", "2024-03-04"],
            "end_week": ["2024-04-08", "2024-04-22", "2024-04-08"],
        }
    )
    with caplog.at_level("WARNING"):
        read = geo_lift_readouts(kpi, spend, design, conflicts="skip", progress=False)
    assert read == ["C"]
    assert "geo test A overlaps" in caplog.text and "geo test B overlaps" in caplog.text
    # A test whose every other geo is under test has no donor: a conflict, skipped too.
    crowded = pd.concat(
        [design.iloc[[0, 2]], design.iloc[[2, 2]].assign(test_id=["D", "E"], geo=["south", "east"])],
        ignore_index=True,
    )
    with pytest.raises(GeoDesignConflict, match=r"test A: no donor geo for 'west'.*conflicts='skip'"):
        geo_lift_readouts(kpi, spend, crowded, progress=False)
    with caplog.at_level("WARNING"):
        read = geo_lift_readouts(kpi, spend, crowded, conflicts="skip", progress=False)
    assert read == [] and "geo test E left out" in caplog.text


def test_missing_weeks_and_values(kpi: pd.DataFrame, spend: pd.DataFrame, no_fit: None) -> None:
    holed = kpi.drop(kpi.index[(kpi["geo"] == "south") & (kpi["week"] == pd.Timestamp("2023-06-05"))])
    with pytest.raises(ExperimentDataError, match=r"geo 'south' has no KPI row for 1 week\(s\).*2023, 6, 5"):
        geo_lift_readout(holed, spend, _test())
    gap = kpi.loc[kpi["week"] != pd.Timestamp("2023-06-05")]
    with pytest.raises(ExperimentDataError, match=r"not a regular weekly series.*missing weeks"):
        geo_lift_readout(gap, spend, _test())
    blank = kpi.assign(revenue=kpi["revenue"].where(kpi.index != 5))
    with pytest.raises(ExperimentDataError, match=r"KPI column 'revenue' has 1 missing"):
        geo_lift_readout(blank, spend, _test())
    with pytest.raises(ExperimentDataError, match=r"lacks column\(s\) \['sales'\].*kpi_column"):
        geo_lift_readout(kpi, spend, _test(), kpi_column="sales")


def test_bad_design_rows(kpi: pd.DataFrame, spend: pd.DataFrame, design: pd.DataFrame, no_fit: None) -> None:
    with pytest.raises(ExperimentDataError, match=r"design lacks column\(s\) \['end_week'\]"):
        geo_lift_table(kpi, spend, design.drop(columns="end_week"), progress=False)
    with pytest.raises(ExperimentDataError, match=r"end_week 2024-01-01 is before start_week"):
        _test(end_week="2024-01-01")
    with pytest.raises(ExperimentDataError, match=r"start_week 2024-03-05 is not a week of the KPI table"):
        geo_lift_readout(kpi, spend, _test(start_week="2024-03-05"))
    # One bad test at the end of the design stops the readout before the first fit.
    bad = pd.concat([design, design.iloc[[0]].assign(test_id="LT99", geo="atlantis")], ignore_index=True)
    with pytest.raises(ExperimentDataError, match=r"test LT99: test geo 'atlantis'"):
        geo_lift_table(kpi, spend, bad, progress=False)
