"""Run one notebook as a recorded, time-limited job.

:func:`run_notebook` is what ``galaxy run`` and the scheduler call:

1. check that the notebook exists and that every parameter is declared in its
   ``parameters`` cell (papermill's ``inspect_notebook``), with an error listing
   the valid names;
2. create ``reports/<job>/<run_id>/`` and write a ``running`` manifest;
3. execute the notebook with papermill **in a child process** (``python -m
   galaxy_lib.pipeline.runner --execute SPEC``) so that a job-level timeout can kill
   it, its kernel and anything the kernel started; papermill saves the executed
   notebook after every cell, so a failed or killed run keeps its partial notebook;
4. export an HTML report without code (nbconvert), also for failed runs;
5. take the status from the notebook's ``metrics.json``, unless the notebook
   raised, timed out, wrote no ``metrics.json``, or the PII scan of the run
   folder found an e-mail address, phone number or raw customer id;
6. write ``manifest.json``, append ``run.finished`` to the audit log and rebuild
   ``reports/index.html``.

The kernel is the Jupyter ``python3`` kernel; ``jupyter_client`` launches a kernel
spec whose command is ``python`` with the interpreter running the child process,
i.e. the same virtual environment as the runner.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import difflib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from galaxy_lib.core.audit import AuditError, AuditLog
from galaxy_lib.core.config import ConfigError, resolve_path
from galaxy_lib.core.paths import find_project_root
from galaxy_lib.core.registry import (
    RunManifest,
    code_version,
    input_fingerprints,
    new_run_id,
    parameters_hash,
)
from galaxy_lib.core.jsonio import to_jsonable, write_json_atomic
from galaxy_lib.core.gates import RUN_STATUSES
from galaxy_lib.core.reporting import build_index

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "RESERVED_PARAMETERS",
    "run_notebook",
    "resolve_notebook",
    "notebook_parameters",
    "check_parameters",
    "check_job_name",
    "record_failed_start",
]

logger = logging.getLogger("galaxy.runner")

#: Default job-level timeout (seconds).
DEFAULT_TIMEOUT_S = 3600.0
#: Parameters the runner sets itself.
RESERVED_PARAMETERS: tuple[str, ...] = ("output_dir",)
_JOB_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_KILL_GRACE_S = 3.0


# -- checks ----------------------------------------------------------------------
def check_job_name(job: str) -> str:
    """Return ``job`` if it is a usable folder name under ``reports/``, else raise :class:`ConfigError`."""
    if not isinstance(job, str) or not _JOB_RE.match(job) or job == "adhoc":
        raise ConfigError(
            f"Job name {job!r} is not allowed: use letters, digits, '_', '-' or '.', starting with a "
            "letter or digit (it becomes the folder reports/<job>/); 'adhoc' is reserved for interactive runs."
        )
    return job


def resolve_notebook(notebook: str | Path, notebooks_dir: str | Path | None = None) -> Path:
    """Find a notebook by path or by name in ``notebooks_dir`` (``.ipynb`` may be omitted).

    Raises
    ------
    FileNotFoundError
        Listing the notebooks that do exist.
    """
    nb_dir = Path(notebooks_dir) if notebooks_dir else find_project_root() / "notebooks"
    raw = Path(notebook).expanduser()
    names = [raw] if raw.suffix == ".ipynb" else [raw.with_name(raw.name + ".ipynb"), raw]
    candidates: list[Path] = []
    for n in names:
        candidates.extend([n] if n.is_absolute() else [nb_dir / n, Path.cwd() / n])
    for c in candidates:
        if c.is_file() and c.suffix == ".ipynb":
            return c.resolve()
    available = sorted(p.name for p in nb_dir.glob("*.ipynb")) if nb_dir.is_dir() else []
    raise FileNotFoundError(
        f"Notebook {str(notebook)!r} not found (looked in {nb_dir} and the current folder). "
        f"Available notebooks: {', '.join(available) or 'none'}."
    )


def notebook_parameters(path: str | Path) -> dict[str, dict[str, Any]]:
    """The notebook's declared parameters: ``{name: {"name", "inferred_type_name", "default", "help"}}``."""
    import papermill

    return papermill.inspect_notebook(str(path))


