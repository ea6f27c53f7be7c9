"""The run record holds under attack and faults (issue 15 findings 2, 8 and 11).

* Finding 2: an exception quoting an e-mail or a raw customer id fails the PII scan,
  and the raw value must reach neither ``manifest.json``, the hash-chained
  ``audit.jsonl`` (where it could never be erased) nor ``index.json``/``index.html``;
  the index lists such a run without links to its outputs.
* Finding 8: ``galaxy audit verify`` cross-checks every recorded run's manifest and
  output files against its ``run.finished`` entry, so a manifest flipped from failed
  to passed or an edited report is named, with its run and file.
* Finding 11: input fingerprints are taken after the run and cover every parameter
  naming a file or folder.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from typer.testing import CliRunner

from galaxy_lib.cli import app
from galaxy_lib.core.audit import AUDIT_KEY_ENV, AuditLog
from galaxy_lib.core.config import ConfigError
from galaxy_lib.core.registry import RunManifest, run_record, verify_run_records
from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.pii import redact_pii
from galaxy_lib.pipeline.runner import record_failed_start, run_notebook

TINY = Path(__file__).parent.parent / "fixtures" / "tiny.ipynb"
EMAIL = "jane.doe@example.com"


@pytest.fixture(autouse=True)
def _no_audit_key(monkeypatch):
    monkeypatch.delenv(AUDIT_KEY_ENV, raising=False)


def _notebook(folder: Path, name: str, parameters: str, body: str) -> Path:
    """Write a notebook with a ``parameters`` cell and one code cell."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    params = nbformat.v4.new_code_cell('output_dir: str = ""\ndata_dir: str = ""\n' + parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def _verify_cli(audit: Path):
    return CliRunner().invoke(app, ["audit", "verify", "--file", str(audit)])


# -- finding 2: raw PII from an exception ---------------------------------------------------
@pytest.mark.slow
def test_an_exception_quoting_pii_is_masked_everywhere_and_its_outputs_are_not_linked(tmp_path):
    store = DataStore(tmp_path / "world")
    store.write("raw", "customers", pd.DataFrame({"customer_id": ["ZX0042", "ZX0043"], "email": ["a", "b"]}))
    nb = _notebook(
        tmp_path,
        "leaky",
        'who: str = ""  # a customer id\n',
        f'raise ValueError("no row for {EMAIL} (customer " + who + ")")',
    )
    reports = tmp_path / "reports"
    m = run_notebook(nb, {"who": "ZX0042"}, job="leaky", reports_dir=reports, data_dir=store.root, timeout_s=300)
    run_dir = reports / "leaky" / m.run_id
    assert m.status == "failed" and m.error["kind"] == "exception" and m.extra["pii"]["ok"] is False
    assert "PII found in the report" in m.status_reason  # the scan still failed the run
    assert m.error["ename"] == "ValueError" and "no row for j" in m.error["evalue"]  # masked, still readable
    assert m.parameters["who"] != "ZX0042"  # the parameter as recorded is masked too
    for p in (
        run_dir / "manifest.json",
        reports / "audit.jsonl",
        reports / "index.json",
        reports / "index.html",
        run_dir / "runner.log",
    ):
        text = p.read_text(encoding="utf-8")
        assert EMAIL not in text and "ZX0042" not in text, p.name
    row = next(r for r in json.loads((reports / "index.json").read_text())["runs"] if r["run_id"] == m.run_id)
    assert row["links"] == {"manifest": f"leaky/{m.run_id}/manifest.json"}
    assert row["outputs_withheld"].startswith("outputs withheld: the PII scan found personal data")
    html = (reports / "index.html").read_text()
    assert f'href="leaky/{m.run_id}/manifest.json"' in html and "outputs withheld" in html
    assert f"{m.run_id}/leaky.ipynb" not in html and f"{m.run_id}/leaky.html" not in html
    assert AuditLog(reports / "audit.jsonl").verify().ok and verify_run_records(reports / "audit.jsonl").ok


def test_a_job_that_cannot_start_is_recorded_without_the_pii_in_its_error(tmp_path):
    err = ConfigError(f"parameters/x.yaml: 'owner' = {EMAIL!r} is not a parameter of the notebook")
    m = record_failed_start("x.ipynb", "x", {"owner": EMAIL}, tmp_path, err)
    assert m.status == "failed" and "the job could not start" in m.status_reason
    for p in (tmp_path / "x" / m.run_id / "manifest.json", tmp_path / "audit.jsonl", tmp_path / "index.html"):
        assert EMAIL not in p.read_text(encoding="utf-8"), p.name
    assert redact_pii(EMAIL) in m.status_reason and redact_pii(EMAIL) in m.error["message"]


