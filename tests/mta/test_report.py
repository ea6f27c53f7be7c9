"""The run's gates, its typed metrics payload and the one publish call."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from galaxy_lib.core.gates import Gate
from galaxy_lib.core.metrics import read_metrics
from galaxy_lib.mta import MtaInputs, fit_all_models, publish
from galaxy_lib.mta.analysis import (
    calibrate,
    compare_to_truth,
    credit_table,
    publishable_paths,
    shares_with_calibration,
    top_paths,
)
from galaxy_lib.mta.plots import attributed_vs_incremental, credit_by_model, journey_sankey
from galaxy_lib.mta.report import FIGURES, NOTEBOOK, report_gates, report_metrics
from galaxy_lib.schemas.mta import MtaMetrics

from .conftest import SMALL_PATHS

PATHS = SMALL_PATHS


@pytest.mark.parametrize(
    ("quarantined", "status"), [(0, "pass"), (25, "pass"), (26, "warn"), (50, "warn"), (51, "fail")]
)
def test_quarantine_gate_grades_the_share_of_conversions(quarantined: int, status: str) -> None:
    (gate,) = report_gates({"conversions": 100 - quarantined, "quarantined_conversions": quarantined}, None, None)
    assert isinstance(gate, Gate) and gate.gate == "mta_quarantined_conversions"
    assert (gate.value, gate.status, gate.warn_at, gate.fail_at) == (quarantined / 100, status, 0.25, 0.5)
    assert gate.table == "conversions" and gate.column is None
    assert f"{quarantined} of 100 conversions" in gate.detail


def test_quarantine_gate_without_conversions_passes() -> None:
    (gate,) = report_gates({}, None, None)
    assert (gate.value, gate.status) == (0.0, "pass")


@pytest.mark.parametrize(("calibrated_tv", "status"), [(0.2, "pass"), (0.4, "warn"), (0.5, "warn")])
def test_calibrated_gate_passes_only_when_strictly_closer_than_last_touch(calibrated_tv: float, status: str) -> None:
    cal = calibrate(fit_all_models(PATHS, markov_orders=(1,))["markov_order_1"], {"search": 1.0, "video": 2.0})
    comparison = pd.DataFrame({"total_variation": {"markov_order_1_calibrated": calibrated_tv, "last_touch": 0.4}})
    gates = report_gates({"conversions": 30, "quarantined_conversions": 0}, comparison, cal)
    gate = gates[1]
    assert gate.gate == "mta_calibrated_vs_last_touch" and gate.status == status
    assert (gate.value, gate.warn_at, gate.fail_at) == (calibrated_tv, 0.4, None)
    assert (gate.table, gate.column) == ("credit", "markov_order_1_calibrated")
    # no truth (or no calibration): no such gate
    assert len(report_gates({"conversions": 30}, None, cal)) == 1
    assert len(report_gates({"conversions": 30}, comparison, None)) == 1


def _run(calibrated: bool = True):
    results = fit_all_models(PATHS, markov_orders=(1,))
    cal = calibrate(results["markov_order_1"], {"search": 1.0, "video": 3.0, "tv": 2.0}) if calibrated else None
    truth = {c: 1 / len(PATHS.channels) for c in PATHS.channels}
    shares = shares_with_calibration(results, cal)
    comparison = compare_to_truth(shares, truth) if calibrated else None
    inputs = MtaInputs(
        paths=PATHS, journeys=None, truth=truth if calibrated else None, incremental=None, source="path table test.csv"
    )
    return inputs, results, cal, comparison


def test_report_metrics_is_the_typed_payload() -> None:
    inputs, results, cal, comparison = _run()
    m = report_metrics(results, inputs.summary(), cal, comparison)
    assert isinstance(m, MtaMetrics)
    assert m.models == [*results, "markov_order_1_calibrated"]
    assert m.credit["linear"]["search"].conversions == pytest.approx(8 + 5 + 3)
    assert m.calibration.factors["email"] == 1.0 and m.calibration.ignored_channels == ["tv"]
    assert set(m.truth_total_variation) == set(m.models)
    dumped = m.model_dump(mode="json")
    json.dumps(dumped, allow_nan=False)
    # a path table has no journey counts: those keys are left out, not written as null
    assert "unique_paths" not in dumped["inputs"] and dumped["inputs"]["quarantined_path_rows"] == 0
    bare = report_metrics(results, inputs.summary()).model_dump(mode="json")
    assert list(bare) == ["credit", "models", "inputs"]


def test_publish_writes_the_run_folder(tmp_path: Path) -> None:
    inputs, results, cal, comparison = _run()
    figures = {
        "credit_by_model": credit_by_model(credit_table(results)),
        "journeys_sankey": journey_sankey(top_paths(PATHS, n=3)),
        "attributed_vs_incremental": attributed_vs_incremental(cal),
        "credit_vs_truth": None,  # skipped
    }
    path = publish(
        tmp_path / "run",
        inputs,
        results,
        publishable_paths(PATHS, k=5),
        calibration=cal,
        comparison=comparison,
        figures=figures,
    )
    assert path == tmp_path / "run" / "metrics.json"
    run = read_metrics(path, MtaMetrics)
    assert run.notebook == NOTEBOOK == "03_mta"
    assert [g.gate for g in run.gates] == ["mta_quarantined_conversions", "mta_calibrated_vs_last_touch"]
    assert run.status == ("passed" if all(g.status == "pass" for g in run.gates) else "warn")
    assert [t.name for t in run.tables] == [
        "credit",
        "paths_published",
        "quarantine_rules",
        "calibration",
        "truth_comparison",
    ]
    assert [f.name for f in run.figures] == ["credit_by_model", "journeys_sankey", "attributed_vs_incremental"]
    assert run.metrics.inputs.source == "path table test.csv"
    credit = pd.read_csv(tmp_path / "run" / "credit.csv")
    assert set(credit["model"]) == set(results)


def test_publish_without_calibration_or_truth(tmp_path: Path) -> None:
    inputs, results, _, _ = _run(calibrated=False)
    path = publish(tmp_path / "run", inputs, results, publishable_paths(PATHS, k=5))
    raw = json.loads(path.read_text())
    assert "calibration" not in raw["metrics"] and "truth_total_variation" not in raw["metrics"]
    assert [t["name"] for t in raw["tables"]] == ["credit", "paths_published", "quarantine_rules"]
    assert raw["figures"] == [] and raw["status"] == "passed"


def test_publish_refuses_an_unknown_figure(tmp_path: Path) -> None:
    inputs, results, _, _ = _run(calibrated=False)
    with pytest.raises(ValueError, match="unknown figure name"):
        publish(tmp_path / "run", inputs, results, publishable_paths(PATHS, k=5), figures={"credit": None})
    assert not (tmp_path / "run" / "metrics.json").exists()
    assert set(FIGURES) == {"credit_by_model", "journeys_sankey", "attributed_vs_incremental", "credit_vs_truth"}