def check_parameters(path: str | Path, parameters: Mapping[str, Any], source: str = "parameters") -> dict[str, dict[str, Any]]:
    """Raise :class:`ConfigError` unless every key of ``parameters`` is declared in the notebook.

    Parameters
    ----------
    path
        The notebook.
    parameters
        Values to inject.
    source
        Where they came from (a file name, ``-p``), quoted in the message.

    Returns
    -------
    dict
        The declared parameters (see :func:`notebook_parameters`).
    """
    path = Path(path)
    declared = notebook_parameters(path)
    if not declared:
        raise ConfigError(
            f"{path.name} has no cell tagged 'parameters', so nothing can be injected. Tag the cell that "
            "assigns the notebook's parameters (View > Cell Toolbar > Tags in Jupyter, or '# %% tags=[\"parameters\"]' "
            "in the jupytext .py file)."
        )
    for reserved in RESERVED_PARAMETERS:
        if reserved in parameters:
            raise ConfigError(f"{reserved!r} is set by the runner (reports/<job>/<run_id>/); remove it from {source}.")
        if reserved not in declared:
            raise ConfigError(
                f"{path.name} does not declare the parameter {reserved!r}: add `{reserved}: str = \"\"` to its "
                "parameters cell and pass it to ReportWriter."
            )
    unknown = [k for k in parameters if k not in declared]
    if unknown:
        valid = ", ".join(
            f"{n} ({p.get('inferred_type_name') or '?'}, default {p.get('default')})"
            for n, p in declared.items() if n not in RESERVED_PARAMETERS
        )
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, list(declared), n=1)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(
            f"Unknown parameter(s) {', '.join(hints)} in {source} for {path.name}. Valid parameters: {valid}."
        )
    return declared


def _declared_default(declared: Mapping[str, Mapping[str, Any]], name: str) -> Any:
    if name not in declared:
        return None
    try:
        return ast.literal_eval(str(declared[name].get("default")))
    except (ValueError, SyntaxError):
        return None


# -- child process: the papermill execution --------------------------------------
def _child_main(spec_path: str) -> int:
    """Entry point of the child process: execute the notebook, write the outcome JSON."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    _exit_with_parent()
    import papermill
    from papermill.exceptions import PapermillExecutionError

    result: dict[str, Any] = {"ok": True, "error": None}
    try:
        papermill.execute_notebook(
            spec["input"],
            spec["output"],
            parameters=spec["parameters"],
            kernel_name=spec["kernel_name"],
            progress_bar=spec["progress"],
            cwd=spec["cwd"],
            request_save_on_cell_execute=True,
            autosave_cell_every=10,
            log_output=False,
        )
    except PapermillExecutionError as err:
        result = {"ok": False, "error": {
            "kind": "exception", "ename": err.ename, "evalue": err.evalue, "cell_index": err.cell_index,
            "exec_count": err.exec_count, "cell_source": err.source,
            "traceback": _strip_ansi("\n".join(err.traceback))[-4000:],
        }}
    except BaseException as err:  # noqa: BLE001 - the parent must learn about any failure
        result = {"ok": False, "error": {
            "kind": "runner", "ename": type(err).__name__, "evalue": str(err),
            "traceback": traceback.format_exc()[-4000:],
        }}
    write_json_atomic(spec["result"], result)
    return 0


def _exit_with_parent(poll_s: float = 1.0) -> None:
    """Exit when the runner that started this process dies (e.g. a scheduler killed with SIGKILL).

    Without this the notebook would keep running unsupervised, past its timeout.
    The kernel exits by itself when this process is gone (ipykernel's parent poller).
    """
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="galaxy-parent-watch", daemon=True).start()


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _kill_tree(proc: subprocess.Popen) -> None:
    """Terminate the child, its kernel and the kernel's children (SIGTERM, then SIGKILL)."""
    import psutil

    try:
        parent = psutil.Process(proc.pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        procs = []
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=_KILL_GRACE_S)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=_KILL_GRACE_S)
    try:
        proc.wait(timeout=_KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        pass


def _execute(nb_path: Path, out_nb: Path, parameters: dict[str, Any], *, kernel_name: str, progress: bool,
             timeout_s: float | None, cancel: threading.Event | None, log_path: Path,
             env_extra: Mapping[str, str]) -> dict[str, Any]:
    """Run papermill in a child process; returns ``{"ok", "error"}`` (error kinds: exception, runner, timeout, interrupted)."""
    tmp = Path(tempfile.mkdtemp(prefix="galaxy-run-"))
    spec = {"input": str(nb_path), "output": str(out_nb), "parameters": to_jsonable(parameters),
            "kernel_name": kernel_name, "progress": progress, "cwd": str(nb_path.parent),
            "result": str(tmp / "result.json")}
    spec_path = write_json_atomic(tmp / "spec.json", spec)
    env = {**os.environ, **env_extra, "PYTHONUNBUFFERED": "1"}
    # Figures must survive the HTML export offline: besides the plotly mimetype (for
    # JupyterLab) emit text/html with plotly.js inlined once per notebook (no CDN).
    env.setdefault("PLOTLY_RENDERER", "plotly_mimetype+notebook")
    started = time.monotonic()
    stop: dict[str, Any] | None = None
    interrupted = False
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "galaxy_lib.pipeline.runner", "--execute", str(spec_path)],
            stdout=log, stderr=None if progress else log, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True,
        )
        try:
            while proc.poll() is None:
                try:
                    proc.wait(timeout=0.2)
                except subprocess.TimeoutExpired:
                    pass
                if proc.returncode is not None:
                    break
                if timeout_s and time.monotonic() - started > timeout_s:
                    mins = f" ({timeout_s / 60:g} min)" if timeout_s >= 60 else ""
                    stop = {"kind": "timeout", "message": f"timed out after {timeout_s:g} s{mins}"}
                elif cancel is not None and cancel.is_set():
                    stop = {"kind": "interrupted", "message": "interrupted: the scheduler was stopped"}
                if stop:
                    _kill_tree(proc)
                    break
        except KeyboardInterrupt:
            stop = {"kind": "interrupted", "message": "interrupted by the user (Ctrl-C)"}
            interrupted = True
            _kill_tree(proc)
    result_path = tmp / "result.json"
    try:
        if stop is not None:
            result = {"ok": False, "error": stop}
        elif result_path.exists():
            result = json.loads(result_path.read_text(encoding="utf-8"))
        else:
            result = {"ok": False, "error": {
                "kind": "runner", "message": f"the notebook process exited with code {proc.returncode} "
                                             f"without a result; see {log_path.name}"}}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["interrupted"] = interrupted
    return result


