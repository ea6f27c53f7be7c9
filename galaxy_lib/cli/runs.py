"""``galaxy run``, ``galaxy schedule`` and ``galaxy reports``: notebooks as recorded runs, and their index."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from galaxy_lib.cli.app import app, friendly, sigterm_as_interrupt
from galaxy_lib.core.config import ConfigError, load_yaml, resolve_path

__all__ = ["parse_param_args", "parse_value"]


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
@friendly
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

    sigterm_as_interrupt()
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
@friendly
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
    sigterm_as_interrupt()
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
@friendly
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
