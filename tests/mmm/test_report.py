"""Publishing a run: one publish() writes a typed metrics.json; a failed gate withholds the results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from galaxy_lib.core.metrics import read_metrics
from galaxy_lib.mmm import (
    GateThresholds,
    MediaMixModel,
    diagnose,
    plots,
    publish,
    recovery_against_truth,
    world_true_roi,
)
from galaxy_lib.mmm.report import CHANNEL_METRICS, channel_metrics
from galaxy_lib.schemas.mmm import MMMMetrics


def test_channel_metrics_contract(world_summary) -> None:
    m = channel_metrics(world_summary)
    assert set(m) == set(world_summary.index)
    for fields in m.values():
        assert set(CHANNEL_METRICS) <= set(fields)
        assert all(isinstance(v, float) for v in fields.values())


def test_failed_gate_withholds_results(world_model, world_summary, world_dir, world_budget, tmp_path: Path) -> None:
    diag = diagnose(world_model, GateThresholds(ess_warn=1e6, ess_fail=1e5))
    recovery = recovery_against_truth(world_summary, world_true_roi(world_dir))
    figures = {
        "data": plots.spend_chart(world_model.data_.frame, world_model.data_.channels),
        "roi": plots.roi_chart(world_summary),
    }
    path = publish(
        tmp_path,
        world_model,
        diag,
        summary=world_summary,
        budget=world_budget,
        recovery=recovery,
        tables={"extra": world_summary},
        figures=figures,
    )
    doc = json.loads(path.read_text())
    assert doc["status"] == "failed" and "mmm_min_ess" in doc["status_reason"]
    assert doc["status_reason"].startswith("MMM diagnostics gate failed; results withheld: ")
    m = doc["metrics"]
    assert m["results_withheld"] is True
    assert m["channels"] is None and m["budget"] is None and m["recovery"] is None
    assert m["diagnostics"]["gate_status"] == "fail" and m["model_path"] == "mmm_model.nc"
    assert [t["name"] for t in doc["tables"]] == ["diagnostics_parameters"]
    assert not (tmp_path / "channel_summary.csv").exists() and not (tmp_path / "extra.csv").exists()
    assert [f["name"] for f in doc["figures"]] == ["data"]  # what shows why; not the withheld ROI
    assert MediaMixModel.load(tmp_path / "mmm_model.nc").n_lift_tests_ == world_model.n_lift_tests_


def test_passing_gate_publishes_the_contract(
    world_model, world_summary, world_dir, world_budget, tmp_path: Path
) -> None:
    diag = diagnose(world_model)
    recovery = recovery_against_truth(world_summary, world_true_roi(world_dir))
    path = publish(
        tmp_path,
        world_model,
        diag,
        summary=world_summary,
        budget=world_budget,
        recovery=recovery,
        tables={"extra": world_summary},
        figures={"roi": plots.roi_chart(world_summary)},
        save_model=False,
    )
    doc = json.loads(path.read_text())
    assert doc["notebook"] == "02_mmm"
    assert doc["status"] in ("passed", "warn") and doc["metrics"]["results_withheld"] is False
    for fields in doc["metrics"]["channels"].values():
        assert set(fields) == set(CHANNEL_METRICS)
        assert fields["roi_hdi_low"] <= fields["roi_mean"] <= fields["roi_hdi_high"]
    assert doc["metrics"]["channels"] == channel_metrics(world_summary)
    assert doc["metrics"]["budget"] == json.loads(json.dumps(world_budget.to_metrics()))
    assert doc["metrics"]["recovery"]["n_covered"] == recovery["n_covered"]
    assert doc["metrics"]["model_path"] is None and not (tmp_path / "mmm_model.nc").exists()
    assert [g["gate"] for g in doc["gates"]] == [g.gate for g in diag.gates]
    assert [t["name"] for t in doc["tables"]] == [
        "diagnostics_parameters",
        "channel_summary",
        "budget_allocation",
        "extra",
    ]
    assert [f["name"] for f in doc["figures"]] == ["roi"]
    assert set(world_true_roi(world_dir)) == set(doc["metrics"]["channels"])
    # what other workflows read: the envelope and the typed payload
    run = read_metrics(path, MMMMetrics)
    assert run.passed and run.metrics.channels["tv"].roi_mean == doc["metrics"]["channels"]["tv"]["roi_mean"]
    assert run.metrics.sampler.draws == world_model.config.draws
    assert run.metrics.data.channels == list(world_model.data_.channels)


def test_publish_defaults_to_the_adhoc_folder(world_model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import galaxy_lib.core.reporting as reporting

    monkeypatch.setattr(reporting, "find_project_root", lambda: tmp_path)
    path = publish("", world_model, diagnose(world_model), save_model=False)
    assert path == tmp_path / "reports" / "adhoc" / "02_mmm" / "metrics.json"
    assert json.loads(path.read_text())["metrics"]["channels"] is None  # no summary given: none published