def _mark_stopped(out_nb: Path, message: str) -> None:
    """Record a timeout / interruption in the partial notebook: error output on the running cell + a notice."""
    import nbformat

    if not out_nb.exists():
        return
    nb = nbformat.read(out_nb, as_version=4)
    stopped_at = None
    for cell in nb.cells:
        pm = cell.get("metadata", {}).get("papermill", {})
        if pm.get("status") == "running":
            pm["status"] = "failed"
            if cell.cell_type == "code":
                cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                    "error", ename="JobStopped", evalue=message, traceback=[f"JobStopped: {message}"]))
                stopped_at = cell.get("execution_count")
    where = f" while running cell In [{stopped_at}]" if stopped_at else ""
    notice = nbformat.v4.new_markdown_cell(
        f'<span style="color:#c62828;font-size:1.5em;">Execution stopped{where}: {message}.</span>')
    notice.metadata["tags"] = ["galaxy-stopped"]
    nb.cells.insert(0, notice)
    nb.metadata.setdefault("papermill", {})["exception"] = True
    nbformat.write(nb, out_nb)


def _export_html(out_nb: Path, title: str) -> Path:
    """Executed notebook -> HTML without code or prompts (nbconvert)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(out_nb, as_version=4)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    html_path = out_nb.with_suffix(".html")
    html_path.write_text(body, encoding="utf-8")
    return html_path


def _raw_customer_ids(data_dir: Path | None) -> list[str]:
    """Raw customer ids of the store (for the PII scan), or [] when the raw customers table is absent."""
    if data_dir is None:
        return []
    from galaxy_lib.core.store import DataStore

    store = DataStore(data_dir)
    if not store.exists("raw", "customers"):
        return []
    return store.read("raw", "customers", columns=["customer_id"])["customer_id"].astype(str).tolist()


def _pii_scan(out: Path, data_dir: Path | None) -> dict[str, Any]:
    """Scan the run folder; returns ``{"ok", "files_scanned", "findings": [{"file", "kind", "line"}]}``.

    Only where and what kind is kept: the matched value is PII itself and must not
    be copied into the manifest, the audit log or the index.
    """
    from galaxy_lib.governance.pii import SCANNED_SUFFIXES, scan_folder

    # runner.log holds the child's stdout/stderr (warnings can echo data): scan it too.
    result = scan_folder(out, raw_ids=_raw_customer_ids(data_dir), suffixes=(*SCANNED_SUFFIXES, ".log"))
    findings = []
    for f in result.findings:
        d = to_jsonable(f) if not isinstance(f, Mapping) else dict(f)
        file = d.get("file") or d.get("path") or ""
        try:
            file = Path(file).relative_to(out).as_posix()
        except ValueError:
            file = str(file)
        findings.append({"file": file, "kind": d.get("kind") or "pii", "line": d.get("line"),
                         "location": d.get("location")})
    return {"ok": bool(result.ok), "files_scanned": int(result.files_scanned), "findings": findings}


def _error_message(error: Mapping[str, Any]) -> str:
    if error.get("kind") == "exception":
        src = (error.get("cell_source") or "").strip().splitlines()
        first = next((ln for ln in src if ln.strip() and not ln.lstrip().startswith("#")), src[0] if src else "")
        where = f" in cell In [{error.get('exec_count')}]" + (f" (`{first.strip()[:80]}`)" if first else "")
        return f"{error.get('ename')}: {error.get('evalue')}{where}"
    if error.get("message"):
        return str(error["message"])
    return f"{error.get('ename')}: {error.get('evalue')}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


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
        if data_dir is not None and "data_dir" in declared:
            if "data_dir" in params and resolve_path(params["data_dir"]) != resolve_path(data_dir):
                raise ConfigError(
                    f"data_dir is given twice with different values ({params['data_dir']!r} in {parameters_source} "
                    f"and {str(data_dir)!r}); pass only one."
                )
            params["data_dir"] = str(data_dir)
    except (ConfigError, FileNotFoundError) as err:
        if not record_config_errors:
            raise
        return record_failed_start(notebook, job, params, reports_dir, err)

    data_value = params.get("data_dir", _declared_default(declared, "data_dir")) if data_dir is None else data_dir
    data_path = resolve_path(data_value) if data_value else None
    run_id = new_run_id()
    out = reports_dir / job / run_id
    out.mkdir(parents=True)
    params["output_dir"] = str(out)
    user_params = {k: v for k, v in params.items() if k not in RESERVED_PARAMETERS}
    started = _now()
    t0 = time.monotonic()
    base = dict(
        run_id=run_id, job=job, notebook=nb_path.name, parameters=to_jsonable(user_params),
        parameters_hash=parameters_hash(user_params), code_version=code_version(),
        input_fingerprints=input_fingerprints(data_path), started_at=started.isoformat(),
        data_dir=str(data_path) if data_path else None,
        extra={"python": sys.executable, "host": os.uname().nodename, "runner_pid": os.getpid(),
               "timeout_s": timeout_s},
    )
    running = RunManifest(**base, outputs=(), finished_at=None, duration_s=None, status="running")
    write_json_atomic(out / "manifest.json", running.to_dict())
    audit = AuditLog(reports_dir / "audit.jsonl")
    audit_problem = ""
    try:
        audit.append("run.started", {"run_id": run_id, "job": job, "notebook": nb_path.name,
                                     "parameters_hash": base["parameters_hash"], "started_at": base["started_at"]})
    except AuditError as err:
        audit_problem = str(err)
    _safe_index(reports_dir)

    out_nb = out / nb_path.name
    outcome = _execute(nb_path, out_nb, params, kernel_name=kernel_name, progress=progress, timeout_s=timeout_s,
                       cancel=cancel, log_path=out / "runner.log",
                       env_extra={"GALAXY_RUN_ID": run_id, "GALAXY_JOB": job})
    error: dict[str, Any] | None = dict(outcome["error"]) if outcome["error"] else None
    if error:
        error["message"] = _error_message(error)
    problems: list[str] = []
    if error and error["kind"] in ("timeout", "interrupted"):
        try:
            _mark_stopped(out_nb, error["message"])
        except Exception as err:  # noqa: BLE001 - a damaged partial notebook must not lose the run record
            problems.append(f"could not annotate the partial notebook: {err}")

    # HTML report without code, also for failed runs.
    if out_nb.exists():
        try:
            _export_html(out_nb, f"{job} · {run_id}")
        except Exception as err:  # noqa: BLE001
            problems.append(f"HTML export failed: {type(err).__name__}: {err}")

    # Status from metrics.json.
    status, reason = "failed", ""
    metrics_path = out / "metrics.json"
    if error is None:
        if not metrics_path.exists():
            error = {"kind": "metrics", "message": "the notebook finished but did not write metrics.json: its last "
                     "cell must call ReportWriter(output_dir, notebook=...).write()"}
        else:
            try:
                m = json.loads(metrics_path.read_text(encoding="utf-8"))
                if m.get("status") not in RUN_STATUSES:
                    raise ValueError(f"status {m.get('status')!r} is not one of {', '.join(RUN_STATUSES)}")
                status, reason = m["status"], str(m.get("status_reason") or "")
            except (ValueError, AttributeError) as err:
                error = {"kind": "metrics", "message": f"metrics.json is not valid: {err}"}

    # PII scan of everything the run produced.
    pii: dict[str, Any] | None
    try:
        pii = _pii_scan(out, data_path)
    except Exception as err:  # noqa: BLE001 - an unscannable report must not pass
        pii = {"ok": False, "files_scanned": 0, "findings": [], "error": f"{type(err).__name__}: {err}"}
    if not pii["ok"]:
        if pii.get("error"):
            pii_msg = f"PII scan could not run ({pii['error']}); the report is not released"
        else:
            kinds = sorted({f["kind"] for f in pii["findings"]})
            files = sorted({f["file"] for f in pii["findings"]})
            pii_msg = (f"PII found in the report: {len(pii['findings'])} finding(s) ({', '.join(kinds)}) in "
                       f"{', '.join(files[:5])}{' ...' if len(files) > 5 else ''}")
        if error is None:
            error = {"kind": "pii", "message": pii_msg}
        else:
            problems.append(pii_msg)

    if error is not None:
        status, reason = "failed", error["message"]
    if audit_problem:
        problems.append(f"audit log: {audit_problem}")
    if problems:
        reason = "; ".join([reason, *problems]) if reason else "; ".join(problems)
        if any(p.startswith("audit log") for p in problems):
            status = "failed"

    # Inputs: when the world was built during the run, fingerprint it now.
    if not base["input_fingerprints"]:
        base["input_fingerprints"] = input_fingerprints(data_path)
    outputs = tuple(sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                           if p.is_file() and p.name != "manifest.json"))
    finished = _now()
    manifest = RunManifest(
        **base, outputs=outputs, finished_at=finished.isoformat(), duration_s=round(time.monotonic() - t0, 3),
        status=status, status_reason=reason, error=error,
    )
    manifest = _replace_extra(manifest, pii=pii)
    write_json_atomic(out / "manifest.json", manifest.to_dict())
    try:
        audit.append("run.finished", manifest.to_dict())
    except AuditError as err:
        manifest = _replace_extra(manifest, status="failed",
                                  status_reason=f"{manifest.status_reason}; audit log: {err}".lstrip("; "))
        write_json_atomic(out / "manifest.json", manifest.to_dict())
    _safe_index(reports_dir)
    if outcome.get("interrupted"):
        raise KeyboardInterrupt
    return manifest


def _replace_extra(manifest: RunManifest, pii: dict[str, Any] | None = None, **changes: Any) -> RunManifest:
    from dataclasses import replace

    if pii is not None:
        changes["extra"] = {**manifest.extra, "pii": pii}
    return replace(manifest, **changes)


def _safe_index(reports_dir: Path) -> None:
    try:
        build_index(reports_dir)
    except Exception:  # noqa: BLE001 - the index is a view; a failure to draw it must not fail the run
        logger.exception("Could not rebuild %s/index.html", reports_dir)


def record_failed_start(notebook: str | Path, job: str | None, params: Mapping[str, Any], reports_dir: str | Path,
                        err: Exception) -> RunManifest:
    """Record a job that could not start (missing notebook or parameter file, unknown parameter) as a failed run.

    The scheduler uses it so that a broken job shows up red in the index and in the
    audit log instead of only in a log file.
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
    manifest = RunManifest(
        run_id=run_id, job=job, notebook=Path(str(notebook)).name, parameters=to_jsonable(user_params),
        parameters_hash=parameters_hash(user_params), code_version=code_version(), input_fingerprints={},
        outputs=(), started_at=now, finished_at=now, duration_s=0.0, status="failed",
        status_reason=f"the job could not start: {err}",
        error={"kind": kind, "ename": type(err).__name__, "message": f"the job could not start: {err}"},
    )
    write_json_atomic(out / "manifest.json", manifest.to_dict())
    try:
        AuditLog(reports_dir / "audit.jsonl").append("run.finished", manifest.to_dict())
    except AuditError as aerr:
        logger.error("Audit log: %s", aerr)
    _safe_index(reports_dir)
    return manifest


def main(argv: list[str] | None = None) -> int:
    """``python -m galaxy_lib.pipeline.runner --execute SPEC``: the child-process side (internal)."""
    parser = argparse.ArgumentParser(description="Internal: execute one notebook for galaxy_lib.pipeline.runner.")
    parser.add_argument("--execute", required=True, help="path of the JSON spec written by run_notebook")
    args = parser.parse_args(argv)
    return _child_main(args.execute)


if __name__ == "__main__":
    sys.exit(main())
