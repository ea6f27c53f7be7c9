"""Calibration targets: lift tests, a user's file, and an MMM run read through its schema."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.core.reporting import ReportWriter
from galaxy_lib.mta import PathTableError, incremental_from_mmm_run, latest_mmm_run, read_incremental
from galaxy_lib.mta.incremental import IncrementalEstimate, incremental_from_lift_tests


def test_incremental_from_lift_tests() -> None:
    lt = pd.DataFrame(
        {
            "channel": ["search", "search", "video"],
            "delta_x": [100.0, -50.0, 10.0],
            "delta_y": [200.0, -80.0, 40.0],
            "sigma": [20.0, 10.0, 4.0],
        }
    )
    spend = pd.DataFrame({"channel": ["search", "search", "video", "tv"], "spend": [500.0, 500.0, 250.0, 9.0]})
    est = incremental_from_lift_tests(lt, spend)
    # search: iROAS 2.0 (se 0.2) and 1.6 (se 0.2) -> equal weights -> 1.8
    assert est.table.loc["search", "iroas"] == pytest.approx(1.8)
    assert est.table.loc["search", "incremental"] == pytest.approx(1800.0)
    assert est.table.loc["video", "incremental"] == pytest.approx(1000.0)
    assert est.table.loc["search", "iroas_se"] == pytest.approx(np.sqrt(1 / 50))
    assert est.shares().sum() == pytest.approx(1.0)
    with pytest.raises(PathTableError, match="lacks columns"):
        incremental_from_lift_tests(lt.drop(columns="sigma"), spend)


def test_read_incremental(tmp_path: Path) -> None:
    f = tmp_path / "mmm.json"
    f.write_text(json.dumps({"channels": {"search": {"total_contribution": 10.0}, "video": {"incremental": 5}}}))
    est = read_incremental(f)
    assert est.table["incremental"].to_dict() == {"search": 10.0, "video": 5.0}
    c = tmp_path / "inc.csv"
    c.write_text("channel,incremental,std_error\nsearch,3,1\nsocial,4,1\n")
    assert read_incremental(c).table.loc["social", "incremental"] == 4.0
    c.write_text("channel,incremental\nsearch,-3\n")
    with pytest.raises(PathTableError, match="bad channels: \\['search'\\]"):
        read_incremental(c)
    assert isinstance(read_incremental(f), IncrementalEstimate)


def test_read_incremental_tables_go_through_the_shared_reader(tmp_path: Path) -> None:
    """Semicolons, a BOM and R's NA (a missing std_error); an unknown suffix is refused by name."""
    c = tmp_path / "inc.csv"
    c.write_bytes("\ufeffchannel;incremental;std_error\nsearch;3;NA\nsocial;4;1\n".encode())
    est = read_incremental(c, unit="conversions")
    assert est.unit == "conversions" and est.table["incremental"].to_dict() == {"search": 3.0, "social": 4.0}
    assert np.isnan(est.table.loc["search", "std_error"])
    c.write_text("channel;value\nsearch;3\n")
    with pytest.raises(PathTableError, match="required column 'incremental' is missing"):
        read_incremental(c)
    x = tmp_path / "inc.xlsx"
    x.write_bytes(b"x")
    with pytest.raises(PathTableError, match=r"incremental_path: cannot read inc\.xlsx: unsupported file type"):
        read_incremental(x)
    with pytest.raises(PathTableError, match="does not exist"):
        read_incremental(tmp_path / "missing.csv")


def test_mmm_run_as_calibration_target(tmp_path: Path, mmm_run) -> None:
    run = mmm_run(
        tmp_path,
        "20261101T000000Z-aaaaaa",
        {"tv": 1.5, "search": 1.0, "video": 3.0},
        {"tv": 100.0, "search": 200.0, "video": 100.0},
    )
    for given in (run, run / "metrics.json"):
        est = read_incremental(given)
        assert est.source == f"MMM run {run.name}" and est.unit == "revenue"
        assert est.table["incremental"].to_dict() == pytest.approx({"tv": 150.0, "search": 200.0, "video": 300.0})
        # 94% interval 0.8-1.2 x ROI: sd = 0.4 x ROI / 3.76, times spend
        assert est.table.loc["video", "std_error"] == pytest.approx(0.4 * 3.0 / (2 * 1.8808) * 100.0)
        assert est.table.loc["tv", "roi"] == 1.5 and est.table.loc["tv", "spend"] == 100.0
    assert incremental_from_mmm_run(run).table.equals(read_incremental(run).table)


