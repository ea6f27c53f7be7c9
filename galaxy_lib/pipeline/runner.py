"""Run one notebook as a recorded, time-limited job.

:func:`run_notebook` is what ``galaxy run`` and the scheduler call. It goes
through named steps, each a function of this module:

1. check the request (:mod:`galaxy_lib.pipeline.notebooks`): the notebook
   exists and every parameter is declared in its ``parameters`` cell
   (papermill's ``inspect_notebook``), with an error listing the valid names;
2. prepare the run (:func:`_start_run`): create ``reports/<job>/<run_id>/``,
   write a ``running`` manifest and append ``run.started`` to the audit log;
3. execute the notebook in a child process
   (:func:`galaxy_lib.pipeline.execution.execute_in_child`), so that a job-level
   timeout can kill it, its kernel and anything the kernel started; papermill
   saves the executed notebook after every cell, so a failed or killed run keeps
   its partial notebook (:func:`_execution_error` marks where it stopped);
4. export an HTML report without code that opens offline (:func:`_export_report`,
   :mod:`galaxy_lib.core.html_export`), also for failed runs;
5. take the status from the run's ``metrics.json`` (:func:`_status_from_metrics`,
   read through :func:`galaxy_lib.core.metrics.read_metrics`), unless the
   notebook raised, timed out or wrote no ``metrics.json``;
6. scan the run folder for personal data (:func:`_pii_step`): an e-mail address,
   phone number or raw customer id fails the run, and the index lists it without
   links to its outputs;
7. fingerprint the inputs (after the run: it may have built or re-staged the
   store), write ``manifest.json``, append ``run.finished`` with the SHA-256 of
   every output (:func:`galaxy_lib.core.registry.run_record`) to the audit log and
   rebuild ``reports/index.html`` (:func:`_finish_run`).

Everything the runner records permanently (error messages, tracebacks, status
reasons, problems, parameter values, its ``runner.log``) goes through
:func:`galaxy_lib.governance.pii.redact_pii` first, with the store's raw customer
ids: an exception quoting an e-mail fails the PII scan, and must not then be
copied into the manifest, the hash-chained audit log (where it could never be
erased) or the index. ``parameters_hash`` is taken over the real values.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from galaxy_lib.core.audit import AuditError, AuditLog
from galaxy_lib.core.config import ConfigError, resolve_path
from galaxy_lib.core.html_export import export_notebook_html
from galaxy_lib.core.jsonio import to_jsonable, write_json_atomic
from galaxy_lib.core.metrics import MetricsError, read_metrics
from galaxy_lib.core.paths import find_project_root
from galaxy_lib.core.registry import (
    RunManifest,
    code_version,
    input_fingerprints,
    new_run_id,
    parameters_hash,
    run_record,
)
from galaxy_lib.core.reporting import build_index
from galaxy_lib.governance.pii import RawIdMatcher, redact_pii
from galaxy_lib.pipeline.execution import error_message, execute_in_child, mark_stopped
from galaxy_lib.pipeline.notebooks import (
    RESERVED_PARAMETERS,
    check_job_name,
    check_parameters,
    declared_default,
    inject_data_dir,
    resolve_notebook,
)

__all__ = ["DEFAULT_TIMEOUT_S", "record_failed_start", "run_notebook"]

logger = logging.getLogger("galaxy.runner")

#: Default job-level timeout (seconds).
DEFAULT_TIMEOUT_S = 3600.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- the steps of a run ----------------------------------------------------------
@dataclass
class _Run:
    """A run being recorded: where it writes, what it was given, the manifest fields known at its start."""

    nb_path: Path
    job: str
    run_id: str
    out: Path
    reports_dir: Path
    params: dict[str, Any]
    data_path: Path | None
    base: dict[str, Any]
    t0: float
    audit: AuditLog
    audit_problem: str = ""
    raw_ids: RawIdMatcher = field(default_factory=lambda: RawIdMatcher(()))

    @property
    def out_nb(self) -> Path:
        """The executed notebook, saved in the run folder under the notebook's name."""
        return self.out / self.nb_path.name


