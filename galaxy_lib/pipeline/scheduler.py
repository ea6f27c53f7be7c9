"""Scheduled jobs: ``parameters/schedule.yaml`` -> notebook runs on cron times.

A job is due when its most recent cron fire time is later than the fire time
it last ran (or tried to run) for, as recorded in ``reports/schedule_state.json``.
A job that never ran is due at once.

Three ways to run:

* :meth:`Scheduler.run_due` (``galaxy schedule --once``): the due jobs, then return.
  Call it from the system cron every few minutes if you do not want a daemon.
* :meth:`Scheduler.run_all` (``galaxy schedule --all``, ``make demo``): every enabled job now.
* :meth:`Scheduler.serve_forever` (``galaxy schedule``): sleep until the next fire
  time, fire the due jobs, repeat; Ctrl-C stops cleanly (running jobs are killed
  and recorded as interrupted).

Jobs run in parallel up to ``max_parallel`` (threads, each waiting on the runner's
child process) with their own timeout; one failing job does not stop the others.
Several schedulers may run at once (two cron entries, a daemon and a manual
``--once``): each job is claimed under a per-job file lock and the state file is
updated under its own lock, so a job runs once per fire time and the store and the
audit log stay consistent.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from filelock import FileLock, Timeout
from pydantic import Field, field_validator, model_validator

from galaxy_lib.core.config import ConfigError, GalaxyConfig, load_yaml, resolve_path, validate_params
from galaxy_lib.core.jsonio import write_json_atomic
from galaxy_lib.core.paths import find_project_root
from galaxy_lib.governance.pii import redact_pii
from galaxy_lib.pipeline.notebooks import check_job_name
from galaxy_lib.pipeline.runner import record_failed_start, run_notebook

__all__ = [
    "DEFAULT_SCHEDULE",
    "JobOutcome",
    "JobSpec",
    "ScheduleConfig",
    "Scheduler",
    "load_schedule",
]

logger = logging.getLogger("galaxy.scheduler")

#: Schedule file used when none is given (relative to the project root).
DEFAULT_SCHEDULE = "parameters/schedule.yaml"
_CRON_HELP = (
    "Use five fields 'minute hour day-of-month month day-of-week', e.g. '0 6 * * *' (daily 06:00), "
    "'30 6 * * *' (daily 06:30) or '0 7 * * 1' (Mondays 07:00)."
)


class JobSpec(GalaxyConfig):
    """One scheduled job.

    Attributes
    ----------
    name
        Job name: the folder ``reports/<name>/`` and the key in the schedule state.
    notebook
        Notebook file in the notebooks folder, e.g. ``01_data_inventory.ipynb``.
    cron
        Five-field cron expression, evaluated in the schedule's ``timezone``.
    parameters
        Parameter file (YAML) relative to the schedule file's folder (``parameters/``), or None.
    timeout_minutes
        Job timeout; None takes the schedule's ``default_timeout_minutes``.
    enabled
        Disabled jobs are listed but never run.
    description
        One line shown in ``galaxy schedule`` output.
    """

    name: str
    notebook: str
    cron: str
    parameters: str | None = None
    timeout_minutes: float | None = Field(default=None, gt=0)
    enabled: bool = True
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        try:
            return check_job_name(v)
        except ConfigError as err:
            raise ValueError(str(err)) from None

    @field_validator("cron")
    @classmethod
    def _cron_ok(cls, v: str) -> str:
        v = " ".join(v.split())
        if len(v.split()) != 5:
            raise ValueError(f"cron {v!r} has {len(v.split())} fields, expected 5. {_CRON_HELP}")
        try:
            croniter(v)
        except (ValueError, KeyError) as err:  # croniter's errors subclass ValueError
            raise ValueError(f"cron {v!r} is not a valid cron expression ({err}). {_CRON_HELP}") from None
        return v


class ScheduleConfig(GalaxyConfig):
    """The schedule file (``parameters/schedule.yaml``).

    Attributes
    ----------
    max_parallel
        Jobs run at the same time (each starts its own kernel; mind the cores).
    default_timeout_minutes
        Timeout of jobs that do not set their own.
    timezone
        IANA time zone the cron expressions are read in (default UTC).
    notebooks_dir, reports_dir
        Folders, relative to the project root unless absolute.
    jobs
        The jobs.
    """

    max_parallel: int = Field(default=2, ge=1, le=64)
    default_timeout_minutes: float = Field(default=60.0, gt=0)
    timezone: str = "UTC"
    notebooks_dir: str = "notebooks"
    reports_dir: str = "reports"
    jobs: list[JobSpec] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz_ok(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; use an IANA name such as 'UTC' or 'Europe/London'.") from None
        return v

    @model_validator(mode="after")
    def _unique_names(self) -> ScheduleConfig:
        seen: set[str] = set()
        dupes = {j.name for j in self.jobs if j.name in seen or seen.add(j.name)}
        if dupes:
            raise ValueError(f"job names must be unique; repeated: {', '.join(sorted(dupes))}.")
        return self

    def job(self, name: str) -> JobSpec:
        """Return the job called ``name`` (ConfigError listing the jobs otherwise)."""
        for j in self.jobs:
            if j.name == name:
                return j
        raise ConfigError(f"No job {name!r} in the schedule. Jobs: {', '.join(j.name for j in self.jobs) or 'none'}.")


def load_schedule(path: str | Path | None = None) -> ScheduleConfig:
    """Read and validate a schedule file (default ``parameters/schedule.yaml``).

    Raises
    ------
    ConfigError
        Naming the file, the job and the field that is wrong (e.g. a bad cron expression).
    """
    path = resolve_path(path or DEFAULT_SCHEDULE)
    return validate_params(ScheduleConfig, load_yaml(path), source=str(path))


@dataclass(frozen=True)
class JobOutcome:
    """What happened to one job in one scheduler pass.

    ``status`` is the run's status (``passed``, ``warn``, ``failed``) or
    ``skipped`` when another scheduler is running it / already ran it for this fire time.
    """

    job: str
    status: str
    fire_time: str | None
    run_id: str | None = None
    run_dir: str | None = None
    reason: str = ""
    duration_s: float | None = None


def _utc(t: dt.datetime | None) -> dt.datetime:
    if t is None:
        return dt.datetime.now(dt.UTC)
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


class Scheduler:
    """Runs the jobs of a :class:`ScheduleConfig`.

    Parameters
    ----------
    config
        The validated schedule.
    schedule_path
        The schedule file; parameter files are resolved against its folder
        (default ``<root>/parameters``).
    max_parallel
        Override of ``config.max_parallel``.
    clock
        Returns the current time (UTC); tests pass a fake clock.
    """

    def __init__(
        self,
        config: ScheduleConfig,
        schedule_path: str | Path | None = None,
        max_parallel: int | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.config = config
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        root = find_project_root()
        self.parameters_dir = Path(schedule_path).resolve().parent if schedule_path else root / "parameters"
        self.notebooks_dir = resolve_path(config.notebooks_dir, root)
        self.reports_dir = resolve_path(config.reports_dir, root)
        self.max_parallel = max_parallel or config.max_parallel
        if self.max_parallel < 1:
            raise ConfigError(f"max_parallel must be at least 1, got {self.max_parallel}.")
        self.tz = ZoneInfo(config.timezone)
        self.state_path = self.reports_dir / "schedule_state.json"
        self._state_lock = self.reports_dir / ".schedule_state.lock"
        self._locks_dir = self.reports_dir / ".locks"
        self._cancel = threading.Event()

    @classmethod
    def from_file(cls, path: str | Path | None = None, max_parallel: int | None = None) -> Scheduler:
        """Load ``path`` (default ``parameters/schedule.yaml``) and build a scheduler."""
        path = resolve_path(path or DEFAULT_SCHEDULE)
        return cls(load_schedule(path), path, max_parallel=max_parallel)

    # -- time --------------------------------------------------------------------
    def now(self) -> dt.datetime:
        """Return the scheduler's current time (UTC)."""
        return _utc(self._clock())

    def last_fire_time(self, job: JobSpec, now: dt.datetime | None = None) -> dt.datetime:
        """Return the most recent cron fire time at or before ``now`` (UTC)."""
        local = _utc(now or self.now()).astimezone(self.tz)
        it = croniter(job.cron, local + dt.timedelta(microseconds=1))  # a fire exactly at `now` counts
        return _utc(it.get_prev(dt.datetime))

    def next_fire_time(self, job: JobSpec, now: dt.datetime | None = None) -> dt.datetime:
        """Return the first cron fire time strictly after ``now`` (UTC)."""
        return _utc(croniter(job.cron, _utc(now or self.now()).astimezone(self.tz)).get_next(dt.datetime))

    # -- state -------------------------------------------------------------------
    def read_state(self) -> dict[str, dict[str, Any]]:
        """``{job: {"last_fire", "last_status", "last_run_id", ...}}`` from ``schedule_state.json``."""
        if not self.state_path.exists():
            return {}
        try:
            return json.loads(self.state_path.read_text(encoding="utf-8"))
        except ValueError as err:
            raise ConfigError(
                f"{self.state_path} is not valid JSON ({err}). Delete it to treat every job as never run."
            ) from None

    def _update_state(self, name: str, **fields: Any) -> dict[str, Any]:
        self.reports_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self._state_lock), timeout=120):
            state = self.read_state()
            state[name] = {**state.get(name, {}), **fields}
            write_json_atomic(self.state_path, state)
            return state[name]

    def due_jobs(self, now: dt.datetime | None = None) -> list[tuple[JobSpec, dt.datetime]]:
        """List the enabled jobs whose last fire time (at ``now``) is after the fire time they last ran for."""
        now = now or self.now()
        state = self.read_state()
        due = []
        for job in self.config.jobs:
            if not job.enabled:
                continue
            fire = self.last_fire_time(job, now)
            last = state.get(job.name, {}).get("last_fire")
            if last is None or _utc(dt.datetime.fromisoformat(last)) < fire:
                due.append((job, fire))
        return due

    # -- running -----------------------------------------------------------------
    def _run_job(self, job: JobSpec, fire: dt.datetime, force: bool) -> JobOutcome:
        """Claim ``job`` for ``fire`` (per-job lock + state check), run it, record the outcome."""
        self._locks_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self._locks_dir / f"{job.name}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return JobOutcome(job.name, "skipped", fire.isoformat(), reason="running in another scheduler")
        try:
            with FileLock(str(self._state_lock), timeout=120):
                state = self.read_state()
                rec = state.get(job.name, {})
                last = rec.get("last_fire")
                if not force and last is not None and _utc(dt.datetime.fromisoformat(last)) >= fire:
                    return JobOutcome(
                        job.name,
                        "skipped",
                        fire.isoformat(),
                        rec.get("last_run_id"),
                        reason=f"already ran for {fire.isoformat()}",
                    )
                if last is not None and _utc(dt.datetime.fromisoformat(last)) > fire:
                    fire = _utc(dt.datetime.fromisoformat(last))  # never move the recorded fire time back
                state[job.name] = {
                    **rec,
                    "last_fire": fire.isoformat(),
                    "last_status": "running",
                    "last_attempt_at": self.now().isoformat(),
                    "last_run_id": None,
                }
                write_json_atomic(self.state_path, state)
            manifest = self._execute(job)
            self._update_state(
                job.name,
                last_status=manifest.status,
                last_run_id=manifest.run_id,
                last_finished_at=manifest.finished_at,
            )
            return JobOutcome(
                job.name,
                manifest.status,
                fire.isoformat(),
                manifest.run_id,
                str(self.reports_dir / job.name / manifest.run_id),
                manifest.status_reason,
                manifest.duration_s,
            )
        finally:
            lock.release()

    def _execute(self, job: JobSpec):
        timeout_s = 60.0 * (job.timeout_minutes or self.config.default_timeout_minutes)
        params: dict[str, Any] = {}
        source = "parameters"
        if job.parameters:
            pfile = resolve_path(job.parameters, self.parameters_dir)
            source = str(pfile)
            try:
                params = load_yaml(pfile)
            except ConfigError as err:
                return record_failed_start(job.notebook, job.name, {}, self.reports_dir, err)
        try:
            return run_notebook(
                job.notebook,
                params,
                job=job.name,
                reports_dir=self.reports_dir,
                timeout_s=timeout_s,
                notebooks_dir=self.notebooks_dir,
                progress=False,
                cancel=self._cancel,
                record_config_errors=True,
                parameters_source=source,
            )
        except Exception as err:  # one broken job must not stop the others
            # the traceback can quote data (an e-mail in an exception): masked like everything the runner records
            logger.error("Job %s crashed in the runner:\n%s", job.name, redact_pii(traceback.format_exc()))
            return record_failed_start(job.notebook, job.name, params, self.reports_dir, err)

    def _run_many(self, items: list[tuple[JobSpec, dt.datetime]], force: bool) -> list[JobOutcome]:
        if not items:
            return []
        self._cancel.clear()
        with ThreadPoolExecutor(max_workers=self.max_parallel, thread_name_prefix="galaxy-job") as ex:
            futures = [ex.submit(self._run_job, job, fire, force) for job, fire in items]
            try:
                return [f.result() for f in futures]
            except KeyboardInterrupt:
                self._cancel.set()  # running jobs are killed and recorded as interrupted
                ex.shutdown(wait=True, cancel_futures=True)
                raise

    def run_due(self, now: dt.datetime | None = None) -> list[JobOutcome]:
        """Run the jobs due at ``now`` (``--once``) and wait for them."""
        return self._run_many(self.due_jobs(now), force=False)

    def run_all(self, now: dt.datetime | None = None) -> list[JobOutcome]:
        """Run every enabled job now regardless of the schedule (``--all``) and wait for them."""
        now = now or self.now()
        return self._run_many([(j, self.last_fire_time(j, now)) for j in self.config.jobs if j.enabled], force=True)

    def serve_forever(self, stop: threading.Event | None = None, max_sleep_s: float = 60.0) -> None:
        """Fire jobs at their cron times until Ctrl-C (or until ``stop`` is set).

        Sleeps until the next fire time of any job (waking at least every
        ``max_sleep_s`` so clock changes are noticed); a job still running from its
        previous fire time is not started twice. On exit, running jobs are killed
        and recorded as interrupted.
        """
        stop = stop or threading.Event()
        enabled = [j for j in self.config.jobs if j.enabled]
        if not enabled:
            raise ConfigError("The schedule has no enabled jobs; nothing to serve.")
        self._cancel.clear()
        inflight: dict[str, Future] = {}
        ex = ThreadPoolExecutor(max_workers=self.max_parallel, thread_name_prefix="galaxy-job")
        try:
            while not stop.is_set():
                now = self.now()
                for name in [n for n, f in inflight.items() if f.done()]:
                    try:
                        outcome = inflight.pop(name).result()
                        logger.info("Job %s: %s %s", outcome.job, outcome.status, outcome.reason)
                    except Exception:  # the daemon keeps serving the other jobs
                        logger.error("Job %s could not be run:\n%s", name, redact_pii(traceback.format_exc()))
                for job, fire in self.due_jobs(now):
                    if job.name not in inflight:
                        logger.info("Firing %s for %s", job.name, fire.isoformat())
                        inflight[job.name] = ex.submit(self._run_job, job, fire, False)
                nxt = min(self.next_fire_time(j, now) for j in enabled)
                wait = (nxt - self.now()).total_seconds() + 0.05
                stop.wait(min(max(wait, 0.05), max_sleep_s, 1.0 if inflight else max_sleep_s))
        except KeyboardInterrupt:
            logger.info("Stopping: killing %d running job(s)", sum(not f.done() for f in inflight.values()))
        finally:
            self._cancel.set()
            ex.shutdown(wait=True, cancel_futures=True)