def test_failed_or_foreign_runs_are_refused(tmp_path: Path, mmm_run) -> None:
    failed = mmm_run(tmp_path, "20261103T000000Z-cccccc", {"video": 2.0}, {"video": 10.0}, passed=False)
    with pytest.raises(PathTableError, match=r"failed its diagnostics gate .*max R-hat 1\.2"):
        read_incremental(failed)
    with pytest.raises(PathTableError, match="failed its diagnostics gate"):
        incremental_from_mmm_run(failed / "metrics.json")

    # an MMM run whose payload does not match the MMM's schema (an older version wrote bare channels)
    old = ReportWriter(tmp_path / "mmm" / "20261104T000000Z-dddddd", notebook="02_mmm").output_dir
    doc = json.loads((failed / "metrics.json").read_text())
    doc.update(status="passed", metrics={"channels": {"video": {"roi_mean": 2.0, "spend": 10.0}}})
    (old / "metrics.json").write_text(json.dumps(doc))
    with pytest.raises(PathTableError, match="does not match the MMMMetrics schema"):
        read_incremental(old)

    # another notebook's metrics.json is not an MMM run
    doc.update(notebook="03_mta")
    (old / "metrics.json").write_text(json.dumps(doc))
    with pytest.raises(PathTableError, match=r"is not the metrics\.json of a 02_mmm run .*'03_mta'"):
        incremental_from_mmm_run(old)


def test_latest_mmm_run_skips_failed_and_unreadable_runs(tmp_path: Path, mmm_run) -> None:
    reports = tmp_path / "reports"
    with pytest.raises(PathTableError, match=r"no 02_mmm run .* was recorded by the runner as passed yet"):
        latest_mmm_run(reports)
    old = mmm_run(reports, "20261101T000000Z-aaaaaa", {"video": 3.0}, {"video": 10.0})
    mmm_run(reports, "20261103T000000Z-cccccc", {}, {}, passed=False)
    newer = mmm_run(reports, "20261102T000000Z-bbbbbb", {"video": 2.0}, {"video": 10.0})
    broken = reports / "mmm" / "20261105T000000Z-eeeeee"
    broken.mkdir()
    (broken / "metrics.json").write_text("{not json")
    assert latest_mmm_run(reports) == newer / "metrics.json"
    assert old.is_dir()


def test_a_lift_test_table_file_is_calibrated_with_the_stores_spend(tmp_path):
    """04_uplift's geo_lift_tests.csv (lift-test rows) works as incremental_path when the store's spend is known."""
    from galaxy_lib.mta.incremental import incremental_from_lift_tests, read_incremental
    from galaxy_lib.mta.paths import PathTableError

    rows = pd.DataFrame(
        {
            "test_id": ["G1", "G2", "G3"],
            "channel": ["tv", "tv", "search"],
            "geo": ["north", "south", "east"],
            "x": [1000.0, 800.0, 500.0],
            "delta_x": [500.0, -400.0, 250.0],
            "delta_y": [900.0, -600.0, 700.0],
            "sigma": [200.0, 150.0, 100.0],
        }
    )
    spend = pd.DataFrame({"channel": ["tv", "tv", "search"], "spend": [10_000.0, 5_000.0, 4_000.0]})
    path = tmp_path / "geo_lift_tests.csv"
    rows.to_csv(path, index=False)
    got = read_incremental(path, spend=spend)
    want = incremental_from_lift_tests(rows, spend)
    pd.testing.assert_series_equal(got.table["incremental"], want.table["incremental"])
    assert got.table.loc["search", "incremental"] == pytest.approx(700 / 250 * 4_000)
    assert got.unit == "revenue" and "geo_lift_tests.csv" in got.source
    with pytest.raises(PathTableError, match=r"lift-test table.*spend"):
        read_incremental(path)
