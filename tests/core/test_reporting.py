"""ReportWriter (typed metrics.json, gates, tables, figures), strict JSON, and the reports index."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from pydantic import Field

from galaxy_lib.core.gates import Gate, measure
from galaxy_lib.core.jsonio import canonical_json, to_jsonable, write_json_atomic
from galaxy_lib.core.metrics import METRICS_SCHEMA_VERSION, MetricsPayload, read_metrics
from galaxy_lib.core.reporting import ReportWriter, build_index


class DemoMetrics(MetricsPayload):
    """A small payload schema, as a workflow's galaxy_lib.schemas module declares one."""

    rows: int = Field(ge=0)
    share: float | None = None
    when: str = ""


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# -- JSON ------------------------------------------------------------------------
def test_to_jsonable_converts_numpy_pandas_and_missing_values():
    obj = {
        "i": np.int64(3),
        "f": np.float32(0.5),
        "b": np.bool_(True),
        "nan": float("nan"),
        "npnan": np.float64(np.nan),
        "inf": np.inf,
        "na": pd.NA,
        "nat": pd.NaT,
        "ts": pd.Timestamp("2026-01-05 10:00", tz="UTC"),
        "date": dt.date(2026, 1, 5),
        "td": pd.Timedelta(minutes=2),
        "arr": np.array([1.0, np.nan]),
        "series": pd.Series([1, 2]),
        "path": Path("/tmp/x"),
        "tuple": (1, "a"),
    }
    out = to_jsonable(obj)
    assert out == {
        "i": 3,
        "f": 0.5,
        "b": True,
        "nan": None,
        "npnan": None,
        "inf": None,
        "na": None,
        "nat": None,
        "ts": "2026-01-05T10:00:00+00:00",
        "date": "2026-01-05",
        "td": 120.0,
        "arr": [1.0, None],
        "series": [1, 2],
        "path": "/tmp/x",
        "tuple": [1, "a"],
    }
    assert type(out["i"]) is int and type(out["b"]) is bool
    json.dumps(out, allow_nan=False)  # strict JSON


def test_to_jsonable_rejects_unknown_objects_with_the_type_name():
    class Opaque:
        pass

    with pytest.raises(TypeError, match="Opaque"):
        to_jsonable({"x": Opaque()})


def test_canonical_json_ignores_key_order():
    assert canonical_json({"b": 1, "a": [1, 2]}) == canonical_json({"a": [1, 2], "b": 1}) == '{"a":[1,2],"b":1}'


def test_write_json_atomic_leaves_no_temporary_file(tmp_path):
    path = write_json_atomic(tmp_path / "sub" / "x.json", {"v": np.float64(np.nan)})
    assert _read(path) == {"v": None}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]
    assert path.stat().st_mode & 0o777 == 0o644


# -- ReportWriter ------------------------------------------------------------------
def test_write_takes_the_worst_gate_and_validates_the_payload(tmp_path):
    rw = ReportWriter(tmp_path / "run", notebook="01_data_inventory.ipynb")
    rw.gate(measure("null_rate", 0.01, 0.05, 0.2, "1% null", table="touchpoints", column="channel"))
    rw.gate(Gate("freshness", "spend", "week", 3.0, "warn", 2.0, 7.0, "3 days old"))
    rw.gate(measure("outliers", 0.2, 0.05, 0.1, "robust z > 6", table="spend", column="spend"))
    path = rw.write(DemoMetrics(rows=np.int64(1200), share=np.float64(0.25), when="2026-01-01"))
    doc = _read(path)
    assert path == tmp_path / "run" / "metrics.json"
    assert doc["schema_version"] == METRICS_SCHEMA_VERSION
    assert doc["notebook"] == "01_data_inventory"
    assert doc["status"] == "failed"
    assert doc["status_reason"] == "1 gate(s) failed: outliers on spend.spend = 0.2 (limit 0.1): robust z > 6"
    assert doc["metrics"] == {"rows": 1200, "share": 0.25, "when": "2026-01-01"}
    assert [g["gate"] for g in doc["gates"]] == ["null_rate", "freshness", "outliers"]
    assert rw.gates[1].gate == "freshness"
    dt.datetime.fromisoformat(doc["written_at"])
    assert read_metrics(path, DemoMetrics).metrics.rows == 1200  # what a reader sees


