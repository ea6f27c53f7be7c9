"""Notebook parameters and inputs: a user's own path table and incremental estimates."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from galaxy_lib.core.config import ConfigError, validate_params
from galaxy_lib.mta import MtaParams, PathTableError, fit_all_models, load_inputs, read_incremental
from galaxy_lib.mta.analysis import calibrate_if_available, compare_if_known, report_gates


def test_params_are_validated() -> None:
    p = validate_params(MtaParams, {"markov_order": 2, "calibration_model": "shapley"})
    assert p.calibrated_model_name == "shapley"
    assert MtaParams().calibrated_model_name == "markov_order_3"
    with pytest.raises(ConfigError, match="markov_order"):
        validate_params(MtaParams, {"markov_order": 4})
    with pytest.raises(ConfigError, match="unknown parameter"):
        validate_params(MtaParams, {"lookback": 30})
    with pytest.raises(ConfigError, match="calibration_model"):
        validate_params(MtaParams, {"calibration_model": "u_shaped"})


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
    results = fit_all_models(inputs.paths, markov_orders=(1,))
    cal = calibrate_if_available(results, params.calibrated_model_name, inputs.incremental)
    assert cal is not None and cal.shares()["video"] == pytest.approx(0.75)
    assert compare_if_known(cal.shares().to_frame(), inputs.truth) is None
    gates = report_gates(s, None, cal)
    assert [g["gate"] for g in gates] == ["mta_quarantined_conversions"]
    with pytest.raises(ValueError, match="was not fitted"):
        calibrate_if_available(results, "markov_order_3", inputs.incremental)


def _mmm_run(reports: Path, run_id: str, roi: dict[str, float], spend: dict[str, float], passed: bool = True) -> Path:
    """A 02_mmm run folder written the way mmm.report.publish writes one (ReportWriter + channel_metrics)."""
    from galaxy_lib.core.reporting import ReportWriter
    from galaxy_lib.mmm.report import channel_metrics

    report = ReportWriter(reports / "mmm" / run_id, notebook="02_mmm")
    if not passed:
        report.metric("results_withheld", True)
        report.write(status="failed", reason="MMM diagnostics gate failed; results withheld: max R-hat 1.2")
        return report.output_dir
    summary = pd.DataFrame({"roi_mean": roi, "spend": spend})
    summary["roi_hdi_low"] = summary["roi_mean"] * 0.8
    summary["roi_hdi_high"] = summary["roi_mean"] * 1.2
    report.metric("results_withheld", False)
    report.metric("channels", channel_metrics(summary))
    report.write()
    return report.output_dir


def test_mmm_run_as_calibration_target(tmp_path: Path) -> None:
    run = _mmm_run(tmp_path, "20261101T000000Z-aaaaaa", {"tv": 1.5, "search": 1.0, "video": 3.0},
                   {"tv": 100.0, "search": 200.0, "video": 100.0})
    for given in (run, run / "metrics.json"):
        est = read_incremental(given)
        assert est.source == f"MMM run {run.name}" and est.unit == "revenue"
        assert est.table["incremental"].to_dict() == pytest.approx({"tv": 150.0, "search": 200.0, "video": 300.0})
        # 94% interval 0.8-1.2 x ROI: sd = 0.4 x ROI / 3.76, times spend
        assert est.table.loc["video", "std_error"] == pytest.approx(0.4 * 3.0 / (2 * 1.8808) * 100.0)

    # the path model knows search and video only: calibration re-splits by the MMM's shares of those
    table = tmp_path / "paths.csv"
    table.write_text("path;total_conversions;total_conversion_value;total_null\n"
                     "search>video;3;30;10\nvideo;2;20;5\nsearch;4;40;20\n")
    inputs = load_inputs(MtaParams(paths_path=str(table), separator=">", incremental_path=str(run), markov_order=1))
    cal = calibrate_if_available(fit_all_models(inputs.paths, markov_orders=(1,)), "markov_order_1", inputs.incremental)
    assert cal.shares()["video"] == pytest.approx(300 / 500)
    assert inputs.summary()["calibration_source"] == f"MMM run {run.name}"


def test_latest_mmm_run_skips_failed_runs(tmp_path: Path, monkeypatch) -> None:
    from galaxy_lib.mta import LATEST_MMM_RUN, latest_mmm_run

    reports = tmp_path / "reports"
    with pytest.raises(PathTableError, match="no 02_mmm run .* passed its gate yet"):
        latest_mmm_run(reports)
    old = _mmm_run(reports, "20261101T000000Z-aaaaaa", {"video": 3.0}, {"video": 10.0})
    _mmm_run(reports, "20261103T000000Z-cccccc", {}, {}, passed=False)
    newer = _mmm_run(reports, "20261102T000000Z-bbbbbb", {"video": 2.0}, {"video": 10.0})
    assert latest_mmm_run(reports) == newer / "metrics.json"
    with pytest.raises(PathTableError, match="failed its diagnostics gate .*max R-hat 1.2"):
        read_incremental(reports / "mmm" / "20261103T000000Z-cccccc")
    assert old.is_dir()

    # 'latest:mmm' in the parameters resolves under the project's reports folder
    monkeypatch.setattr("galaxy_lib.core.paths.ProjectPaths.discover",
                        classmethod(lambda cls, *a, **k: type("P", (), {"reports": reports})()))
    table = tmp_path / "paths.csv"
    table.write_text("path;total_conversions;total_conversion_value;total_null\nvideo;2;20;5\n")
    inputs = load_inputs(MtaParams(paths_path=str(table), separator=">", incremental_path=LATEST_MMM_RUN,
                                   markov_order=1))
    assert inputs.incremental.source == "MMM run 20261102T000000Z-bbbbbb"
