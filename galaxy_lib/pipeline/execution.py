"""Execute one notebook with papermill in a child process that a timeout can kill.

:func:`execute_in_child` is the execution step of
:func:`galaxy_lib.pipeline.runner.run_notebook`. It writes a JSON spec, starts
``python -m galaxy_lib.pipeline.execution --execute SPEC`` in a new session and
supervises it: at the job's timeout, when the scheduler asks to stop, or on
Ctrl-C it kills the child, its kernel and anything the kernel started. Papermill
saves the executed notebook after every cell, so a failed or killed run keeps
its partial notebook; :func:`mark_stopped` then marks the cell that was running.

The outcome is a dict ``{"ok", "error", "interrupted"}``; an error has a
``kind``: ``exception`` (a cell raised), ``runner`` (papermill itself failed or
the child died), ``timeout`` or ``interrupted``. :func:`error_message` turns it
into the one line shown in the manifest and the index.

The kernel is the Jupyter ``python3`` kernel; ``jupyter_client`` launches a
kernel spec whose command is ``python`` with the interpreter running the child
process, i.e. the same virtual environment as the runner.
"""

from __future__ import annotations

import argparse
import json
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

from galaxy_lib.core.jsonio import to_jsonable, write_json_atomic

__all__ = ["error_message", "execute_in_child", "main", "mark_stopped"]

#: Seconds a killed process gets between SIGTERM and SIGKILL.
_KILL_GRACE_S = 3.0
#: Seconds between two checks of the child, the timeout and the cancel event.
_POLL_S = 0.2
#: Characters of a traceback kept in the outcome.
_TRACEBACK_CHARS = 4000
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# -- the child process -------------------------------------------------------------
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
        result = {
            "ok": False,
            "error": {
                "kind": "exception",
                "ename": err.ename,
                "evalue": err.evalue,
                "cell_index": err.cell_index,
                "exec_count": err.exec_count,
                "cell_source": err.source,
                "traceback": _strip_ansi("\n".join(err.traceback))[-_TRACEBACK_CHARS:],
            },
        }
    except BaseException as err:  # the parent must learn about any failure
        result = {
            "ok": False,
            "error": {
                "kind": "runner",
                "ename": type(err).__name__,
                "evalue": str(err),
                "traceback": traceback.format_exc()[-_TRACEBACK_CHARS:],
            },
        }
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


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


# -- the parent side ---------------------------------------------------------------
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


def _write_spec(
    folder: Path, nb_path: Path, out_nb: Path, parameters: Mapping[str, Any], kernel_name: str, progress: bool
) -> Path:
    """Write the child's instructions (``spec.json``) into ``folder``; the child writes ``result.json`` there."""
    spec = {
        "input": str(nb_path),
        "output": str(out_nb),
        "parameters": to_jsonable(dict(parameters)),
        "kernel_name": kernel_name,
        "progress": progress,
        "cwd": str(nb_path.parent),
        "result": str(folder / "result.json"),
    }
    return write_json_atomic(folder / "spec.json", spec)


def _child_env(env_extra: Mapping[str, str]) -> dict[str, str]:
    env = {**os.environ, **env_extra, "PYTHONUNBUFFERED": "1"}
    # Figures must survive the HTML export offline: besides the plotly mimetype (for
    # JupyterLab) emit text/html with plotly.js inlined once per notebook (no CDN).
    env.setdefault("PLOTLY_RENDERER", "plotly_mimetype+notebook")
    return env


def _supervise(
    proc: subprocess.Popen,
    timeout_s: float | None,
    cancel: threading.Event | None,
) -> tuple[dict[str, Any] | None, bool]:
    """Wait for the child; kill it at the timeout, on cancel or on Ctrl-C.

    Returns
    -------
    tuple
        The stop record (``{"kind", "message"}``; ``None`` when the child ended by
        itself) and whether the user pressed Ctrl-C.
    """
    started = time.monotonic()
    stop: dict[str, Any] | None = None
    try:
        while proc.poll() is None:
            try:
                proc.wait(timeout=_POLL_S)
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
        _kill_tree(proc)
        return {"kind": "interrupted", "message": "interrupted by the user (Ctrl-C)"}, True
    return stop, False


