"""The whole scheduled pipeline on CI settings: world -> every scheduled notebook -> reports.

This is the test behind the README's first command: the same scheduler, runner,
PII gate and index as ``make demo``, on the ci world, into a temporary reports folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from galaxy_lib.core.audit import AuditLog
from galaxy_lib.core.registry import verify_run_records
from galaxy_lib.governance.pii import scan_folder
from galaxy_lib.pipeline.scheduler import Scheduler, load_schedule

ROOT = Path(__file__).resolve().parents[2]
CI_SCHEDULE = ROOT / "parameters" / "ci" / "schedule.yaml"
SCHEDULE = ROOT / "parameters" / "schedule.yaml"


def test_ci_schedule_covers_every_scheduled_notebook() -> None:
    scheduled = {j.notebook for j in load_schedule(SCHEDULE).jobs if j.enabled}
    ci = {j.notebook for j in load_schedule(CI_SCHEDULE).jobs}
    assert scheduled <= ci, f"parameters/ci/schedule.yaml lacks {sorted(scheduled - ci)}"
    for job in load_schedule(SCHEDULE).jobs:
        assert (ROOT / "parameters" / job.parameters).is_file(), f"missing parameters/{job.parameters}"
        assert (ROOT / "notebooks" / job.notebook).is_file(), f"missing notebooks/{job.notebook}"


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module) -> tuple[Path, list]:
    reports = tmp_path_factory.mktemp("reports")
    spec = yaml.safe_load(CI_SCHEDULE.read_text())
    spec["reports_dir"] = str(reports)
    for job in spec["jobs"]:
        job["parameters"] = str(CI_SCHEDULE.parent / job["parameters"])
    path = reports / "schedule.yaml"
    path.write_text(yaml.safe_dump(spec))
    outcomes = Scheduler.from_file(path).run_all()
    return reports, outcomes


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.setenv("GALAXY_DEMO", "1")
    yield mp
    mp.undo()


@pytest.mark.slow
def test_mmm_report_carries_the_planner_answer(pipeline_run) -> None:
    """The printed MMM report cannot run the planner widget: it shows the recommended split's comparison."""
    reports, outcomes = pipeline_run
    mmm = next(o for o in outcomes if o.job == "mmm")
    html = next((reports / "mmm").glob("*/02_mmm.html")).read_text()
    assert mmm.status in ("passed", "warn")
    assert "galaxy-static-only" in html and "per period" in html and "P(plan beats today)" in html


@pytest.mark.slow
def test_every_job_passes_and_is_indexed(pipeline_run) -> None:
    reports, outcomes = pipeline_run
    failed = [(o.job, o.status, o.reason) for o in outcomes if o.status == "failed"]
    assert not failed, f"scheduled jobs failed: {failed}"
    index = json.loads((reports / "index.json").read_text())
    listed = {r["job"]: r for r in index["runs"]}
    for o in outcomes:
        run = listed[o.job]
        assert run["status"] in ("passed", "warn")
        run_dir = reports / o.job / run["run_id"]
        for name in ("metrics.json", "manifest.json"):
            assert (run_dir / name).is_file(), f"{o.job}: {name} missing"
        assert list(run_dir.glob("*.html")), f"{o.job}: no HTML export"
    html = (reports / "index.html").read_text()
    assert all(o.job in html for o in outcomes)


@pytest.mark.slow
def test_inventory_metrics_carry_every_gate(pipeline_run) -> None:
    reports, _ = pipeline_run
    metrics = json.loads(next((reports / "data_inventory").glob("*/metrics.json")).read_text())
    gates = metrics["gates"]
    kinds = {g["gate"] for g in gates}
    assert {
        "null_rate",
        "latency_p95_hours",
        "duplicate_rate",
        "outlier_share",
        "stale_days",
        "consent_share",
        "pii_leak",
        "quarantine_share",
    } <= kinds
    assert all({"status", "value", "detail"} <= set(g) for g in gates)
    assert metrics["metrics"]["pii_findings_outside_raw"] == 0


@pytest.mark.slow
def test_nothing_published_contains_pii(pipeline_run) -> None:
    reports, _ = pipeline_run
    result = scan_folder(reports)
    assert result.files_scanned > 3
    assert result.ok, result.summary()


@pytest.mark.slow
def test_audit_log_records_every_run(pipeline_run) -> None:
    reports, outcomes = pipeline_run
    verification = AuditLog(reports / "audit.jsonl").verify()
    assert verification.ok, verification
    assert verification.entries >= len(outcomes)
    records = verify_run_records(reports / "audit.jsonl")  # every run's manifest and outputs as recorded
    assert records.ok, records


def test_reports_in_this_checkout_contain_no_pii() -> None:
    """After `make demo` (or any notebook run), nothing under reports/ may hold raw PII."""
    reports = ROOT / "reports"
    published = [p for p in reports.rglob("*") if p.is_file() and p.suffix in (".html", ".ipynb", ".json", ".csv")]
    if not published:
        pytest.skip("reports/ is empty: run `make demo` first")
    result = scan_folder(reports)
    assert result.ok, result.summary()