def _start_run(
    nb_path: Path,
    job: str,
    params: dict[str, Any],
    declared: Mapping[str, Any],
    data_dir: str | Path | None,
    reports_dir: Path,
    timeout_s: float | None,
) -> _Run:
    """Create ``reports/<job>/<run_id>/``, write the ``running`` manifest and log ``run.started``."""
    data_value = params.get("data_dir", declared_default(declared, "data_dir")) if data_dir is None else data_dir
    data_path = resolve_path(data_value) if data_value else None
    run_id = new_run_id()
    out = reports_dir / job / run_id
    out.mkdir(parents=True)
    params["output_dir"] = str(out)
    user_params = {k: v for k, v in params.items() if k not in RESERVED_PARAMETERS}
    started, t0 = _now(), time.monotonic()
    raw_ids = _store_ids(data_path) or RawIdMatcher(())
    base = dict(
        run_id=run_id,
        job=job,
        notebook=nb_path.name,
        parameters=_redact(to_jsonable(user_params), raw_ids),
        parameters_hash=parameters_hash(user_params),
        code_version=code_version(),
        input_fingerprints={},  # taken after the run (_finish_run): the run may build or re-stage the store
        started_at=started.isoformat(),
        data_dir=str(data_path) if data_path else None,
        extra={
            "python": sys.executable,
            "host": os.uname().nodename,
            "runner_pid": os.getpid(),
            "timeout_s": timeout_s,
        },
    )
    run = _Run(
        nb_path=nb_path,
        job=job,
        run_id=run_id,
        out=out,
        reports_dir=reports_dir,
        params=params,
        data_path=data_path,
        base=base,
        t0=t0,
        audit=AuditLog(reports_dir / "audit.jsonl"),
        raw_ids=raw_ids,
    )
    running = RunManifest(**base, outputs=(), finished_at=None, duration_s=None, status="running")
    write_json_atomic(out / "manifest.json", running.to_dict())
    try:
        run.audit.append(
            "run.started",
            {
                "run_id": run_id,
                "job": job,
                "notebook": nb_path.name,
                "parameters_hash": base["parameters_hash"],
                "started_at": base["started_at"],
            },
        )
    except AuditError as err:
        run.audit_problem = redact_pii(err, raw_ids)
    _safe_index(reports_dir)
    return run


def _execution_error(run: _Run, outcome: Mapping[str, Any], problems: list[str]) -> dict[str, Any] | None:
    """Return the execution's error with its one-line ``message``; mark a stopped run's partial notebook."""
    if not outcome["error"]:
        return None
    error = dict(outcome["error"])
    error["message"] = error_message(error)
    if error["kind"] in ("timeout", "interrupted"):
        try:
            mark_stopped(run.out_nb, error["message"])
        except Exception as err:  # a damaged partial notebook must not lose the run record
            problems.append(f"could not annotate the partial notebook: {err}")
    return error


def _export_report(run: _Run, problems: list[str]) -> None:
    """Export the HTML report (offline: it fetches nothing), also for failed runs; a failed export is a problem."""
    if not run.out_nb.exists():
        return
    try:
        export_notebook_html(run.out_nb, f"{run.job} · {run.run_id}")
    except Exception as err:  # a failed export is recorded, the run is still recorded
        problems.append(f"HTML export failed: {type(err).__name__}: {err}")


def _status_from_metrics(out: Path) -> tuple[str, str, dict[str, Any] | None]:
    """Status and reason the notebook wrote to ``metrics.json`` (envelope only), or a ``metrics`` error.

    Returns
    -------
    tuple
        ``(status, reason, error)``; ``error`` is ``None`` when ``metrics.json`` is there and valid.
    """
    metrics_path = out / "metrics.json"
    if not metrics_path.exists():
        return (
            "failed",
            "",
            {
                "kind": "metrics",
                "message": "the notebook finished but did not write metrics.json: its last "
                "cell must call the workflow's publish(output_dir, ...) (which writes it through ReportWriter)",
            },
        )
    try:
        envelope = read_metrics(metrics_path)
    except MetricsError as err:
        return "failed", "", {"kind": "metrics", "message": f"metrics.json is not valid: {err}"}
    return envelope.status, envelope.status_reason, None