def test_warn_reason_lists_the_warning_gates(tmp_path):
    rw = ReportWriter(tmp_path, notebook="x")
    rw.gate(measure("max_rhat", 1.02, 1.01, 1.05, "R-hat 1.02."))
    rw.gate(measure("min_ess", 900.0, 400.0, 100.0, "", higher_is_worse=False))
    doc = _read(rw.write(DemoMetrics(rows=0)))
    assert (doc["status"], doc["status_reason"]) == (
        "warn",
        "1 gate(s) warned: max_rhat = 1.02 (limit 1.01): R-hat 1.02",
    )


@pytest.mark.parametrize(
    ("statuses", "status", "reason"),
    [
        ([], "passed", "no quality gates recorded"),
        (["pass"], "passed", "all gates passed"),
        (["pass", "warn"], "warn", None),
        (["warn", "fail", "pass"], "failed", None),
    ],
)
def test_status_is_the_worst_gate(tmp_path, statuses, status, reason):
    rw = ReportWriter(tmp_path, notebook="x")
    for i, s in enumerate(statuses):
        rw.gate(Gate(f"g{i}", None, None, 1.0, s, None, None, ""))
    doc = _read(rw.write(DemoMetrics(rows=1)))
    assert doc["status"] == status
    if reason:
        assert doc["status_reason"] == reason


def test_explicit_status_and_reason_win(tmp_path):
    rw = ReportWriter(tmp_path, notebook="x")
    rw.gate(Gate("g", None, None, 1.0, "fail", None, None, ""))
    doc = _read(rw.write(DemoMetrics(rows=1), status="warn", reason="model did not converge"))
    assert (doc["status"], doc["status_reason"]) == ("warn", "model did not converge")


def test_gate_refuses_anything_but_a_gate(tmp_path):
    rw = ReportWriter(tmp_path, notebook="x")
    for bad in ({"gate": "g", "status": "pass"}, ("g", "pass"), None):
        with pytest.raises(TypeError, match=r"takes a galaxy_lib.core.gates.Gate.*measure\(name, value"):
            rw.gate(bad)  # type: ignore[arg-type]
    assert rw.gates == ()


