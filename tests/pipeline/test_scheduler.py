"""The scheduler: schedule validation, cron due logic, claiming, parallel and concurrent schedulers."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

import galaxy_lib.pipeline.scheduler as sched_mod
from galaxy_lib.core.audit import AuditLog
from galaxy_lib.core.config import ConfigError
from galaxy_lib.core.paths import find_project_root
from galaxy_lib.core.registry import RunManifest
from galaxy_lib.pipeline.scheduler import ScheduleConfig, Scheduler, load_schedule

FIXTURES = Path(__file__).parent.parent / "fixtures"
UTC = dt.UTC


def _t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=UTC)


def _write_schedule(tmp_path: Path, jobs: list[dict], **top) -> Path:
    doc = {
        "max_parallel": 2,
        "default_timeout_minutes": 5,
        "notebooks_dir": str(FIXTURES),
        "reports_dir": str(tmp_path / "reports"),
        "jobs": jobs,
        **top,
    }
    path = tmp_path / "params" / "schedule.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


# -- the schedule file -----------------------------------------------------------------
def test_repository_schedule_is_valid():
    cfg = load_schedule(find_project_root() / "parameters" / "schedule.yaml")
    jobs = {j.notebook: j for j in cfg.jobs}
    assert jobs["01_data_inventory.ipynb"].cron == "0 6 * * *"
    assert jobs["02_mmm.ipynb"].cron == "0 7 * * 1"
    assert jobs["03_mta.ipynb"].cron == "30 6 * * *"
    assert {j.parameters for j in cfg.jobs} == {
        "01_data_inventory.yaml",
        "02_mmm.yaml",
        "03_mta.yaml",
        "04_uplift.yaml",
        "05_creative.yaml",
    }
    assert cfg.max_parallel == 2 and all(j.enabled for j in cfg.jobs)


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({"name": "a", "notebook": "x.ipynb", "cron": "61 6 * * *"}, "not a valid cron expression"),
        ({"name": "a", "notebook": "x.ipynb", "cron": "0 6 * *"}, "has 4 fields, expected 5"),
        ({"name": "a", "notebook": "x.ipynb", "cron": "0 6 * * *", "every": "day"}, "unknown parameter"),
        ({"name": "a/b", "notebook": "x.ipynb", "cron": "0 6 * * *"}, "not allowed"),
        ({"name": "a", "notebook": "x.ipynb", "cron": "0 6 * * *", "timeout_minutes": 0}, "greater than 0"),
    ],
)
def test_bad_jobs_fail_with_a_clear_error(tmp_path, job, message):
    path = _write_schedule(tmp_path, [job])
    with pytest.raises(ConfigError) as err:
        load_schedule(path)
    assert message in str(err.value) and str(path) in str(err.value) and "jobs.0" in str(err.value)


def test_cron_error_explains_the_format(tmp_path):
    path = _write_schedule(tmp_path, [{"name": "a", "notebook": "x.ipynb", "cron": "daily"}])
    with pytest.raises(ConfigError, match=r"'0 7 \* \* 1' \(Mondays 07:00\)"):
        load_schedule(path)


def test_duplicate_names_and_bad_timezone(tmp_path):
    job = {"name": "a", "notebook": "x.ipynb", "cron": "0 6 * * *"}
    with pytest.raises(ConfigError, match="repeated: a"):
        load_schedule(_write_schedule(tmp_path, [job, job]))
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        load_schedule(_write_schedule(tmp_path, [job], timezone="Mars/Olympus"))


# -- due logic with a fixed `now` --------------------------------------------------------
@pytest.fixture()
def two_jobs(tmp_path) -> Scheduler:
    cfg = ScheduleConfig(
        reports_dir=str(tmp_path / "reports"),
        notebooks_dir=str(FIXTURES),
        jobs=[
            {"name": "daily", "notebook": "tiny.ipynb", "cron": "0 6 * * *"},
            {"name": "weekly", "notebook": "tiny.ipynb", "cron": "0 7 * * 1"},
            {"name": "off", "notebook": "tiny.ipynb", "cron": "* * * * *", "enabled": False},
        ],
    )
    return Scheduler(cfg)


def _state(s: Scheduler, **fires: str) -> None:
    s.state_path.parent.mkdir(parents=True, exist_ok=True)
    s.state_path.write_text(json.dumps({k: {"last_fire": v} for k, v in fires.items()}))


def _due(s: Scheduler, now: str) -> dict[str, str]:
    return {j.name: f.isoformat() for j, f in s.due_jobs(_t(now))}


def test_fire_times(two_jobs):
    daily, weekly, _ = two_jobs.config.jobs
    now = _t("2026-11-30T06:10:00")  # a Monday
    assert two_jobs.last_fire_time(daily, now) == _t("2026-11-30T06:00:00")
    assert two_jobs.last_fire_time(weekly, now) == _t("2026-11-23T07:00:00")
    assert two_jobs.next_fire_time(weekly, now) == _t("2026-11-30T07:00:00")
    assert two_jobs.last_fire_time(daily, _t("2026-11-30T06:00:00")) == _t("2026-11-30T06:00:00")  # inclusive


def test_never_run_jobs_are_due_and_disabled_jobs_never(two_jobs):
    assert _due(two_jobs, "2026-11-30T06:10:00") == {
        "daily": "2026-11-30T06:00:00+00:00",
        "weekly": "2026-11-23T07:00:00+00:00",
    }


def test_due_only_after_a_new_fire_time(two_jobs):
    _state(two_jobs, daily="2026-11-30T06:00:00+00:00", weekly="2026-11-23T07:00:00+00:00")
    assert _due(two_jobs, "2026-11-30T06:10:00") == {}
    assert _due(two_jobs, "2026-11-30T07:00:00") == {"weekly": "2026-11-30T07:00:00+00:00"}
    assert _due(two_jobs, "2026-12-01T05:59:59") == {"weekly": "2026-11-30T07:00:00+00:00"}
    assert _due(two_jobs, "2026-12-01T06:00:00") == {
        "daily": "2026-12-01T06:00:00+00:00",
        "weekly": "2026-11-30T07:00:00+00:00",
    }
    # a missed week is one run, not a catch-up of every missed fire
    assert _due(two_jobs, "2026-12-20T12:00:00")["weekly"] == "2026-12-14T07:00:00+00:00"


def test_cron_is_read_in_the_schedule_timezone(tmp_path):
    cfg = ScheduleConfig(
        reports_dir=str(tmp_path),
        timezone="Europe/London",
        jobs=[{"name": "d", "notebook": "tiny.ipynb", "cron": "0 6 * * *"}],
    )
    s = Scheduler(cfg)
    assert s.last_fire_time(cfg.jobs[0], _t("2026-07-01T05:30:00")) == _t("2026-07-01T05:00:00")  # BST = UTC+1
    assert s.last_fire_time(cfg.jobs[0], _t("2026-12-01T06:30:00")) == _t("2026-12-01T06:00:00")  # GMT


# -- claiming and running (fake execution: no kernel) -------------------------------------
def _fake_manifest(job: str, status: str = "passed") -> RunManifest:
    now = dt.datetime.now(UTC).isoformat()
    return RunManifest(
        run_id=f"run-{job}-{time.monotonic_ns()}",
        job=job,
        notebook="tiny.ipynb",
        parameters={},
        parameters_hash="h",
        code_version={},
        input_fingerprints={},
        outputs=(),
        started_at=now,
        finished_at=now,
        duration_s=0.1,
        status=status,
    )


@pytest.fixture()
def fake_runs(monkeypatch):
    calls: list[str] = []

    def fake_execute(self, job):
        calls.append(job.name)
        time.sleep(0.05)
        return _fake_manifest(job.name)

    monkeypatch.setattr(Scheduler, "_execute", fake_execute)
    return calls


def test_run_due_runs_each_job_once_per_fire_time(two_jobs, fake_runs):
    now = _t("2026-11-30T06:10:00")
    outcomes = two_jobs.run_due(now)
    assert sorted(o.job for o in outcomes) == ["daily", "weekly"] and {o.status for o in outcomes} == {"passed"}
    assert two_jobs.run_due(now) == []
    assert sorted(fake_runs) == ["daily", "weekly"]
    state = two_jobs.read_state()
    assert state["daily"]["last_fire"] == "2026-11-30T06:00:00+00:00"
    assert state["daily"]["last_status"] == "passed" and state["daily"]["last_run_id"].startswith("run-daily")
    two_jobs.run_all(now)  # --all runs everything regardless of the schedule
    assert sorted(fake_runs) == ["daily", "daily", "weekly", "weekly"]


def test_a_job_held_by_another_scheduler_is_skipped(two_jobs, fake_runs):
    two_jobs._locks_dir.mkdir(parents=True)
    with FileLock(str(two_jobs._locks_dir / "daily.lock")):
        outcomes = {o.job: o for o in two_jobs.run_due(_t("2026-11-30T06:10:00"))}
    assert outcomes["daily"].status == "skipped" and "another scheduler" in outcomes["daily"].reason
    assert outcomes["weekly"].status == "passed" and fake_runs == ["weekly"]


def test_a_crashing_job_does_not_stop_the_others(tmp_path, monkeypatch):
    cfg = ScheduleConfig(
        reports_dir=str(tmp_path / "reports"),
        notebooks_dir=str(FIXTURES),
        jobs=[{"name": n, "notebook": "tiny.ipynb", "cron": "0 6 * * *"} for n in ("a", "b", "c")],
    )

    def fake_run_notebook(notebook, params, job, **kw):
        if job == "b":
            raise RuntimeError("kernel exploded")
        return _fake_manifest(job)

    monkeypatch.setattr(sched_mod, "run_notebook", fake_run_notebook)
    outcomes = {o.job: o for o in Scheduler(cfg).run_due(_t("2026-11-30T06:10:00"))}
    assert {k: o.status for k, o in outcomes.items()} == {"a": "passed", "b": "failed", "c": "passed"}
    assert "kernel exploded" in outcomes["b"].reason
    assert AuditLog(tmp_path / "reports" / "audit.jsonl").verify().ok


def test_a_runner_crash_quoting_an_email_is_masked_in_the_log_and_the_record(tmp_path, monkeypatch, caplog):
    cfg = ScheduleConfig(
        reports_dir=str(tmp_path / "reports"),
        notebooks_dir=str(FIXTURES),
        jobs=[{"name": "a", "notebook": "tiny.ipynb", "cron": "0 6 * * *"}],
    )

    def fake_run_notebook(notebook, params, job, **kw):
        raise RuntimeError("no consent row for jane.doe@example.com")

    monkeypatch.setattr(sched_mod, "run_notebook", fake_run_notebook)
    with caplog.at_level("ERROR", logger="galaxy.scheduler"):
        [o] = Scheduler(cfg).run_due(_t("2026-11-30T06:10:00"))
    assert o.status == "failed" and "no consent row for j" in o.reason
    assert "crashed in the runner" in caplog.text and "Traceback" in caplog.text
    reports = tmp_path / "reports"
    for text in (caplog.text, o.reason, *(p.read_text() for p in reports.rglob("*") if p.is_file())):
        assert "jane.doe@example.com" not in text


def test_missing_parameter_file_is_a_failed_run(tmp_path):
    path = _write_schedule(
        tmp_path, [{"name": "a", "notebook": "tiny.ipynb", "cron": "0 6 * * *", "parameters": "nope.yaml"}]
    )
    [o] = Scheduler.from_file(path).run_due(_t("2026-11-30T06:10:00"))
    assert o.status == "failed" and "nope.yaml does not exist" in o.reason
    index = json.loads((tmp_path / "reports" / "index.json").read_text())
    assert index["latest"]["a"]["status"] == "failed"


def test_serve_forever_fires_on_time(tmp_path, fake_runs):
    cfg = ScheduleConfig(
        reports_dir=str(tmp_path / "reports"), jobs=[{"name": "d", "notebook": "tiny.ipynb", "cron": "0 7 * * *"}]
    )
    clock = {"t": _t("2026-11-30T06:59:00")}
    lock = threading.Lock()

    def fake_clock():
        with lock:
            clock["t"] += dt.timedelta(seconds=5)
            return clock["t"]

    s = Scheduler(cfg, clock=fake_clock)
    _state(s, d="2026-11-29T07:00:00+00:00")  # ran yesterday: not due before 07:00
    stop = threading.Event()
    thread = threading.Thread(target=s.serve_forever, kwargs={"stop": stop, "max_sleep_s": 0.01})
    thread.start()
    deadline = time.monotonic() + 30
    while s.read_state()["d"].get("last_status") != "passed" and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    state = s.read_state()["d"]
    assert state["last_fire"] == "2026-11-30T07:00:00+00:00" and state["last_status"] == "passed"
    assert dt.datetime.fromisoformat(state["last_attempt_at"]) >= _t("2026-11-30T07:00:00")
    assert fake_runs == ["d"]  # fired once for 07:00, not again while the clock kept moving


# -- real runs -----------------------------------------------------------------------------
@pytest.mark.slow
def test_two_schedulers_at_once_run_each_job_once(tmp_path):
    params = tmp_path / "params"
    params.mkdir()
    for mode in ("pass", "warn", "raise"):
        (params / f"{mode}.yaml").write_text(yaml.safe_dump({"mode": mode}))
    path = _write_schedule(
        tmp_path,
        [
            # a yearly cron: both schedulers see the same (past) fire time whenever they start
            {"name": f"job_{mode}", "notebook": "tiny.ipynb", "cron": "0 0 1 1 *", "parameters": f"{mode}.yaml"}
            for mode in ("pass", "warn", "raise")
        ],
    )
    cmd = [sys.executable, "-m", "galaxy_lib.cli", "schedule", "--once", "--file", str(path)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    codes = sorted(p.returncode for p in procs)
    reports = tmp_path / "reports"

    log = AuditLog(reports / "audit.jsonl")
    v = log.verify()
    assert v.ok, v.reason
    finished = [e.payload for e in log.entries() if e.kind == "run.finished"]
    by_job = {j: sum(p["job"] == j for p in finished) for j in ("job_pass", "job_warn", "job_raise")}
    assert by_job == {"job_pass": 1, "job_warn": 1, "job_raise": 1}, outs
    for job in by_job:
        assert len(list((reports / job).iterdir())) == 1
    state = json.loads((reports / "schedule_state.json").read_text())
    assert {k: v["last_status"] for k, v in state.items()} == {
        "job_pass": "passed",
        "job_warn": "warn",
        "job_raise": "failed",
    }
    assert codes[-1] == 1  # the scheduler that ran job_raise reports the failure
    assert json.loads((reports / "index.json").read_text())["audit"]["ok"]


@pytest.mark.slow
def test_sigterm_stops_the_daemon_and_records_the_interrupted_job(tmp_path):
    import signal

    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "sleep.yaml").write_text(yaml.safe_dump({"mode": "sleep", "sleep_s": 600}))
    path = _write_schedule(
        tmp_path, [{"name": "sleepy", "notebook": "tiny.ipynb", "cron": "0 0 1 1 *", "parameters": "sleep.yaml"}]
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "galaxy_lib.cli", "schedule", "--file", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    reports = tmp_path / "reports"
    deadline = time.monotonic() + 120
    while not list(reports.glob("sleepy/*/tiny.ipynb")) and time.monotonic() < deadline:
        time.sleep(0.2)  # the job fired (never ran before) and papermill started writing
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "Scheduler stopped." in out
    [manifest] = [json.loads(p.read_text()) for p in reports.glob("sleepy/*/manifest.json")]
    assert manifest["status"] == "failed" and manifest["error"]["kind"] == "interrupted"
    assert json.loads((reports / "schedule_state.json").read_text())["sleepy"]["last_status"] == "failed"
    assert AuditLog(reports / "audit.jsonl").verify().ok
