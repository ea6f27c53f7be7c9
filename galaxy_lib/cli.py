"""The ``galaxy`` command: run notebooks, schedule jobs, read reports and the audit log, build worlds.

Every command prints what it did and where the results are. User errors (a wrong parameter, a missing
file, a contract violation) print one clear paragraph and exit 2; a failed run or job exits 1; success 0.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import signal
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from galaxy_lib import __version__
from galaxy_lib.cli_experiments import experiments_app
from galaxy_lib.core.config import ConfigError, load_yaml, resolve_path

__all__ = ["app", "parse_param_args", "parse_value"]

app = typer.Typer(
    name="galaxy",
    help=(
        "Galaxy Workbench: run the marketing-science notebooks as recorded jobs.\n\n"
        "Typical use:\n\n"
        "  galaxy world build --size demo          # synthetic company with known ground truth\n\n"
        "  galaxy run 02_mmm.ipynb -p draws 500     # one notebook, one recorded run\n\n"
        "  galaxy schedule --all                    # every scheduled job now (make demo)\n\n"
        "  galaxy audit verify                      # is the run history untouched?\n\n"
        "Runs land in reports/<job>/<run_id>/; open reports/index.html."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
audit_app = typer.Typer(
    help=(
        "Check and read the hash-chained audit log (reports/audit.jsonl) that records every run. "
        "Its head file (audit.jsonl.head) records the last entry, so removed entries are detected; "
        "with GALAXY_AUDIT_KEY set the head is signed (HMAC-SHA256)."
    ),
    no_args_is_help=True,
)
world_app = typer.Typer(
    help="Build the synthetic Galaxy world (a company with known ground truth) into a data store.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")
app.add_typer(world_app, name="world")
app.add_typer(experiments_app, name="experiments")

_USER_ERRORS = ("ConfigError", "ContractError", "SaltError", "AuditError", "PiiLeakError")


def _is_user_error(err: BaseException) -> bool:
    if isinstance(err, (ConfigError, FileNotFoundError)):
        return True
    return any(cls.__name__ in _USER_ERRORS for cls in type(err).__mro__)


def _friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user errors into a one-paragraph message and exit code 2 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(130) from None
        except Exception as err:
            if not _is_user_error(err):
                raise
            kind = type(err).__name__
            msg = str(err).strip() or kind
            if isinstance(err, FileNotFoundError) and err.filename and str(err.filename) not in msg:
                msg = f"{msg}: {err.filename}"
            typer.secho(f"Error ({kind}): {msg}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None

    return wrapper


def _sigterm_as_interrupt() -> None:
    """Treat SIGTERM (``kill``, ``systemctl stop``) like Ctrl-C: running jobs are stopped and recorded."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"galaxy-workbench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Galaxy Workbench command line."""


# -- parameter parsing -------------------------------------------------------------
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def parse_value(text: str) -> Any:
    """Parse a ``-p`` value as a YAML scalar.

    ``3`` -> 3, ``0.5``/``1e-3`` -> float, ``true`` -> True, ``[tv, search]`` -> list,
    ``null`` -> None; dates stay ISO strings; anything else is a string.
    """
    if text == "":
        return ""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return text
    return value


def parse_param_args(tokens: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Split raw tokens into positionals and ``-p KEY VALUE`` / ``--param KEY VALUE`` pairs.

    Raises
    ------
    ConfigError
        For ``-p`` without two values or an unknown option.
    """
    positionals: list[str] = []
    params: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("-p", "--param"):
            if i + 2 >= len(tokens):
                raise ConfigError(f"{tok} needs two values: {tok} NAME VALUE (e.g. -p draws 500).")
            key, value = tokens[i + 1], tokens[i + 2]
            if not key.isidentifier():
                raise ConfigError(
                    f"{tok} {key!r}: a parameter name must be a Python identifier (e.g. draws, data_dir)."
                )
            params[key] = parse_value(value)
            i += 3
        elif tok.startswith("-") and len(tok) > 1:
            raise ConfigError(f"Unknown option {tok!r}. See `galaxy run --help`.")
        else:
            positionals.append(tok)
            i += 1
    return positionals, params