def _store_ids(data_dir: Path | None) -> RawIdMatcher | None:
    """Return the store's raw customer ids, or ``None`` when they cannot be read (masking by pattern still runs)."""
    try:
        return RawIdMatcher(_raw_customer_ids(data_dir))
    except Exception:  # an unreadable store must not stop the run from being recorded
        logger.warning("Could not read the raw customer ids of %s; masking by pattern only", data_dir)
        return None


def _redact(value: Any, raw_ids: RawIdMatcher) -> Any:
    """``value`` (JSON-like) with every string passed through :func:`redact_pii`; keys are kept."""
    if isinstance(value, str):
        return redact_pii(value, raw_ids)
    if isinstance(value, Mapping):
        return {k: _redact(v, raw_ids) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(v, raw_ids) for v in value]
    return value


def _redact_log(path: Path, raw_ids: RawIdMatcher) -> None:
    """Mask personal data in the run's ``runner.log`` (after the scan has seen and counted it)."""
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    masked = redact_pii(text, raw_ids)
    if masked != text:
        tmp = path.with_name(f".{path.name}.masked.tmp")
        tmp.write_text(masked, encoding="utf-8")
        os.replace(tmp, path)


def _raw_customer_ids(data_dir: Path | None) -> list[str]:
    """Raw customer ids of the store (for the PII scan), or [] when the raw customers table is absent."""
    if data_dir is None:
        return []
    from galaxy_lib.core.store import DataStore

    store = DataStore(data_dir)
    if not store.exists("raw", "customers"):
        return []
    return store.read("raw", "customers", columns=["customer_id"])["customer_id"].astype(str).tolist()


def _pii_scan(out: Path, raw_ids: RawIdMatcher) -> dict[str, Any]:
    """Scan the run folder; returns ``{"ok", "files_scanned", "findings": [{"file", "kind", "line"}]}``.

    Only where and what kind is kept: the matched value is PII itself and must not
    be copied into the manifest, the audit log or the index.
    """
    from galaxy_lib.governance.pii import SCANNED_SUFFIXES, scan_folder

    # runner.log holds the child's stdout/stderr (warnings can echo data): scan it too.
    result = scan_folder(out, raw_ids=raw_ids, suffixes=(*SCANNED_SUFFIXES, ".log"))
    findings = []
    for f in result.findings:
        d = to_jsonable(f) if not isinstance(f, Mapping) else dict(f)
        file = d.get("file") or d.get("path") or ""
        try:
            file = Path(file).relative_to(out).as_posix()
        except ValueError:
            file = str(file)
        findings.append(
            {"file": file, "kind": d.get("kind") or "pii", "line": d.get("line"), "location": d.get("location")}
        )
    return {"ok": bool(result.ok), "files_scanned": int(result.files_scanned), "findings": findings}


def _pii_step(run: _Run) -> tuple[dict[str, Any], str | None]:
    """Scan the run folder; returns the scan record for the manifest and why it fails the run (``None`` if clean).

    The store's raw ids are read again first: the run may have built the store.
    """
    ids = _store_ids(run.data_path)
    run.raw_ids = ids if ids is not None else run.raw_ids
    try:
        if ids is None:  # the scan must not pass without the store's ids
            raise RuntimeError(f"the raw customer ids of {run.data_path} cannot be read")
        pii = _pii_scan(run.out, run.raw_ids)
    except Exception as err:  # an unscannable report must not pass
        pii = {"ok": False, "files_scanned": 0, "findings": [], "error": f"{type(err).__name__}: {err}"}
    try:
        _redact_log(run.out / "runner.log", run.raw_ids)
    except OSError as err:
        pii = {**pii, "ok": False, "error": f"runner.log could not be masked: {type(err).__name__}"}
    if pii["ok"]:
        return pii, None
    if pii.get("error"):
        return pii, f"PII scan could not run ({pii['error']}); the report is not released"
    kinds = sorted({f["kind"] for f in pii["findings"]})
    files = sorted({f["file"] for f in pii["findings"]})
    return pii, (
        f"PII found in the report: {len(pii['findings'])} finding(s) ({', '.join(kinds)}) in "
        f"{', '.join(files[:5])}{' ...' if len(files) > 5 else ''}"
    )


