"""Crash consistency of the run record: the runner killed at seeded points (issue 15, runner half).

One reports folder takes four crashes in a row, as a machine would over time; after
each, ``audit verify`` must tell the truth about it, the index must rebuild, and at
the end a rerun must succeed:

* ``parent``: the runner process is SIGKILLed while its notebook runs (a seeded
  delay after the kernel is up). The log holds ``run.started`` only; verify notes
  exactly that run as never finished; the index shows it failed.
* ``child``: the notebook's process is SIGKILLed instead. The runner survives and
  records a failed run; everything verifies.
* ``before-head``: the runner dies between writing the ``run.finished`` line and
  its head file. Verify accepts the one entry the head lacks (and says so); the
  next append rolls the head forward instead of wedging every later run.
* ``before-finish``: the runner dies after the final ``manifest.json``, before its
  ``run.finished`` entry. Verify names exactly that run: its result was never recorded.

The ingester half of the acceptance test lives in its own file.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from galaxy_lib.core.audit import AUDIT_KEY_ENV, HEAD_ROLLED_FORWARD, AuditLog
from galaxy_lib.core.registry import verify_run_records
from galaxy_lib.core.reporting import build_index
from galaxy_lib.pipeline.runner import run_notebook
from tests.fixtures.processes import processes_of_run

TINY = Path(__file__).parent.parent / "fixtures" / "tiny.ipynb"
SEED = 15

#: Runs ``run_notebook`` in a process of its own; ``crash`` makes it die (os._exit, no cleanup) at one step.
_RUNNER = """
import os, sys
from galaxy_lib.core.audit import AuditLog
from galaxy_lib.pipeline.runner import run_notebook
from tests.fixtures.processes import processes_of_run

reports, job, crash, mode = sys.argv[1:5]
if crash == "before-head":  # die after the run.finished line, before its head file
    write_head, calls = AuditLog._write_head, []
    def _write_head(self, seq, h):
        calls.append(seq)
        if len(calls) == 2:  # 1: run.started, 2: run.finished
            os._exit(9)
        write_head(self, seq, h)
    AuditLog._write_head = _write_head
elif crash == "before-finish":  # die after the final manifest, before run.finished
    append = AuditLog.append
    def _append(self, kind, payload):
        if kind == "run.finished":
            os._exit(9)
        return append(self, kind, payload)
    AuditLog.append = _append
run_notebook(sys.argv[5], {"mode": mode, "sleep_s": 600.0}, job=job, reports_dir=reports, timeout_s=900)
"""


def _start(reports: Path, job: str, crash: str, mode: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != AUDIT_KEY_ENV}
    return subprocess.Popen([sys.executable, "-c", _RUNNER, str(reports), job, crash, mode, str(TINY)], env=env)


def _wait_for(predicate, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def _run_id(reports: Path, job: str) -> str:
    return _wait_for(lambda: next((p.parent.name for p in (reports / job).glob("*/manifest.json")), None))


def _manifest(reports: Path, job: str, run_id: str) -> dict:
    return json.loads((reports / job / run_id / "manifest.json").read_text())


def _kill_while_running(reports: Path, job: str, rng: random.Random, target: str) -> str:
    """Start a sleeping run, SIGKILL the runner (``parent``) or the notebook's process (``child``) at a seeded delay."""
    proc = _start(reports, job, "none", "sleep")
    try:
        run_id = _run_id(reports, job)
        _wait_for(lambda: len(processes_of_run(run_id)) >= 2)  # the child and its kernel are up
        time.sleep(rng.uniform(0.0, 1.5))
        if target == "parent":
            proc.send_signal(signal.SIGKILL)
        else:
            procs = processes_of_run(run_id)
            child = next(p for p in procs if "galaxy_lib.pipeline.execution" in " ".join(p.cmdline()))
            child.send_signal(signal.SIGKILL)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _wait_for(lambda: not processes_of_run(run_id), timeout=60)  # nothing of the run survives
    return run_id


def _check(reports: Path) -> tuple:
    """Verify the chain, cross-check the runs and rebuild the index; return what they said."""
    chain = AuditLog(reports / "audit.jsonl").verify()
    assert chain.ok, chain.reason
    runs = verify_run_records(reports / "audit.jsonl")
    index = json.loads(build_index(reports).with_suffix(".json").read_text())
    assert index["audit"]["ok"]
    return chain, runs, {r["run_id"]: r for r in index["runs"]}


@pytest.mark.slow
def test_the_runner_killed_at_seeded_points_leaves_a_truthful_record_and_a_rerun_succeeds(tmp_path):
    rng = random.Random(SEED)
    reports = tmp_path / "reports"

    # 1. the runner itself is killed while the notebook runs
    parent = _kill_while_running(reports, "killed_parent", rng, "parent")
    chain, runs, rows = _check(reports)
    assert runs.ok and runs.notes == (
        f"run killed_parent/{parent} started and never finished (still running, or its runner was killed)",
    )
    assert rows[parent]["status"] == "failed" and "runner process died" in rows[parent]["status_reason"]
    assert set(rows[parent]["links"]) == {"manifest"}  # the partial notebook was never scanned

    # 2. the notebook's process is killed: the runner records the failure itself
    child = _kill_while_running(reports, "killed_child", rng, "child")
    m = _manifest(reports, "killed_child", child)
    assert m["status"] == "failed" and m["error"]["kind"] == "runner", m["status_reason"]
    chain, runs, rows = _check(reports)
    assert runs.ok and runs.runs == 1 and len(runs.notes) == 1  # still only the first run is unfinished

    # 3. killed between the run.finished line and its head file
    assert _start(reports, "before_head", "before-head", "pass").wait(timeout=300) == 9
    chain, runs, rows = _check(reports)
    assert chain.head_behind and "chains onto it" in chain.note
    assert runs.ok and runs.runs == 2  # the entry without its head is still a full record

    # 4. killed after the final manifest, before its run.finished entry
    assert _start(reports, "before_finish", "before-finish", "pass").wait(timeout=300) == 9
    unrecorded = _run_id(reports, "before_finish")
    assert _manifest(reports, "before_finish", unrecorded)["status"] == "passed"
    chain, runs, rows = _check(reports)
    assert runs.problems == (
        f"run before_finish/{unrecorded}: manifest.json says 'passed', but the audit log has no run.finished "
        "entry for it (the runner was killed while finishing, or the manifest was written outside the runner)",
    )

    # a rerun succeeds: the lagging head is rolled forward and recorded, the chain verifies
    rerun = run_notebook(TINY, {"mode": "pass"}, job="rerun", reports_dir=reports, timeout_s=300)
    assert rerun.status == "passed", rerun.status_reason
    kinds = [e.kind for e in AuditLog(reports / "audit.jsonl").entries()]
    assert kinds.count(HEAD_ROLLED_FORWARD) == 1
    chain, runs, rows = _check(reports)
    assert not chain.head_behind and rows[rerun.run_id]["status"] == "passed"
    assert runs.runs == 3 and len(runs.problems) == 1  # still exactly the run whose result was never recorded