def test_write_needs_a_payload_schema_and_a_known_status(tmp_path):
    rw = ReportWriter(tmp_path, notebook="x")
    with pytest.raises(TypeError, match=r"metrics schema \(a MetricsPayload\), got dict"):
        rw.write({"rows": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'ok'"):
        rw.write(DemoMetrics(rows=1), status="ok")
    with pytest.raises(ValueError, match="notebook="):
        ReportWriter(tmp_path)
    assert not (tmp_path / "metrics.json").exists()


def test_write_refuses_a_payload_that_fails_its_schema(tmp_path):
    rw = ReportWriter(tmp_path, notebook="x")
    bad = DemoMetrics.model_construct(rows=-3)  # built without validation, as a buggy workflow might
    with pytest.raises(ValueError, match=r"metrics.json of x does not match its schema: metrics.rows: Input should be"):
        rw.write(bad)
    assert not (tmp_path / "metrics.json").exists()  # nothing written


def test_publish_records_everything_and_skips_none(tmp_path):
    fig = go.Figure(go.Bar(x=["tv"], y=[1]), layout={"title": {"text": "Spend"}})
    path = ReportWriter(tmp_path, notebook="x").publish(
        DemoMetrics(rows=2),
        gates=[measure("g", 0.0, 1.0, 2.0, "fine")],
        tables={"roi": pd.DataFrame({"channel": ["tv"], "roi": [1.8]}), "absent": None},
        figures={"spend": fig, "absent": None},
        reason="fitted on the ci world",
    )
    doc = _read(path)
    assert [t["name"] for t in doc["tables"]] == ["roi"] and [f["name"] for f in doc["figures"]] == ["spend"]
    assert (doc["status"], doc["status_reason"]) == ("passed", "fitted on the ci world")
    assert {"roi.csv", "spend.html", "spend.json", "metrics.json"} <= {p.name for p in tmp_path.iterdir()}
    assert not (tmp_path / "absent.csv").exists()


def test_table_writes_csv_and_keeps_a_meaningful_index(tmp_path):
    rw = ReportWriter(tmp_path, notebook="x")
    df = pd.DataFrame({"channel": ["tv", "search"], "roi": [1.8, np.nan]})
    rw.table("roi", df)
    by_channel = df.set_index("channel")["roi"]
    rw.table("roi_by_channel", by_channel)
    back = pd.read_csv(tmp_path / "roi.csv")
    pd.testing.assert_frame_equal(back, df)
    assert list(pd.read_csv(tmp_path / "roi_by_channel.csv").columns) == ["channel", "roi"]
    rw.table("roi", df)  # written again: listed once, last
    doc = _read(rw.write(DemoMetrics(rows=2)))
    assert doc["tables"] == [
        {"name": "roi_by_channel", "path": "roi_by_channel.csv", "rows": 2, "columns": ["roi"]},
        {"name": "roi", "path": "roi.csv", "rows": 2, "columns": ["channel", "roi"]},
    ]
    with pytest.raises(ValueError, match="file name"):
        rw.table("../escape", df)


def test_figure_is_offline_html_plus_json(tmp_path):
    rw = ReportWriter(tmp_path, notebook="x")
    fig = go.Figure(go.Bar(x=["tv", "search"], y=[3, 5]), layout={"title": {"text": "Spend"}})
    rw.figure("spend", fig)
    rw.figure("spend2", fig)
    html = (tmp_path / "spend.html").read_text()
    assert 'src="plotly.min.js"' in html
    assert "cdn" not in html.lower()
    bundle = tmp_path / "plotly.min.js"
    assert bundle.stat().st_size > 1_000_000  # the real plotly.js from the installed package, once per folder
    assert len(list(tmp_path.glob("*.js"))) == 1
    back = pio.from_json((tmp_path / "spend.json").read_text())
    assert list(back.data[0].y) == [3, 5]
    doc = _read(rw.write(DemoMetrics(rows=0)))
    assert doc["figures"][0] == {"name": "spend", "html": "spend.html", "json": "spend.json", "title": "Spend"}
    with pytest.raises(TypeError, match="plotly Figure"):
        rw.figure("bad", {"data": []})


def test_empty_output_dir_means_reports_adhoc(tmp_path, monkeypatch):
    monkeypatch.setenv("GALAXY_HOME", str(tmp_path))
    rw = ReportWriter("", notebook="02_mmm")
    assert rw.output_dir == tmp_path / "reports" / "adhoc" / "02_mmm"
    assert rw.write(DemoMetrics(rows=0)).is_file()


# -- index -------------------------------------------------------------------------
def _fake_run(reports: Path, job: str, run_id: str, started: str, status: str, **extra) -> Path:
    run_dir = reports / job / run_id
    run_dir.mkdir(parents=True)
    manifest = {
        "run_id": run_id,
        "job": job,
        "notebook": f"{job}.ipynb",
        "status": status,
        "started_at": started,
        "finished_at": started,
        "duration_s": 12.5,
        "status_reason": "",
        **extra,
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    (run_dir / f"{job}.html").write_text("<html></html>")
    (run_dir / f"{job}.ipynb").write_text("{}")
    (run_dir / "metrics.json").write_text("{}")
    return run_dir


def test_build_index_lists_runs_newest_first_with_errors_and_links(tmp_path):
    reports = tmp_path / "reports"
    _fake_run(
        reports,
        "mmm",
        "20261101T070000Z-aaaaaa",
        "2026-11-01T07:00:00+00:00",
        "passed",
        status_reason="all gates passed",
    )
    _fake_run(
        reports,
        "mmm",
        "20261108T070000Z-bbbbbb",
        "2026-11-08T07:00:00+00:00",
        "failed",
        error={"kind": "exception", "message": "ValueError: <bad> draws in cell In [4]"},
        status_reason="ValueError: <bad> draws in cell In [4]",
    )
    _fake_run(
        reports, "mta", "20261102T063000Z-cccccc", "2026-11-02T06:30:00+00:00", "warn", status_reason="1 gate(s) warned"
    )
    broken = reports / "mta" / "20261103T063000Z-dddddd"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{not json")

    path = build_index(reports)
    index = _read(reports / "index.json")
    ids = [r["run_id"] for r in index["runs"]]
    # newest first; the unreadable manifest has no start time and sorts last
    assert ids == [
        "20261108T070000Z-bbbbbb",
        "20261102T063000Z-cccccc",
        "20261101T070000Z-aaaaaa",
        "20261103T063000Z-dddddd",
    ]
    assert index["latest"]["mmm"]["run_id"] == "20261108T070000Z-bbbbbb"
    assert index["latest"]["mta"]["status"] == "warn"
    failed = next(r for r in index["runs"] if r["run_id"] == "20261108T070000Z-bbbbbb")
    assert failed["links"] == {
        "report": "mmm/20261108T070000Z-bbbbbb/mmm.html",
        "notebook": "mmm/20261108T070000Z-bbbbbb/mmm.ipynb",
        "metrics": "mmm/20261108T070000Z-bbbbbb/metrics.json",
        "manifest": "mmm/20261108T070000Z-bbbbbb/manifest.json",
    }
    unreadable = next(r for r in index["runs"] if r["run_id"] == "20261103T063000Z-dddddd")
    assert unreadable["status"] == "failed" and "cannot be read" in unreadable["status_reason"]

    html = path.read_text()
    assert "ValueError: &lt;bad&gt; draws in cell In [4]" in html  # the error, escaped
    assert "<bad>" not in html
    assert 'href="mmm/20261108T070000Z-bbbbbb/mmm.html"' in html
    assert html.index("20261108T070000Z-bbbbbb") < html.index("20261101T070000Z-aaaaaa")
    assert "Latest run per job" in html and "#c62828" in html  # failed shown in red


def test_build_index_reports_a_broken_audit_log(tmp_path):
    from galaxy_lib.core.audit import AuditLog

    reports = tmp_path / "reports"
    log = AuditLog(reports / "audit.jsonl")
    for i in range(3):
        log.append("test", {"i": i})
    assert _read(build_index(reports).with_suffix(".json"))["audit"] == {"ok": True, "entries": 3, "reason": ""}
    lines = log.path.read_text().splitlines(keepends=True)
    log.path.write_text(lines[0] + lines[2])
    index = _read(build_index(reports).with_suffix(".json"))
    assert index["audit"]["ok"] is False and "entry 2 was removed" in index["audit"]["reason"]
    assert "BROKEN" in (reports / "index.html").read_text()


def test_a_running_run_whose_runner_died_is_shown_failed(tmp_path):
    import os
    import subprocess
    import sys

    reports = tmp_path / "reports"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = os.uname().nodename
    _fake_run(
        reports,
        "a",
        "20261101T070000Z-aaaaaa",
        "2026-11-01T07:00:00+00:00",
        "running",
        extra={"runner_pid": int(dead.stdout), "host": host},
    )
    now = dt.datetime.now(dt.UTC).isoformat()
    _fake_run(
        reports, "b", "20261101T070000Z-bbbbbb", now, "running", extra={"runner_pid": os.getpid(), "host": host}
    )  # alive: this process
    latest = _read(build_index(reports).with_suffix(".json"))["latest"]
    assert latest["a"]["status"] == "failed" and "runner process died" in latest["a"]["status_reason"]
    assert latest["b"]["status"] == "running"


def test_a_run_that_failed_the_pii_scan_is_listed_without_links_to_its_outputs(tmp_path):
    reports = tmp_path / "reports"
    _fake_run(
        reports,
        "mmm",
        "20261101T070000Z-aaaaaa",
        "2026-11-01T07:00:00+00:00",
        "failed",
        error={"kind": "pii", "message": "PII found in the report: 1 finding(s) (email) in mmm.html"},
        status_reason="PII found in the report: 1 finding(s) (email) in mmm.html",
        extra={"pii": {"ok": False, "files_scanned": 3, "findings": [{"file": "mmm.html", "kind": "email"}]}},
    )
    _fake_run(
        reports,
        "mmm",
        "20261102T070000Z-bbbbbb",
        "2026-11-02T07:00:00+00:00",
        "passed",
        extra={"pii": {"ok": True, "files_scanned": 3, "findings": []}},
    )
    index = _read(build_index(reports).with_suffix(".json"))
    rows = {r["run_id"]: r for r in index["runs"]}
    leaky, clean = rows["20261101T070000Z-aaaaaa"], rows["20261102T070000Z-bbbbbb"]
    assert leaky["links"] == {"manifest": "mmm/20261101T070000Z-aaaaaa/manifest.json"}
    assert leaky["outputs_withheld"].startswith("outputs withheld: the PII scan found personal data")
    assert set(clean["links"]) == {"report", "notebook", "metrics", "manifest"} and clean["outputs_withheld"] == ""
    html = (reports / "index.html").read_text()
    assert 'href="mmm/20261101T070000Z-aaaaaa/mmm.html"' not in html
    assert 'href="mmm/20261102T070000Z-bbbbbb/mmm.html"' in html
    assert "outputs withheld: the PII scan found personal data" in html


def test_the_index_shows_the_recorded_status_of_a_manifest_flipped_after_the_run(tmp_path):
    from galaxy_lib.core.audit import AuditLog
    from galaxy_lib.core.registry import RunManifest, run_record

    reports = tmp_path / "reports"
    run_dir = _fake_run(reports, "mmm", "20261101T070000Z-aaaaaa", "2026-11-01T07:00:00+00:00", "failed")
    manifest = RunManifest.from_dict(
        {
            **_read(run_dir / "manifest.json"),
            "parameters": {},
            "parameters_hash": "0" * 64,
            "code_version": {},
            "input_fingerprints": {},
            "outputs": ["metrics.json", "mmm.html", "mmm.ipynb"],
            "status_reason": "1 gate(s) failed: rhat",
        }
    )
    (run_dir / "manifest.json").write_text(json.dumps(manifest.to_dict()))
    AuditLog(reports / "audit.jsonl").append("run.finished", run_record(manifest, run_dir))
    assert _read(build_index(reports).with_suffix(".json"))["runs"][0]["status"] == "failed"

    flipped = {**manifest.to_dict(), "status": "passed", "status_reason": "all gates passed"}
    (run_dir / "manifest.json").write_text(json.dumps(flipped))
    row = _read(build_index(reports).with_suffix(".json"))["runs"][0]
    assert row["status"] == "failed"
    assert row["status_reason"].startswith("manifest.json says 'passed' but the audit log recorded 'failed'")
    assert row["status_reason"].endswith("Recorded reason: 1 gate(s) failed: rhat")
    assert set(row["links"]) == {"manifest"} and "no longer matches the audit log" in row["outputs_withheld"]


def test_build_index_masks_reasons_with_the_redact_function_it_is_given(tmp_path):
    from galaxy_lib.governance.pii import redact_pii

    reports = tmp_path / "reports"
    leak = "ValueError: no row for jane.doe@example.com in cell In [3]"
    _fake_run(  # a manifest written before the runner masked errors, or edited by hand
        reports,
        "mmm",
        "20261101T070000Z-aaaaaa",
        "2026-11-01T07:00:00+00:00",
        "failed",
        error={"kind": "exception", "message": leak, "evalue": "no row for jane.doe@example.com"},
        status_reason=leak,
    )
    build_index(reports, redact=redact_pii)
    for name in ("index.json", "index.html"):
        text = (reports / name).read_text()
        assert "jane.doe@example.com" not in text and "no row for j" in text, name
    build_index(reports)  # without one, what the manifest says is shown
    assert "jane.doe@example.com" in (reports / "index.json").read_text()