# -- finding 8: verify cross-checks manifests and outputs -------------------------------------
def _recorded_run(reports: Path, job: str, run_id: str, status: str, files: dict[str, str]) -> Path:
    """A run folder and its run.finished entry, written the way the runner writes them."""
    run_dir = reports / job / run_id
    run_dir.mkdir(parents=True)
    for name, text in files.items():
        (run_dir / name).write_text(text, encoding="utf-8")
    m = RunManifest(
        run_id=run_id,
        job=job,
        notebook=f"{job}.ipynb",
        parameters={},
        parameters_hash="0" * 64,
        code_version={},
        input_fingerprints={},
        outputs=tuple(sorted(files)),
        started_at="2026-11-01T07:00:00+00:00",
        finished_at="2026-11-01T07:01:00+00:00",
        duration_s=60.0,
        status=status,
        status_reason="1 gate(s) failed: roi" if status == "failed" else "all gates passed",
    )
    (run_dir / "manifest.json").write_text(json.dumps(m.to_dict()), encoding="utf-8")
    AuditLog(reports / "audit.jsonl").append("run.finished", run_record(m, run_dir))
    return run_dir


def test_verify_names_a_manifest_flipped_to_passed_and_edited_removed_and_added_outputs(tmp_path):
    reports = tmp_path / "reports"
    bad = _recorded_run(reports, "mmm", "20261101T070000Z-aaaaaa", "failed", {"mmm.html": "<p>roi 0.2</p>"})
    good = _recorded_run(reports, "mta", "20261101T080000Z-bbbbbb", "passed", {"a.csv": "x\n1\n", "b.csv": "y\n"})
    check = verify_run_records(reports / "audit.jsonl")
    assert (check.ok, check.runs, check.files) == (True, 2, 3)
    assert _verify_cli(reports / "audit.jsonl").exit_code == 0

    manifest = json.loads((bad / "manifest.json").read_text())
    manifest.update(status="passed", status_reason="all gates passed")  # the attack of finding 8
    (bad / "manifest.json").write_text(json.dumps(manifest))
    (bad / "mmm.html").write_text("<p>roi 2.0</p>")
    (good / "b.csv").unlink()
    (good / "c.csv").write_text("z\n")
    problems = verify_run_records(reports / "audit.jsonl").problems
    assert problems == (
        'run mmm/20261101T070000Z-aaaaaa: manifest.json status is "passed", the audit log recorded "failed"',
        'run mmm/20261101T070000Z-aaaaaa: manifest.json status_reason is "all gates passed", the audit log '
        'recorded "1 gate(s) failed: roi"',
        "run mmm/20261101T070000Z-aaaaaa: output mmm.html was changed (sha256 "
        + hashlib.sha256(b"<p>roi 0.2</p>").hexdigest()[:12]
        + "… recorded, "
        + hashlib.sha256(b"<p>roi 2.0</p>").hexdigest()[:12]
        + "… now)",
        "run mta/20261101T080000Z-bbbbbb: output b.csv was removed",
        "run mta/20261101T080000Z-bbbbbb: c.csv was added after the run was recorded",
    )
    result = _verify_cli(reports / "audit.jsonl")
    out = " ".join(result.output.split())
    assert result.exit_code == 1 and "OK: 2 entries, hash chain intact" in out  # the chain alone is fine
    assert "BROKEN: 5 run record(s) do not match the audit log" in out
    assert 'manifest.json status is "passed", the audit log recorded "failed"' in out


def test_verify_names_runs_the_log_does_not_record_or_never_finished(tmp_path):
    reports = tmp_path / "reports"
    _recorded_run(reports, "mmm", "20261101T070000Z-aaaaaa", "passed", {"m.json": "{}"})
    forged = reports / "mmm" / "20261102T070000Z-ffffff"
    forged.mkdir()
    (forged / "manifest.json").write_text(json.dumps({"status": "passed"}))
    killed = reports / "mmm" / "20261103T070000Z-cccccc"
    killed.mkdir()
    (killed / "manifest.json").write_text(json.dumps({"status": "running"}))
    AuditLog(reports / "audit.jsonl").append("run.started", {"job": "mmm", "run_id": killed.name})
    check = verify_run_records(reports / "audit.jsonl")
    assert check.problems == (
        "run mmm/20261102T070000Z-ffffff: a run folder the audit log does not record (manifest status 'passed')",
    )
    assert check.notes == (
        "run mmm/20261103T070000Z-cccccc started and never finished (still running, or its runner was killed)",
    )
    (killed / "manifest.json").write_text(json.dumps({"status": "passed"}))  # a result the log never saw
    assert "has no run.finished entry" in verify_run_records(reports / "audit.jsonl").problems[0]


