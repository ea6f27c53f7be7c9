"""Inputs of the notebook: a user's own path table with incremental estimates, or an MMM run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from galaxy_lib.mta import LATEST_MMM_RUN, MtaParams, fit_all_models, load_inputs
from galaxy_lib.mta.analysis import calibrate_if_available, compare_if_known
from galaxy_lib.mta.report import report_gates


def test_own_path_table_with_incremental_file(tmp_path: Path) -> None:
    table = tmp_path / "paths.csv"
    table.write_text(
        "path;total_conversions;total_conversion_value;total_null\n"
        "search|video;3;30;10\nvideo;2;20;5\nsearch;4;40;20\n;1;1;1\nemail|search;-1;0;2\n"
    )
    inc = tmp_path / "mmm.json"
    inc.write_text(json.dumps({"search": 1.0, "video": 3.0}))
    params = MtaParams(paths_path=str(table), separator="|", incremental_path=str(inc), markov_order=1)
    inputs = load_inputs(params)
    assert inputs.journeys is None and inputs.truth is None
    assert inputs.paths.n_paths == 3
    assert sorted(inputs.quarantine()["_rule"]) == ["empty_path", "negative_conversions"]
    s = inputs.summary()
    assert s["source"] == "path table paths.csv" and s["quarantined_path_rows"] == 2
    assert s["calibration_source"] == "mmm.json" and s["truth_known"] is False
    results = fit_all_models(inputs.paths, markov_orders=(1,))
    cal = calibrate_if_available(results, params.calibrated_model_name, inputs.incremental)
    assert cal is not None and cal.shares()["video"] == pytest.approx(0.75)
    assert compare_if_known(cal.shares().to_frame(), inputs.truth) is None
    gates = report_gates(s, None, cal)
    assert [g.gate for g in gates] == ["mta_quarantined_conversions"]
    with pytest.raises(ValueError, match="was not fitted"):
        calibrate_if_available(results, "markov_order_3", inputs.incremental)


def test_mmm_run_calibrates_the_path_model(tmp_path: Path, mmm_run) -> None:
    run = mmm_run(
        tmp_path,
        "20261101T000000Z-aaaaaa",
        {"tv": 1.5, "search": 1.0, "video": 3.0},
        {"tv": 100.0, "search": 200.0, "video": 100.0},
    )
    # the path model knows search and video only: calibration re-splits by the MMM's shares of those
    table = tmp_path / "paths.csv"
    table.write_text(
        "path;total_conversions;total_conversion_value;total_null\nsearch>video;3;30;10\nvideo;2;20;5\nsearch;4;40;20\n"
    )
    inputs = load_inputs(MtaParams(paths_path=str(table), separator=">", incremental_path=str(run), markov_order=1))
    cal = calibrate_if_available(fit_all_models(inputs.paths, markov_orders=(1,)), "markov_order_1", inputs.incremental)
    assert cal.shares()["video"] == pytest.approx(300 / 500)
    assert cal.ignored_channels == ("tv",)
    assert inputs.summary()["calibration_source"] == f"MMM run {run.name}"


def test_latest_mmm_run_parameter(tmp_path: Path, mmm_run, monkeypatch) -> None:
    """'latest:mmm' in the parameters resolves under the project's reports folder."""
    reports = tmp_path / "reports"
    mmm_run(reports, "20261101T000000Z-aaaaaa", {"video": 3.0}, {"video": 10.0})
    mmm_run(reports, "20261103T000000Z-cccccc", {}, {}, passed=False)
    mmm_run(reports, "20261102T000000Z-bbbbbb", {"video": 2.0}, {"video": 10.0})
    monkeypatch.setattr(
        "galaxy_lib.core.paths.ProjectPaths.discover",
        classmethod(lambda cls, *a, **k: type("P", (), {"reports": reports})()),
    )
    table = tmp_path / "paths.csv"
    table.write_text("path;total_conversions;total_conversion_value;total_null\nvideo;2;20;5\n")
    inputs = load_inputs(
        MtaParams(paths_path=str(table), separator=">", incremental_path=LATEST_MMM_RUN, markov_order=1)
    )
    assert inputs.incremental.source == "MMM run 20261102T000000Z-bbbbbb"
