"""``latest:mmm`` calibrates only to MMM runs the runner recorded as passed (issue 15, finding 7).

The notebook's ``metrics.json`` is what the notebook wrote about itself; the runner's
verdict (errors, the PII scan) is in ``manifest.json`` and in the hash-chained
``audit.jsonl``. A run the runner failed, a run it never recorded, a manifest edited
after the run and an ad-hoc run written by a dashboard must never become a calibration
target, and the error says which runs were skipped and why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from galaxy_lib.mta import PathTableError, latest_mmm_run, read_incremental
from tests.mta.conftest import record_run, write_mmm_run

ROI, SPEND = {"video": 2.0}, {"video": 10.0}


def test_a_run_the_runner_failed_is_skipped_although_its_metrics_passed(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    good = write_mmm_run(reports, "20261101T000000Z-aaaaaa", ROI, SPEND)
    leaked = write_mmm_run(reports, "20261102T000000Z-bbbbbb", ROI, SPEND, recorded=False)
    record_run(reports, leaked, "failed", "PII scan: an e-mail address in credit.csv")
    assert json.loads((leaked / "metrics.json").read_text())["status"] == "passed"

    assert latest_mmm_run(reports) == good / "metrics.json"
    with pytest.raises(PathTableError, match=r"cannot calibrate: the runner recorded it as 'failed' \(PII scan"):
        read_incremental(leaked)  # named explicitly, it is refused too


def test_ad_hoc_and_unrecorded_runs_never_count(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    # a dashboard view publishes to reports/adhoc/02_mmm: never scanned, never audited
    write_mmm_run(reports, "02_mmm", ROI, SPEND, recorded=False, job="adhoc")
    # a run folder copied in by hand: a manifest, but no run.finished entry in the audit log
    copied = write_mmm_run(reports, "20261104T000000Z-dddddd", ROI, SPEND, recorded=False)
    record_run(reports, copied, "passed", audit=False)
    # a folder with a metrics.json and nothing else
    write_mmm_run(reports, "20261103T000000Z-cccccc", ROI, SPEND, recorded=False)

    with pytest.raises(PathTableError) as caught:
        latest_mmm_run(reports)
    message = str(caught.value)
    assert "no 02_mmm run" in message and "Skipped:" in message
    assert "adhoc/02_mmm: an ad-hoc run" in message
    assert "mmm/20261104T000000Z-dddddd: audit.jsonl has no run.finished entry" in message
    assert "mmm/20261103T000000Z-cccccc: no manifest.json" in message


def test_a_manifest_flipped_to_passed_after_the_run_is_skipped(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    good = write_mmm_run(reports, "20261101T000000Z-aaaaaa", ROI, SPEND)
    flipped = write_mmm_run(reports, "20261102T000000Z-bbbbbb", ROI, SPEND, recorded=False)
    record_run(reports, flipped, "failed", "the notebook raised")
    manifest = json.loads((flipped / "manifest.json").read_text())
    manifest.update(status="passed", status_reason="")
    (flipped / "manifest.json").write_text(json.dumps(manifest))

    assert latest_mmm_run(reports) == good / "metrics.json"
    (good / "manifest.json").unlink()
    with pytest.raises(PathTableError, match=r"says 'passed' but audit\.jsonl recorded 'failed'"):
        latest_mmm_run(reports)


def test_a_warn_run_still_counts_and_a_failed_gate_does_not(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    warned = write_mmm_run(reports, "20261101T000000Z-aaaaaa", ROI, SPEND, recorded=False)
    record_run(reports, warned, "warn", "PPC coverage below target")
    write_mmm_run(reports, "20261102T000000Z-bbbbbb", {}, {}, passed=False)
    assert latest_mmm_run(reports) == warned / "metrics.json"


def test_an_unreadable_audit_log_is_named(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    write_mmm_run(reports, "20261101T000000Z-aaaaaa", ROI, SPEND)
    with (reports / "audit.jsonl").open("a") as fh:
        fh.write("not an entry\n")
    with pytest.raises(PathTableError, match=r"cannot read the audit log .*audit\.jsonl"):
        latest_mmm_run(reports)


def test_a_metrics_file_edited_after_the_run_is_skipped(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    good = write_mmm_run(reports, "20261101T000000Z-aaaaaa", ROI, SPEND)
    edited = write_mmm_run(reports, "20261102T000000Z-bbbbbb", ROI, SPEND)
    doc = json.loads((edited / "metrics.json").read_text())
    doc["metrics"]["channels"]["video"]["roi_mean"] = 20.0  # someone "improves" the ROI
    (edited / "metrics.json").write_text(json.dumps(doc))
    assert latest_mmm_run(reports) == good / "metrics.json"
    (good / "metrics.json").unlink()
    with pytest.raises(PathTableError, match=r"metrics\.json was changed after the run"):
        latest_mmm_run(reports)