def _read_result(
    result_path: Path, stop: dict[str, Any] | None, returncode: int | None, log_name: str
) -> dict[str, Any]:
    """Read the outcome: the stop record, else the child's ``result.json``, else a runner error."""
    if stop is not None:
        return {"ok": False, "error": stop}
    if result_path.exists():
        return json.loads(result_path.read_text(encoding="utf-8"))
    return {
        "ok": False,
        "error": {
            "kind": "runner",
            "message": f"the notebook process exited with code {returncode} without a result; see {log_name}",
        },
    }


def execute_in_child(
    nb_path: Path,
    out_nb: Path,
    parameters: Mapping[str, Any],
    *,
    kernel_name: str,
    progress: bool,
    timeout_s: float | None,
    cancel: threading.Event | None,
    log_path: Path,
    env_extra: Mapping[str, str],
) -> dict[str, Any]:
    """Run papermill on ``nb_path`` in a child process and return its outcome.

    Parameters
    ----------
    nb_path, out_nb
        The notebook and where the executed copy is saved (after every cell).
    parameters
        Values papermill injects.
    kernel_name, progress
        Jupyter kernel; papermill's progress bar.
    timeout_s
        Seconds before the child, its kernel and their children are killed (``None``: no limit).
    cancel
        When set, the child is killed and the run recorded as interrupted.
    log_path
        File receiving the child's output (appended).
    env_extra
        Environment variables added for the child (e.g. ``GALAXY_RUN_ID``).

    Returns
    -------
    dict
        ``{"ok", "error", "interrupted"}``; ``error`` is ``None`` or has a ``kind``
        (``exception``, ``runner``, ``timeout``, ``interrupted``).
    """
    tmp = Path(tempfile.mkdtemp(prefix="galaxy-run-"))
    try:
        spec_path = _write_spec(tmp, nb_path, out_nb, parameters, kernel_name, progress)
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "galaxy_lib.pipeline.execution", "--execute", str(spec_path)],
                stdout=log,
                stderr=None if progress else log,
                stdin=subprocess.DEVNULL,
                env=_child_env(env_extra),
                start_new_session=True,
            )
            stop, interrupted = _supervise(proc, timeout_s, cancel)
        result = _read_result(tmp / "result.json", stop, proc.returncode, log_path.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["interrupted"] = interrupted
    return result


def mark_stopped(out_nb: Path, message: str) -> None:
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
                cell.setdefault("outputs", []).append(
                    nbformat.v4.new_output(
                        "error", ename="JobStopped", evalue=message, traceback=[f"JobStopped: {message}"]
                    )
                )
                stopped_at = cell.get("execution_count")
    where = f" while running cell In [{stopped_at}]" if stopped_at else ""
    notice = nbformat.v4.new_markdown_cell(
        f'<span style="color:#c62828;font-size:1.5em;">Execution stopped{where}: {message}.</span>'
    )
    notice.metadata["tags"] = ["galaxy-stopped"]
    nb.cells.insert(0, notice)
    nb.metadata.setdefault("papermill", {})["exception"] = True
    nbformat.write(nb, out_nb)


def error_message(error: Mapping[str, Any]) -> str:
    """One line for an outcome's error: the exception with the cell it came from, or the stop message."""
    if error.get("kind") == "exception":
        src = (error.get("cell_source") or "").strip().splitlines()
        first = next((ln for ln in src if ln.strip() and not ln.lstrip().startswith("#")), src[0] if src else "")
        where = f" in cell In [{error.get('exec_count')}]" + (f" (`{first.strip()[:80]}`)" if first else "")
        return f"{error.get('ename')}: {error.get('evalue')}{where}"
    if error.get("message"):
        return str(error["message"])
    return f"{error.get('ename')}: {error.get('evalue')}"


def main(argv: list[str] | None = None) -> int:
    """``python -m galaxy_lib.pipeline.execution --execute SPEC``: the child-process side (internal)."""
    parser = argparse.ArgumentParser(description="Internal: execute one notebook for galaxy_lib.pipeline.runner.")
    parser.add_argument("--execute", required=True, help="path of the JSON spec written by execute_in_child")
    args = parser.parse_args(argv)
    return _child_main(args.execute)


if __name__ == "__main__":
    sys.exit(main())
