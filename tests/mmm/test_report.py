"""Publishing a run: a failed gate withholds the results; a passing one carries the metrics contract."""

from __future__ import annotations

import json
from pathlib import Path

from galaxy_lib.core.reporting import ReportWriter
from galaxy_lib.mmm import GateThresholds, MediaMixModel, channel_summary, diagnose
from galaxy_lib.mmm.report import publish, world_true_roi


def test_failed_gate_withholds_results(world_model, tmp_path: Path) -> None:
    diag = diagnose(world_model, GateThresholds(ess_warn=1e6, ess_fail=1e5))
    summary = channel_summary(world_model, marginal=False)
    path = publish(ReportWriter(tmp_path, notebook="02_mmm"), world_model, diag, summary=summary)
    doc = json.loads(path.read_text())
    assert doc["status"] == "failed" and "mmm_min_ess" in doc["status_reason"]
    assert doc["metrics"]["results_withheld"] is True and "channels" not in doc["metrics"]
    assert not (tmp_path / "channel_summary.csv").exists()
    assert doc["metrics"]["diagnostics"]["gate_status"] == "fail"
    assert MediaMixModel.load(tmp_path / "mmm_model.nc").n_lift_tests_ == world_model.n_lift_tests_


def test_passing_gate_publishes_the_contract(world_model, world_dir: Path, tmp_path: Path) -> None:
    diag = diagnose(world_model)
    summary = channel_summary(world_model, marginal=False)
    path = publish(ReportWriter(tmp_path, notebook="02_mmm"), world_model, diag, summary=summary, save_model=False)
    doc = json.loads(path.read_text())
    assert doc["status"] in ("passed", "warn") and doc["metrics"]["results_withheld"] is False
    for ch, fields in doc["metrics"]["channels"].items():
        assert {"roi_mean", "roi_hdi_low", "roi_hdi_high", "contribution_share"} <= set(fields)
        assert fields["roi_hdi_low"] <= fields["roi_mean"] <= fields["roi_hdi_high"]
    assert {g["gate"] for g in doc["gates"]} >= {"mmm_max_rhat", "mmm_min_ess", "mmm_divergences"}
    assert set(world_true_roi(world_dir)) == set(doc["metrics"]["channels"])
    assert world_true_roi(tmp_path) is None
