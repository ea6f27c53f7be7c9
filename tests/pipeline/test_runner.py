"""The runner: parameter checks, recorded runs, failures, timeouts and the PII gate.

The slow tests execute tests/fixtures/tiny.ipynb in a real kernel; its
``mode`` parameter makes it pass, warn, raise, sleep, leak an e-mail address or
skip metrics.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from galaxy_lib.core.audit import AuditLog
from galaxy_lib.core.config import ConfigError
from galaxy_lib.core.registry import RunManifest
from galaxy_lib.core.store import DataStore
from galaxy_lib.pipeline.notebooks import check_job_name, check_parameters, resolve_notebook
from galaxy_lib.pipeline.runner import run_notebook
from tests.fixtures.processes import processes_of_run

FIXTURES = Path(__file__).parent.parent / "fixtures"
TINY = FIXTURES / "tiny.ipynb"


def _read(p: Path) -> dict:
    return json.loads(p.read_text(encoding="utf-8"))


# -- fast: checks before anything runs ------------------------------------------------
def test_resolve_notebook_by_name_and_missing(tmp_path):
    assert resolve_notebook("tiny", FIXTURES) == TINY.resolve()
    assert resolve_notebook("tiny.ipynb", FIXTURES) == TINY.resolve()
    assert resolve_notebook(TINY) == TINY.resolve()
    with pytest.raises(FileNotFoundError, match=r"Available notebooks: figure\.ipynb, tiny\.ipynb"):
        resolve_notebook("02_mmm.ipynb", FIXTURES)


def test_unknown_parameter_lists_valid_names_and_suggests():
    with pytest.raises(ConfigError) as err:
        check_parameters(TINY, {"mdoe": "pass"}, source="-p")
    msg = str(err.value)
    assert "'mdoe' (did you mean 'mode'?)" in msg and "in -p" in msg
    for name in ("mode (str", "value (int", "sleep_s (float", "data_dir"):
        assert name in msg
    assert "output_dir (" not in msg  # reserved, not offered


def test_output_dir_is_reserved():
    with pytest.raises(ConfigError, match="set by the runner"):
        check_parameters(TINY, {"output_dir": "/tmp/x"})


def test_notebook_without_parameters_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    path = tmp_path / "bare.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ConfigError, match="no cell tagged 'parameters'"):
        check_parameters(path, {"x": 2})
    nb.cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(nb, path)
    with pytest.raises(ConfigError, match="does not declare the parameter 'output_dir'"):
        check_parameters(path, {"x": 2})


def test_mark_stopped_flags_the_running_cell(tmp_path):
    from galaxy_lib.pipeline.execution import mark_stopped

    nb = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_code_cell(src) for src in ("a = 1", "time.sleep(600)", "b = 2")]
    for cell, status in zip(cells, ("completed", "running", "pending"), strict=True):
        cell.metadata["papermill"] = {"status": status}
    nb.cells = cells
    path = tmp_path / "partial.ipynb"
    nbformat.write(nb, path)
    mark_stopped(path, "timed out after 5 s")
    back = nbformat.read(path, as_version=4)
    assert "Execution stopped" in back.cells[0].source and "timed out after 5 s" in back.cells[0].source
    assert [c.metadata.get("papermill", {}).get("status") for c in back.cells[1:]] == ["completed", "failed", "pending"]
    assert back.cells[2].outputs[-1]["ename"] == "JobStopped"
    assert back.cells[2].outputs[-1]["evalue"] == "timed out after 5 s"
    assert back.metadata["papermill"]["exception"] is True


def test_job_names():
    assert check_job_name("mmm-weekly_1.0") == "mmm-weekly_1.0"
    for bad in ("", "../x", "a/b", "adhoc", "-x"):
        with pytest.raises(ConfigError):
            check_job_name(bad)


def test_bad_parameter_raises_before_creating_a_run(tmp_path):
    with pytest.raises(ConfigError, match="mdoe"):
        run_notebook(TINY, {"mdoe": "x"}, reports_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_conflicting_data_dir(tmp_path):
    with pytest.raises(ConfigError, match="data_dir is given twice"):
        run_notebook(TINY, {"data_dir": "data/ci"}, reports_dir=tmp_path, data_dir=tmp_path / "other")


def test_config_errors_can_be_recorded_as_failed_runs(tmp_path):
    m = run_notebook(
        "missing.ipynb", {}, job="broken", reports_dir=tmp_path, notebooks_dir=FIXTURES, record_config_errors=True
    )
    assert m.status == "failed" and m.error["kind"] == "config"
    assert "Available notebooks: figure.ipynb, tiny.ipynb" in m.status_reason
    assert _read(tmp_path / "broken" / m.run_id / "manifest.json")["status"] == "failed"
    index = _read(tmp_path / "index.json")
    assert index["latest"]["broken"]["status"] == "failed"
    entries = list(AuditLog(tmp_path / "audit.jsonl").entries())
    assert [e.kind for e in entries] == ["run.finished"] and entries[0].payload["run_id"] == m.run_id


# -- slow: real executions -------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, dict[str, RunManifest]]:
    from concurrent.futures import ThreadPoolExecutor

    reports = tmp_path_factory.mktemp("reports")
    cases = {
        "pass": {"mode": "pass", "value": 3},
        "raise": {"mode": "raise"},
        "pii": {"mode": "pii"},
        "warn": {"mode": "warn"},
        "nometrics": {"mode": "nometrics"},
    }
    with ThreadPoolExecutor(max_workers=2) as ex:  # two at a time, as the scheduler does, into one reports folder
        futures = {
            k: ex.submit(run_notebook, TINY, p, job=f"tiny_{k}", reports_dir=reports, timeout_s=300)
            for k, p in cases.items()
        }
        out = {k: f.result() for k, f in futures.items()}
    return reports, out


@pytest.mark.slow
@pytest.mark.xdist_group("runner_runs")  # share the module fixture's runs on one worker
def test_passing_run_is_recorded(runs):
    reports, out = runs
    m = out["pass"]
    run_dir = reports / "tiny_pass" / m.run_id
    assert m.status == "passed" and m.error is None and m.status_reason == "all gates passed"
    assert {"tiny.ipynb", "tiny.html", "metrics.json", "runner.log"} <= set(m.outputs)
    assert m.parameters == {"mode": "pass", "value": 3}
    assert m.duration_s > 0 and m.finished_at >= m.started_at
    assert m.code_version["commit"]
    assert RunManifest.from_dict(_read(run_dir / "manifest.json")) == m
    assert _read(run_dir / "metrics.json")["metrics"] == {"value": 6}  # the injected value reached the notebook
    executed = nbformat.read(run_dir / "tiny.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and f'output_dir = "{run_dir}"' in injected[0].source
    html = (run_dir / "tiny.html").read_text()
    assert "mode=pass value=3" in html  # outputs shown
    assert "from galaxy_lib.core.reporting import ReportWriter" not in html  # code hidden
    assert "In&nbsp;[" not in html and "In [" not in html  # no prompts


@pytest.mark.slow
@pytest.mark.xdist_group("runner_runs")  # share the module fixture's runs on one worker
def test_failing_cell_keeps_the_partial_notebook_and_the_error(runs):
    reports, out = runs
    m = out["raise"]
    run_dir = reports / "tiny_raise" / m.run_id
    assert m.status == "failed"
    assert (m.error["kind"], m.error["ename"], m.error["evalue"]) == ("exception", "ValueError", "boom: value was 1")
    assert 'raise ValueError(f"boom' in m.error["cell_source"]
    assert m.status_reason.startswith("ValueError: boom: value was 1 in cell In [")
    executed = nbformat.read(run_dir / "tiny.ipynb", as_version=4)
    statuses = [c.metadata.get("papermill", {}).get("status") for c in executed.cells if c.cell_type == "code"]
    assert "failed" in statuses and statuses[-1] == "pending"  # the metrics cell never ran
    assert not (run_dir / "metrics.json").exists()
    assert "boom: value was 1" in (run_dir / "tiny.html").read_text()  # HTML exported for the failed run
    index = _read(reports / "index.json")
    row = next(r for r in index["runs"] if r["run_id"] == m.run_id)
    assert row["status"] == "failed" and "ValueError: boom: value was 1" in row["status_reason"]
    assert "ValueError: boom: value was 1" in (reports / "index.html").read_text()


@pytest.mark.slow
@pytest.mark.xdist_group("runner_runs")  # share the module fixture's runs on one worker
def test_pii_in_the_output_fails_the_run_without_copying_it(runs):
    reports, out = runs
    m = out["pii"]
    assert m.status == "failed" and m.error["kind"] == "pii"
    assert "email" in m.status_reason
    files = {f["file"] for f in m.extra["pii"]["findings"]}
    assert "tiny.ipynb" in files and "tiny.html" in files
    for p in (
        reports / "tiny_pii" / m.run_id / "manifest.json",
        reports / "index.json",
        reports / "index.html",
        reports / "audit.jsonl",
    ):
        assert "jane.doe@example.com" not in p.read_text()
    row = next(r for r in _read(reports / "index.json")["runs"] if r["run_id"] == m.run_id)
    assert set(row["links"]) == {"manifest"} and "PII scan found personal data" in row["outputs_withheld"]


@pytest.mark.slow
@pytest.mark.xdist_group("runner_runs")  # share the module fixture's runs on one worker
def test_warn_and_missing_metrics(runs):
    _, out = runs
    assert out["warn"].status == "warn" and "fixture_gate" in out["warn"].status_reason
    m = out["nometrics"]
    assert m.status == "failed" and m.error["kind"] == "metrics" and "metrics.json" in m.status_reason


@pytest.mark.slow
@pytest.mark.xdist_group("runner_runs")  # share the module fixture's runs on one worker
def test_audit_log_records_every_run_and_verifies(runs):
    reports, out = runs
    log = AuditLog(reports / "audit.jsonl")
    assert log.verify().ok
    entries = list(log.entries())
    finished = {e.payload["run_id"]: e.payload for e in entries if e.kind == "run.finished"}
    started = [e.payload["run_id"] for e in entries if e.kind == "run.started"]
    assert set(finished) == set(started) == {m.run_id for m in out.values()}
    assert finished[out["raise"].run_id]["status"] == "failed"
    index = _read(reports / "index.json")
    assert len(index["runs"]) == 5 and index["audit"]["ok"]


@pytest.mark.slow
def test_timeout_kills_the_job_and_keeps_the_partial_notebook(tmp_path):
    m = run_notebook(TINY, {"mode": "sleep", "sleep_s": 600}, job="tiny_sleep", reports_dir=tmp_path, timeout_s=30)
    assert m.status == "failed" and m.error["kind"] == "timeout"
    assert m.status_reason == "timed out after 30 s"
    assert m.duration_s < 150
    run_dir = tmp_path / "tiny_sleep" / m.run_id
    executed = nbformat.read(run_dir / "tiny.ipynb", as_version=4)
    assert "Execution stopped" in executed.cells[0].source
    statuses = [c.metadata.get("papermill", {}).get("status") for c in executed.cells]
    assert "running" not in statuses
    sleeping = next(c for c in executed.cells if "time.sleep(sleep_s)" in c.source)
    # On a loaded machine the kernel may still be starting at 30 s; otherwise the sleep is what was stopped.
    if sleeping.metadata["papermill"]["status"] != "pending":
        assert sleeping.metadata["papermill"]["status"] == "failed"
        assert sleeping.outputs[-1]["ename"] == "JobStopped"
    assert "timed out after 30 s" in (run_dir / "tiny.html").read_text()
    assert processes_of_run(m.run_id) == []  # nothing of the run survives: no child process, no kernel
    assert _read(tmp_path / "index.json")["latest"]["tiny_sleep"]["status_reason"] == "timed out after 30 s"


@pytest.mark.slow
def test_data_dir_is_injected_fingerprinted_and_its_raw_ids_scanned(tmp_path):
    store = DataStore(tmp_path / "world")
    store.write("raw", "customers", pd.DataFrame({"customer_id": ["ZX0042", "ZX0043"], "email": ["a", "b"]}))
    m = run_notebook(
        TINY,
        {"note": "customer ZX0043 churned"},
        job="tiny_ids",
        reports_dir=tmp_path / "reports",
        data_dir=tmp_path / "world",
        timeout_s=300,
    )
    assert m.parameters["data_dir"] == str(tmp_path / "world")
    assert list(m.input_fingerprints) == ["raw/customers/part-00000.parquet"]
    assert m.status == "failed" and m.error["kind"] == "pii"
    assert {f["kind"] for f in m.extra["pii"]["findings"]} == {"raw_id"}
    # the parameter that leaked the id is recorded masked; its hash is of the real value
    assert m.parameters["note"] == "customer Z***43 churned"
    for p in (tmp_path / "reports" / "tiny_ids" / m.run_id / "manifest.json", tmp_path / "reports" / "audit.jsonl"):
        assert "ZX0043" not in p.read_text()


@pytest.mark.slow
def test_figures_survive_the_html_export_offline(tmp_path):
    from plotly.offline import get_plotlyjs

    from galaxy_lib.core.html_export import external_resources

    m = run_notebook(FIXTURES / "figure.ipynb", {}, job="fig", reports_dir=tmp_path, timeout_s=300)
    assert m.status == "passed", m.status_reason
    html = (tmp_path / "fig" / m.run_id / "figure.html").read_text()
    assert "Plotly.newPlot" in html
    assert get_plotlyjs() in html  # plotly.js inlined from the installed package, not fetched from a CDN
    assert external_resources(html) == []  # no require.js, MathJax or any other CDN script (issue 15 finding 12)
    assert {"bars.html", "bars.json", "plotly.min.js"} <= set(m.outputs)
    assert m.extra["pii"]["ok"]


def _wait_for(predicate, timeout: float = 120.0, step: float = 0.2):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")


@pytest.mark.slow
def test_a_killed_runner_takes_its_notebook_down(tmp_path):
    import signal
    import subprocess
    import sys

    code = (
        "from galaxy_lib.pipeline.runner import run_notebook; "
        f"run_notebook({str(TINY)!r}, {{'mode': 'sleep', 'sleep_s': 600}}, job='orphan', "
        f"reports_dir={str(tmp_path)!r}, timeout_s=900)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        manifest = _wait_for(
            lambda: (
                next((tmp_path / "orphan").glob("*/manifest.json"), None) if (tmp_path / "orphan").is_dir() else None
            )
        )
        run_id = manifest.parent.name
        _wait_for(lambda: len(processes_of_run(run_id)) >= 2)  # the child and its kernel are up
    finally:
        proc.send_signal(signal.SIGKILL)  # no chance to clean up
        proc.wait()
    _wait_for(lambda: not processes_of_run(run_id), timeout=30)
    # the index reports the orphaned run as failed rather than running forever
    from galaxy_lib.core.reporting import build_index

    index = _read(build_index(tmp_path).with_suffix(".json"))
    assert index["latest"]["orphan"]["status"] == "failed"
