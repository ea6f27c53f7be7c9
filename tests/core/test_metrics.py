"""The metrics.json contract: the envelope, typed payloads, and read_metrics' errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import Field

from galaxy_lib.core.gates import Gate, measure
from galaxy_lib.core.metrics import METRICS_SCHEMA_VERSION, MetricsError, MetricsPayload, RunMetrics, read_metrics
from galaxy_lib.core.reporting import ReportWriter


class ChannelRoi(MetricsPayload):
    roi_mean: float
    roi_low: float | None = None


class DemoMetrics(MetricsPayload):
    """A workflow's payload: a count, a nested mapping, an optional field."""

    rows: int = Field(ge=0)
    channels: dict[str, ChannelRoi]
    note: str = ""


def _payload() -> DemoMetrics:
    return DemoMetrics(rows=12, channels={"tv": ChannelRoi(roi_mean=1.8, roi_low=1.2)})


def _write_run(folder: Path) -> Path:
    rw = ReportWriter(folder, notebook="02_demo")
    return rw.publish(_payload(), gates=[measure("max_rhat", 1.02, 1.01, 1.05, "R-hat 1.02")])


def _envelope(**changes) -> dict:
    doc = {
        "schema_version": METRICS_SCHEMA_VERSION,
        "notebook": "02_demo",
        "status": "passed",
        "status_reason": "",
        "metrics": {"rows": 1, "channels": {}},
        "gates": [],
        "tables": [],
        "figures": [],
        "written_at": "2026-11-30T06:00:00+00:00",
    }
    doc.update(changes)
    return doc


def _write_doc(folder: Path, doc: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "metrics.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_read_a_run_folder_or_its_file_with_the_payload_schema(tmp_path):
    path = _write_run(tmp_path / "run")
    for where in (tmp_path / "run", path, str(path)):
        run = read_metrics(where, DemoMetrics)
        assert isinstance(run, RunMetrics) and isinstance(run.metrics, DemoMetrics)
        assert run.metrics.channels["tv"].roi_mean == 1.8
        assert run.status == "warn" and run.passed
        assert run.gates == [Gate("max_rhat", None, None, 1.02, "warn", 1.01, 1.05, "R-hat 1.02")]
        assert run.notebook == "02_demo" and run.schema_version == METRICS_SCHEMA_VERSION


def test_envelope_only_read_keeps_any_payload(tmp_path):
    path = _write_doc(
        tmp_path,
        _envelope(
            metrics={"anything": [1, 2], "nested": {"a": None}}, status="failed", status_reason="2 gate(s) failed"
        ),
    )
    run = read_metrics(path)
    assert (run.status, run.status_reason, run.passed) == ("failed", "2 gate(s) failed", False)
    assert run.metrics.model_dump() == {"anything": [1, 2], "nested": {"a": None}}


def test_missing_file_says_what_a_run_folder_is(tmp_path):
    with pytest.raises(MetricsError, match=r"No metrics.json at .*run folder \(reports/<job>/<run_id>\)"):
        read_metrics(tmp_path)
    with pytest.raises(MetricsError, match=r"No metrics\.json"):
        read_metrics(tmp_path / "elsewhere" / "metrics.json")


def test_invalid_json_and_non_objects_name_the_file(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(MetricsError, match=rf"{path} is not valid JSON"):
        read_metrics(path)
    _write_doc(tmp_path, [1, 2])
    with pytest.raises(MetricsError, match="must hold a JSON object, got list"):
        read_metrics(path)


@pytest.mark.parametrize("version", [METRICS_SCHEMA_VERSION + 1, "1", 1.5])
def test_a_newer_or_malformed_schema_version_is_refused(tmp_path, version):
    path = _write_doc(tmp_path, _envelope(schema_version=version))
    with pytest.raises(
        MetricsError, match=rf"schema_version {version!r}; this code reads up to {METRICS_SCHEMA_VERSION}"
    ):
        read_metrics(path)


def test_a_missing_schema_version_reads_as_the_current_one(tmp_path):
    doc = _envelope()
    del doc["schema_version"]
    assert read_metrics(_write_doc(tmp_path, doc)).schema_version == METRICS_SCHEMA_VERSION


def test_a_payload_mismatch_names_the_key(tmp_path):
    path = _write_doc(tmp_path, _envelope(metrics={"rows": -1, "channels": {"tv": {"roi": 1.0}}}))
    with pytest.raises(MetricsError) as err:
        read_metrics(path, DemoMetrics)
    msg = str(err.value)
    assert str(path) in msg and "DemoMetrics schema" in msg
    assert "metrics.rows: Input should be greater than or equal to 0" in msg
    assert "metrics.channels.tv.roi_mean: Field required" in msg
    assert "metrics.channels.tv.roi: Extra inputs are not permitted" in msg


def test_an_envelope_mismatch_names_the_key(tmp_path):
    path = _write_doc(tmp_path, _envelope(status="ok", extra_key=1))
    with pytest.raises(MetricsError) as err:
        read_metrics(path)
    msg = str(err.value)
    assert "RunMetrics schema" in msg and "status: Input should be 'passed', 'warn' or 'failed'" in msg
    assert "extra_key: Extra inputs are not permitted" in msg


def test_gates_in_the_envelope_are_validated(tmp_path):
    gate = {
        "gate": "g",
        "table": None,
        "column": None,
        "value": 1.0,
        "status": "passed",
        "warn_at": None,
        "fail_at": None,
        "detail": "",
    }
    with pytest.raises(MetricsError, match=r"gates\.0"):
        read_metrics(_write_doc(tmp_path, _envelope(gates=[gate])))


def test_payloads_are_strict():
    with pytest.raises(ValueError, match="rows_total"):
        DemoMetrics(rows=1, channels={}, rows_total=3)  # type: ignore[call-arg]