def _final_status(
    status: str, reason: str, error: Mapping[str, Any] | None, problems: list[str], audit_problem: str
) -> tuple[str, str]:
    """Combine the notebook's status with the runner's error and problems (an audit-log problem fails the run)."""
    if error is not None:
        status, reason = "failed", error["message"]
    if audit_problem:
        problems.append(f"audit log: {audit_problem}")
    if problems:
        reason = "; ".join([reason, *problems]) if reason else "; ".join(problems)
        if any(p.startswith("audit log") for p in problems):
            status = "failed"
    return status, reason


def _finish_run(
    run: _Run, status: str, reason: str, error: Mapping[str, Any] | None, pii: Mapping[str, Any]
) -> RunManifest:
    """Fingerprint the inputs, write the final ``manifest.json``, append ``run.finished``, rebuild the index.

    The error, the reason, the PII-scan record and the fingerprints' paths are masked
    (:func:`redact_pii`) before anything is written.
    """
    run.base["input_fingerprints"] = _redact(input_fingerprints(run.data_path, run.params), run.raw_ids)
    error = _redact(error, run.raw_ids) if error is not None else None
    reason = redact_pii(reason, run.raw_ids)
    outputs = tuple(
        sorted(
            p.relative_to(run.out).as_posix() for p in run.out.rglob("*") if p.is_file() and p.name != "manifest.json"
        )
    )
    manifest = RunManifest(
        **run.base,
        outputs=outputs,
        finished_at=_now().isoformat(),
        duration_s=round(time.monotonic() - run.t0, 3),
        status=status,
        status_reason=reason,
        error=error,
    )
    manifest = replace(manifest, extra={**manifest.extra, "pii": _redact(pii, run.raw_ids)})
    write_json_atomic(run.out / "manifest.json", manifest.to_dict())
    try:
        run.audit.append("run.finished", run_record(manifest, run.out))
    except (AuditError, OSError) as err:  # OSError: an output vanished before it was hashed
        problem = redact_pii(f"audit log: {err}", run.raw_ids)
        manifest = replace(manifest, status="failed", status_reason=f"{manifest.status_reason}; {problem}".lstrip("; "))
        write_json_atomic(run.out / "manifest.json", manifest.to_dict())
    _safe_index(run.reports_dir)
    return manifest


def _safe_index(reports_dir: Path) -> None:
    try:
        build_index(reports_dir, redact=redact_pii)
    except Exception:  # the index is a view; a failure to draw it must not fail the run
        logger.exception("Could not rebuild %s/index.html", reports_dir)