def test_verify_flags_a_recorded_failed_start_flipped_to_passed(tmp_path):
    m = record_failed_start("x.ipynb", "x", {}, tmp_path, FileNotFoundError("no x.ipynb"))
    assert _verify_cli(tmp_path / "audit.jsonl").exit_code == 0
    path = tmp_path / "x" / m.run_id / "manifest.json"
    path.write_text(path.read_text().replace('"status": "failed"', '"status": "passed"'))
    result = _verify_cli(tmp_path / "audit.jsonl")
    assert result.exit_code == 1 and f"run x/{m.run_id}: manifest.json status is" in result.output


@pytest.mark.slow
def test_a_real_run_records_its_output_hashes_and_verify_catches_an_edited_report(tmp_path):
    m = run_notebook(TINY, {"mode": "fail"}, job="tiny", reports_dir=tmp_path, timeout_s=300)
    assert m.status == "failed"
    entry = next(e for e in AuditLog(tmp_path / "audit.jsonl").entries() if e.kind == "run.finished")
    run_dir = tmp_path / "tiny" / m.run_id
    assert set(entry.payload["output_sha256"]) == set(m.outputs) >= {"tiny.html", "tiny.ipynb", "metrics.json"}
    assert (
        entry.payload["output_sha256"]["tiny.html"] == hashlib.sha256((run_dir / "tiny.html").read_bytes()).hexdigest()
    )
    assert _verify_cli(tmp_path / "audit.jsonl").exit_code == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["status"] = "passed"  # what latest:mmm-style readers look at
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    result = _verify_cli(tmp_path / "audit.jsonl")
    assert result.exit_code == 1 and f"run tiny/{m.run_id}: output metrics.json was changed" in result.output


# -- finding 11: fingerprints after the run, of every path parameter -----------------------------
@pytest.mark.slow
def test_inputs_are_fingerprinted_after_the_run_including_path_parameters(tmp_path):
    data = tmp_path / "paths.csv"
    data.write_text("channel,spend\nsearch,1\n")
    lift = tmp_path / "lift"
    lift.mkdir()
    (lift / "a.csv").write_text("x\n")
    nb = _notebook(
        tmp_path,
        "restage",
        'data_path: str = ""\nlift_tests_path: str = ""\nincremental_path: str = ""\n',
        'from pathlib import Path\nPath(data_path).write_text("channel,spend\\nsearch,2\\n")  # re-staged by the run',
    )
    params = {"data_path": str(data), "lift_tests_path": str(lift), "incremental_path": "latest:mmm"}
    m = run_notebook(nb, params, job="restage", reports_dir=tmp_path / "reports", timeout_s=300)
    fp = m.input_fingerprints
    assert fp["param:data_path"]["sha256"] == hashlib.sha256(b"channel,spend\nsearch,2\n").hexdigest()  # after
    assert fp["param:data_path"]["path"] == str(data) and fp["param:data_path"]["kind"] == "file"
    assert fp["param:lift_tests_path"]["kind"] == "folder" and fp["param:lift_tests_path"]["files"] == 1
    assert fp["param:incremental_path"] == {"kind": "reference", "value": "latest:mmm"}


def test_runs_recorded_before_output_hashes_are_a_note_not_a_failure(tmp_path):
    run_dir = tmp_path / "mmm" / "20261101T070000Z-aaaaaa"
    run_dir.mkdir(parents=True)
    old = {"job": "mmm", "run_id": run_dir.name, "status": "passed"}  # an entry of the earlier format
    (run_dir / "manifest.json").write_text(json.dumps(old))
    AuditLog(tmp_path / "audit.jsonl").append("run.finished", old)
    check = verify_run_records(tmp_path / "audit.jsonl")
    assert check.ok and check.runs == 0
    assert check.notes == ("1 run(s) were recorded before output hashes existed: they are not cross-checked",)