# -- run ---------------------------------------------------------------------------
@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog=(
        "Examples:\n\n"
        "  galaxy run 01_data_inventory.ipynb\n\n"
        "  galaxy run 02_mmm -f parameters/02_mmm.yaml -p draws 200 --timeout 30\n\n"
        "  galaxy run 03_mta.ipynb -p data_dir data/demo -p world_size demo --job mta-demo"
    ),
)
@_friendly
def run(
    ctx: typer.Context,
    notebook: Annotated[
        str,
        typer.Argument(
            help="Notebook in notebooks/ (e.g. 02_mmm.ipynb; .ipynb optional) or a path.", show_default=False
        ),
    ],
    file: Annotated[
        Path | None, typer.Option("-f", "--file", help="YAML file of parameters (e.g. parameters/02_mmm.yaml).")
    ] = None,
    job: Annotated[
        str | None, typer.Option("--job", help="Job name = folder under reports/ (default: the notebook name).")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Kill the run after this many minutes.")] = 60.0,
    reports_dir: Annotated[
        Path | None, typer.Option("--reports-dir", help="Where runs are written (default reports/).")
    ] = None,
) -> None:
    r"""Execute one notebook with parameters as a recorded run.

    Set parameters with -p NAME VALUE (repeatable, also --param). VALUE is read
    as YAML: -p draws 500 (int), -p target_accept 0.9 (float), -p quick true
    (bool), -p channels "\[tv, search]" (list). -p overrides -f. Every name must be
    a parameter of the notebook's parameters cell.

    The run gets an id and a folder reports/<job>/<run_id>/ holding the executed
    notebook, an HTML report without code, metrics.json and manifest.json. It is
    appended to the audit log and listed in reports/index.html. Exit code 1 when
    the run failed (the notebook raised, timed out, or leaked PII).
    """
    from galaxy_lib.pipeline.runner import run_notebook

    _sigterm_as_interrupt()
    positionals, params = parse_param_args([notebook, *ctx.args])
    if len(positionals) != 1:
        raise ConfigError(f"Expected one NOTEBOOK, got {len(positionals)}: {' '.join(positionals) or 'none'}.")
    nb = positionals[0]
    merged: dict[str, Any] = {}
    source = "-p"
    if file is not None:
        merged.update(load_yaml(resolve_path(file)))
        source = f"{file} / -p" if params else str(file)
    merged.update(params)
    m = run_notebook(
        nb, merged, job=job, reports_dir=reports_dir, timeout_s=timeout * 60, progress=True, parameters_source=source
    )
    reports = Path(reports_dir) if reports_dir else resolve_path("reports")
    run_dir = reports / m.job / m.run_id
    color = {"passed": typer.colors.GREEN, "warn": typer.colors.YELLOW}.get(m.status, typer.colors.RED)
    typer.echo(f"Run {m.run_id} of {m.notebook} (job {m.job}): ", nl=False)
    typer.secho(m.status.upper(), fg=color, bold=True)
    if m.status_reason:
        typer.echo(f"  reason:  {m.status_reason}")
    typer.echo(f"  folder:  {run_dir}")
    html = run_dir / (Path(m.notebook).stem + ".html")
    if html.exists():
        typer.echo(f"  report:  {html}")
    typer.echo(f"  index:   {reports / 'index.html'}  ({m.duration_s:.1f} s)")
    if m.status == "failed":
        raise typer.Exit(1)


# -- schedule ------------------------------------------------------------------------
def _print_outcomes(outcomes: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Jobs", show_lines=False)
    for col in ("job", "status", "run id", "duration", "reason"):
        table.add_column(col, overflow="fold")
    styles = {"passed": "green", "warn": "yellow", "failed": "bold red", "skipped": "dim"}
    for o in outcomes:
        dur = f"{o.duration_s:.1f} s" if o.duration_s is not None else ""
        table.add_row(o.job, f"[{styles.get(o.status, '')}]{o.status}[/]", o.run_id or "", dur, o.reason or "")
    Console(width=max(120, Console().width)).print(table)


@app.command(
    epilog=(
        "Examples:\n\n"
        "  galaxy schedule --all                  # run every enabled job now (what make demo does)\n\n"
        "  galaxy schedule --once                 # run what is due, e.g. from the system crontab every 5 min\n\n"
        "  galaxy schedule                        # stay in the foreground and fire jobs on time; Ctrl-C stops\n\n"
        "  galaxy schedule --list                 # jobs, cron, last and next run"
    ),
)
@_friendly
def schedule(
    once: Annotated[bool, typer.Option("--once", help="Run the jobs that are due now, then exit.")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Run every enabled job now, then exit.")] = False,
    list_: Annotated[
        bool, typer.Option("--list", help="Show the jobs and their last and next run, then exit.")
    ] = False,
    file: Annotated[Path, typer.Option("--file", help="Schedule file.")] = Path("parameters/schedule.yaml"),
    max_parallel: Annotated[
        int | None,
        typer.Option("--max-parallel", min=1, help="Jobs run at once (default: max_parallel in the file, 2)."),
    ] = None,
) -> None:
    """Run the scheduled jobs of parameters/schedule.yaml.

    A job is due when its cron expression fired since the last time it ran
    (reports/schedule_state.json). Jobs run in parallel (max_parallel), each
    with its own timeout; a failing job does not stop the others. Several
    schedulers can run at once: a job runs once per fire time. Exit code 1 when
    any job failed, so `make demo` fails loudly.
    """
    from galaxy_lib.pipeline.scheduler import Scheduler

    if sum([once, all_, list_]) > 1:
        raise ConfigError("Choose one of --once, --all and --list (or none to keep serving).")
    sched = Scheduler.from_file(file, max_parallel=max_parallel)
    _sigterm_as_interrupt()
    index = sched.reports_dir / "index.html"
    if list_:
        _print_schedule(sched)
        return
    if once or all_:
        outcomes = sched.run_all() if all_ else sched.run_due()
        if not outcomes:
            typer.echo("No job is due.")
            _print_schedule(sched)
            return
        _print_outcomes(outcomes)
        failed = [o.job for o in outcomes if o.status == "failed"]
        typer.echo(f"Index: {index}")
        if failed:
            typer.secho(f"{len(failed)} job(s) failed: {', '.join(failed)}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1)
        return
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("papermill").setLevel(logging.WARNING)
    _print_schedule(sched)
    typer.echo(f"Scheduler running with up to {sched.max_parallel} job(s) at once; Ctrl-C to stop. Index: {index}")
    sched.serve_forever()
    typer.echo("Scheduler stopped.")


def _print_schedule(sched: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    state = sched.read_state()
    table = Table(title=f"Schedule ({sched.config.timezone})")
    for col in ("job", "notebook", "cron", "enabled", "last run", "last status", "next run"):
        table.add_column(col)
    for j in sched.config.jobs:
        rec = state.get(j.name, {})
        table.add_row(
            j.name,
            j.notebook,
            j.cron,
            "yes" if j.enabled else "no",
            (rec.get("last_attempt_at") or "never")[:19],
            rec.get("last_status", ""),
            sched.next_fire_time(j).isoformat()[:16] if j.enabled else "",
        )
    Console(width=max(120, Console().width)).print(table)


# -- reports -------------------------------------------------------------------------
@app.command(epilog="Example:\n\n  galaxy reports && xdg-open reports/index.html")
@_friendly
def reports(
    reports_dir: Annotated[Path, typer.Option("--reports-dir", help="The reports folder.")] = Path("reports"),
) -> None:
    """Rebuild reports/index.html and reports/index.json from every run's manifest."""
    from galaxy_lib.core.reporting import build_index
    from galaxy_lib.governance.pii import redact_pii

    path = build_index(resolve_path(reports_dir), redact=redact_pii)
    index = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    runs = index["runs"]
    counts = {s: sum(r["status"] == s for r in runs) for s in ("passed", "warn", "failed", "running")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no runs yet"
    typer.echo(f"{path}  ({len(runs)} runs: {summary})")


# -- audit ---------------------------------------------------------------------------
@audit_app.command("verify", epilog="Example:\n\n  galaxy audit verify || echo 'the run history was tampered with'")
@_friendly
def audit_verify(
    file: Annotated[Path, typer.Option("--file", help="The audit log.")] = Path("reports/audit.jsonl"),
) -> None:
    """Check the audit log's hash chain and the runs it records; exit 1 and name the problem if anything was edited.

    The head file (audit.jsonl.head, next to the log) records the last entry: a
    log with entries and no head file fails, because its last entries could have
    been removed with it (if only the head was lost, see `galaxy audit
    rebuild-head`). With GALAXY_AUDIT_KEY set the head's HMAC-SHA256 signature is
    checked too; a signed head checked without the key, or with another key, fails.
    Then each recorded run's manifest.json and output files (SHA-256) next to the log
    are compared with its run.finished entry (a status flipped to passed, an edited file).
    """
    from galaxy_lib.core.audit import AuditLog
    from galaxy_lib.core.registry import verify_run_records

    path = resolve_path(file)
    v = AuditLog(path).verify()
    if v.ok:
        head = ""
        if v.head_checked:
            head = " and matches its signed head file" if v.head_signed else " and matches its head file"
        typer.secho(f"OK: {v.entries} entries, hash chain intact{head} ({path}).", fg=typer.colors.GREEN)
        runs = verify_run_records(path)
        for note in filter(None, (v.note, *runs.notes)):
            typer.echo(f"  Note: {note}.")
        if runs.ok:
            typer.secho(f"OK: {runs.runs} recorded run(s) match their manifests and {runs.files} output file(s).")
            return
        typer.secho(f"BROKEN: {len(runs.problems)} run record(s) do not match the audit log:", fg="red", bold=True)
        typer.echo("".join(f"  - {p}\n" for p in runs.problems), nl=False)
        raise typer.Exit(1)
    typer.secho(f"BROKEN: {v.reason}.", fg=typer.colors.RED, bold=True)
    typer.echo(f"  {v.entries} entries verified before the problem; log: {path}")
    raise typer.Exit(1)


@audit_app.command(
    "rebuild-head",
    epilog=(
        "Examples:\n\n"
        "  galaxy audit rebuild-head --reason 'head file lost in the restore of 2024-05-02'\n\n"
        "  GALAXY_AUDIT_KEY=... galaxy audit rebuild-head --reason 'start signing the head'"
    ),
)
@_friendly
def audit_rebuild_head(
    reason: Annotated[str, typer.Option("--reason", help="Why the head is rebuilt; recorded in the log.")] = "",
    file: Annotated[Path, typer.Option("--file", help="The audit log.")] = Path("reports/audit.jsonl"),
) -> None:
    """Rebuild the head file from the log's last entry, and record the rebuild in the log.

    Use it when `galaxy audit verify` reports a missing or unreadable head file
    and you know only the head was lost, after removing entries on purpose, or
    to sign the head once GALAXY_AUDIT_KEY is set. The hash chain itself must be
    intact. The rebuild appends an audit.head_rebuilt entry saying by whom
    (user@host), when, from which last entry and what was wrong, so it stays
    visible in the history. With GALAXY_AUDIT_KEY set the new head is signed.
    """
    from galaxy_lib.core.audit import AuditLog

    path = resolve_path(file)
    entry = AuditLog(path).rebuild_head(reason=reason)
    if entry is None:
        typer.echo(f"The head file already matches the log; nothing to rebuild ({path}).")
        return
    p = entry.payload
    typer.secho(
        f"Head rebuilt from entry {p['rebuilt_from']['seq']}"
        + (" and signed" if p["signed"] else "")
        + f"; recorded as entry {entry.seq} ({entry.kind}, by {p['by']}).",
        fg=typer.colors.GREEN,
    )
    typer.echo(f"  It was: {p['problem']}.")


@audit_app.command("show", epilog="Example:\n\n  galaxy audit show -n 50")
@_friendly
def audit_show(
    n: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many of the latest entries.")] = 20,
    file: Annotated[Path, typer.Option("--file", help="The audit log.")] = Path("reports/audit.jsonl"),
) -> None:
    """Show the latest audit-log entries (newest last)."""
    from rich.console import Console
    from rich.table import Table

    from galaxy_lib.core.audit import AuditLog

    path = resolve_path(file)
    if not path.exists():
        typer.echo(f"No audit log yet at {path}.")
        return
    table = Table(title=str(path))
    for col in ("seq", "time (UTC)", "kind", "job", "run id", "status", "hash"):
        table.add_column(col)
    for e in AuditLog(path).tail(n):
        p = e.payload
        table.add_row(
            str(e.seq),
            e.ts[:19].replace("T", " "),
            e.kind,
            str(p.get("job", "")),
            str(p.get("run_id", "")),
            str(p.get("status", "")),
            e.hash[:12],
        )
    Console(width=max(120, Console().width)).print(table)


# -- world ---------------------------------------------------------------------------
@world_app.command(
    "build",
    epilog=(
        "Demo and CI worlds may use the public demo salt for pseudonymisation; a bench world needs "
        "GALAXY_PII_SALT (as real data would).\n\n"
        "Examples:\n\n"
        "  galaxy world build                         # data/ci, seconds\n\n"
        "  galaxy world build --size demo --if-missing\n\n"
        "  GALAXY_PII_SALT=... galaxy world build --size bench"
    ),
)
@_friendly
def world_build(
    size: Annotated[
        str, typer.Option("--size", help="ci (seconds), demo (under a minute) or bench (millions of events).")
    ] = "ci",
    out: Annotated[Path | None, typer.Option("--out", help="Store folder (default data/<size>).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same world.")] = 42,
    if_missing: Annotated[bool, typer.Option("--if-missing", help="Do nothing when the world already exists.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild and DELETE data the simulator did not write (ingested files).")
    ] = False,
) -> None:
    """Simulate the Galaxy world (raw zone + ground truth) and stage it (staged + curated zones).

    Raw customer ids are pseudonymised at staging with the salt from
    GALAXY_PII_SALT; ci and demo worlds fall back to the public demo salt.

    A folder holding your own data (rows from galaxy ingest, files copied into raw/)
    is not rebuilt: the command names the files; use another --out, or --force.
    """
    if size not in ("ci", "demo", "bench"):
        raise ConfigError(f"--size must be ci, demo or bench, got {size!r}.")
    target = resolve_path(out or Path("data") / size)
    from galaxy_lib.core.store import DataStore
    from galaxy_lib.governance.pseudonyms import get_salt
    from galaxy_lib.pipeline.staging import stage_world, staging_is_current
    from galaxy_lib.simulate import build_world, ensure_world
    from galaxy_lib.simulate.world import rebuild_refusal, user_files

    store = DataStore(target)
    if if_missing and staging_is_current(store):
        typer.echo(f"World already exists at {target}; nothing to do (drop --if-missing to rebuild).")
        return
    # GALAXY_PII_SALT wins when set; synthetic ci/demo worlds may fall back to the public demo salt.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        salt = get_salt(demo=size != "bench")
    for w in caught:
        typer.secho(f"Warning: {w.message}", fg=typer.colors.YELLOW, err=True)
    if if_missing:
        typer.echo(f"Preparing the {size} world (seed {seed}) at {target} ...")
        ensure_world(target, size=size, seed=seed, salt=salt)
        typer.echo(f"World ready at {target}.")
        return
    with store.lock(timeout=3600):  # a notebook's ensure_world waits instead of reading a half-built world
        user = user_files(target)
        if user and not force:
            raise ConfigError(rebuild_refusal(target, user))
        if user:
            typer.secho(f"Deleting (--force), not written by the simulator: {', '.join(map(str, user))}", err=True)
        typer.echo(f"Building the {size} world (seed {seed}) into {target} ...")
        summary = build_world(target, size=size, seed=seed, force=force)
        typer.echo(f"Simulated in {summary.seconds:.1f} s: " + ", ".join(f"{t} {n:,}" for t, n in summary.rows.items()))
        report = stage_world(store, salt)
    typer.echo(f"Staged: {report}")
    typer.echo(f"World ready at {target}.")


# -- ingest --------------------------------------------------------------------------
@app.command(
    epilog=(
        "Examples:\n\n"
        "  galaxy ingest ~/exports/spend.csv --table spend                  # into data/user\n\n"
        "  galaxy ingest ~/exports/spend.csv --table spend --data-dir data/acme\n\n"
        "  galaxy ingest media.parquet --table spend --map spend=cost --map week=week_start\n\n"
        "  galaxy ingest costs.csv --table spend --map week=Date --map channel=Medium --map spend=Cost\n\n"
        "  galaxy ingest touchpoints.csv --table touchpoints --channels my_channels.yaml"
    ),
)
@_friendly
def ingest(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file to load.", show_default=False)],
    table: Annotated[str, typer.Option("--table", help="Target table (spend, kpi, touchpoints, ...).")],
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="canonical=source column mapping (repeatable).")
    ] = None,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Store to load into (data/user: your own store, never a demo world).")
    ] = Path("data/user"),
    channels: Annotated[
        Path | None,
        typer.Option(
            "--channels",
            help="Channel-name map, YAML of canonical: [aliases] (default parameters/channels.yaml).",
        ),
    ] = None,
) -> None:
    """Load your own file into the raw zone: contract-checked, bad rows quarantined with reasons.

    A missing required column stops the load with the --map that fixes it; bad
    rows (negative spend, unparseable dates, duplicate keys) go to
    quarantine/<table>/ and are counted here.

    A spend file needs only date, channel and spend: without a geo column it is
    national (geo = national), without impressions or clicks those are unknown
    (null); a KPI file without geo is national too. Channel names are put in
    canonical form with the channel map (TV, tv and Television are one channel);
    names the map does not know are kept and listed.
    """
    from galaxy_lib.core.store import DataStore
    from galaxy_lib.pipeline.ingest import ingest_file

    mapping: dict[str, str] = {}
    for item in map_ or []:
        if "=" not in item:
            raise ConfigError(f"--map {item!r} must look like canonical=source (e.g. --map spend=cost).")
        canonical, source = (s.strip() for s in item.split("=", 1))
        mapping[canonical] = source
    path = Path(file).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"No file to ingest at {path.resolve()}")
    store_root = resolve_path(data_dir)
    try:
        result = ingest_file(
            path,
            table,
            DataStore(store_root),
            mapping or None,
            channels=resolve_path(channels) if channels is not None else None,
        )
    except Exception as err:
        if type(err).__name__ == "ContractError" and "mapping" in str(err):
            raise type(err)(
                f"{err} On the command line: --map <canonical>=<your column>, e.g. --map spend=cost."
            ) from None
        raise
    typer.echo(str(result))
    if result.rows_quarantined:
        typer.echo(f"Quarantined rows with their reasons: {store_root / 'quarantine' / table}/")


if __name__ == "__main__":
    app()