# -- the public entry point ------------------------------------------------------
def run_notebook(
    notebook: str | Path,
    parameters: Mapping[str, Any] | None = None,
    job: str | None = None,
    reports_dir: str | Path | None = None,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    data_dir: str | Path | None = None,
    *,
    notebooks_dir: str | Path | None = None,
    progress: bool = False,
    cancel: threading.Event | None = None,
    record_config_errors: bool = False,
    parameters_source: str = "parameters",
    kernel_name: str = "python3",
) -> RunManifest:
    """Execute a notebook as a recorded job and return its manifest.

    Parameters
    ----------
    notebook
        A file name in ``notebooks_dir`` (``"01_data_inventory.ipynb"``, suffix optional) or a path.
    parameters
        Values injected into the notebook's ``parameters`` cell; every key must be declared there.
    job
        Job name, the folder under ``reports/`` (default: the notebook's stem).
    reports_dir
        Where runs are written (default ``<project root>/reports``).
    timeout_s
        Job-level timeout in seconds; the child process and its kernel are killed at
        the timeout and the run fails with ``"timed out after N s"``. None = no limit.
    data_dir
        The data store the notebook reads. Injected as the ``data_dir`` parameter
        when the notebook declares one; otherwise taken from ``parameters`` or the
        notebook's default. Used for input fingerprints and the PII scan's raw ids.
    notebooks_dir
        Folder of notebooks (default ``<project root>/notebooks``).
    progress
        Show papermill's progress bar (interactive ``galaxy run``); off for scheduled runs,
        whose child output goes to ``runner.log`` in the run folder.
    cancel
        When set (by a stopping scheduler), the run is killed and recorded as interrupted.
    record_config_errors
        If True, a notebook / parameter error is recorded as a failed run (the
        scheduler wants it in the index) instead of raised.
    parameters_source
        Where the parameters came from, quoted in error messages.
    kernel_name
        Jupyter kernel (``python3`` resolves to the interpreter running the child).

    Returns
    -------
    RunManifest
        Also written to ``reports/<job>/<run_id>/manifest.json``.

    Raises
    ------
    FileNotFoundError
        The notebook does not exist (unless ``record_config_errors``).
    ConfigError
        A parameter is not declared by the notebook, or the job name is unusable.
    KeyboardInterrupt
        Re-raised after recording the run when the user pressed Ctrl-C.
    """
    reports_dir = Path(reports_dir) if reports_dir else find_project_root() / "reports"
    params: dict[str, Any] = dict(parameters or {})
    job = check_job_name(job) if job else None
    try:
        nb_path = resolve_notebook(notebook, notebooks_dir)
        job = job or check_job_name(nb_path.stem)
        declared = check_parameters(nb_path, params, parameters_source)
        inject_data_dir(params, declared, data_dir, parameters_source)
    except (ConfigError, FileNotFoundError) as err:
        if not record_config_errors:
            raise
        return record_failed_start(notebook, job, params, reports_dir, err)

    run = _start_run(nb_path, job, params, declared, data_dir, reports_dir, timeout_s)
    outcome = execute_in_child(
        nb_path,
        run.out_nb,
        params,
        kernel_name=kernel_name,
        progress=progress,
        timeout_s=timeout_s,
        cancel=cancel,
        log_path=run.out / "runner.log",
        env_extra={"GALAXY_RUN_ID": run.run_id, "GALAXY_JOB": job},
    )
    problems: list[str] = []
    error = _execution_error(run, outcome, problems)
    _export_report(run, problems)
    status, reason = "failed", ""
    if error is None:
        status, reason, error = _status_from_metrics(run.out)
    pii, pii_problem = _pii_step(run)
    if pii_problem and error is None:
        error = {"kind": "pii", "message": pii_problem}
    elif pii_problem:
        problems.append(pii_problem)
    status, reason = _final_status(status, reason, error, problems, run.audit_problem)
    manifest = _finish_run(run, status, reason, error, pii)
    if outcome.get("interrupted"):
        raise KeyboardInterrupt
    return manifest


def record_failed_start(
    notebook: str | Path, job: str | None, params: Mapping[str, Any], reports_dir: str | Path, err: Exception
) -> RunManifest:
    """Record a job that could not start (missing notebook or parameter file, unknown parameter) as a failed run.

    The scheduler uses it so that a broken job shows up red in the index and in the
    audit log instead of only in a log file. The error and the parameters are masked
    (:func:`redact_pii`, with the raw ids of the ``data_dir`` parameter's store when it
    can be read) before they are written.
    """
    reports_dir = Path(reports_dir)
    if not job:
        try:
            job = check_job_name(Path(str(notebook)).stem)
        except ConfigError:
            job = "unnamed-job"
    kind = "config" if isinstance(err, (ConfigError, FileNotFoundError)) else "runner"
    run_id = new_run_id()
    out = reports_dir / job / run_id
    out.mkdir(parents=True)
    now = _now().isoformat()
    user_params = {k: v for k, v in dict(params).items() if k not in RESERVED_PARAMETERS}
    data_value = params.get("data_dir")
    store_ids = _store_ids(resolve_path(data_value)) if isinstance(data_value, str) and data_value else None
    ids = store_ids or RawIdMatcher(())
    message = redact_pii(f"the job could not start: {err}", ids)
    manifest = RunManifest(
        run_id=run_id,
        job=job,
        notebook=redact_pii(Path(str(notebook)).name, ids),
        parameters=_redact(to_jsonable(user_params), ids),
        parameters_hash=parameters_hash(user_params),
        code_version=code_version(),
        input_fingerprints={},
        outputs=(),
        started_at=now,
        finished_at=now,
        duration_s=0.0,
        status="failed",
        status_reason=message,
        error={"kind": kind, "ename": type(err).__name__, "message": message},
    )
    write_json_atomic(out / "manifest.json", manifest.to_dict())
    try:
        AuditLog(reports_dir / "audit.jsonl").append("run.finished", run_record(manifest, out))
    except AuditError as aerr:
        logger.error("Audit log: %s", redact_pii(aerr, ids))
    _safe_index(reports_dir)
    return manifest
