"""``galaxy experiments``: the experiment registry of a data store, from the command line.

As every command, a user error (a wrong spec field, an unknown id, a status the lifecycle
forbids, another process holding the registry's lock) prints one paragraph and exits with
code 2 (:func:`galaxy_lib.cli.app.friendly`); success exits with 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from galaxy_lib.cli.app import app, friendly
from galaxy_lib.core.config import resolve_path

__all__ = ["experiments_app"]

_DEFAULT_STORE = Path("data/demo")

experiments_app = typer.Typer(
    help=(
        "The experiment registry of a data store (<data-dir>/experiments/): each test's hypothesis, metric, "
        "arms, dates, status and readout. Statuses: hypothesis -> running -> significant | inconclusive | "
        "stopped (and hypothesis -> stopped). Every status change is written to a hash-chained audit log "
        "(<data-dir>/experiments/audit.jsonl); text is masked for personal data before it is stored."
    ),
    no_args_is_help=True,
)
app.add_typer(experiments_app, name="experiments")

DataDir = Annotated[
    Path,
    typer.Option("--data-dir", help="Data store holding the registry (relative paths from the project root)."),
]
Actor = Annotated[str | None, typer.Option("--actor", help="Who makes the change (default: user@host).")]


def _registry(data_dir: Path) -> Any:
    from galaxy_lib.experiments.registry import ExperimentRegistry

    return ExperimentRegistry(resolve_path(data_dir))


def _dates(e: Any) -> str:
    if e.start and e.end:
        return f"{e.start} to {e.end}"
    if e.start:
        return f"from {e.start}"
    return f"until {e.end}" if e.end else "-"


def _arms(e: Any) -> str:
    treatments = [a for a in e.arms if a != e.control]
    return f"{', '.join(treatments)} vs {e.control}"


def _print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(width=max(160, Console().width)).print(table)


@experiments_app.command(
    "list",
    epilog=(
        "Examples:\n\n  galaxy experiments list\n\n  galaxy experiments list --status running --data-dir data/acme"
    ),
)
@friendly
def list_experiments(
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="Only these statuses (repeatable): hypothesis, running, significant, ..."),
    ] = None,
    data_dir: DataDir = _DEFAULT_STORE,
) -> None:
    """List the registered experiments, oldest first, with each one's headline readout."""
    registry = _registry(data_dir)
    records = registry.list(status=status or None)
    if not records:
        which = f" with status {', '.join(status)}" if status else ""
        typer.echo(f"No experiments{which} in {registry.folder}. Register one: galaxy experiments register --file ...")
        return
    rows = [[e.id, e.name, e.metric, _arms(e), _dates(e), e.status, e.headline() or "-"] for e in records]
    columns = ["id", "name", "metric", "arms", "dates", "status", "readout"]
    _print_table(f"Experiments in {registry.folder}", columns, rows)


@experiments_app.command(
    "show",
    epilog="Examples:\n\n  galaxy experiments show spring-email\n\n  galaxy experiments show spring-email --json",
)
@friendly
def show(
    experiment_id: Annotated[str, typer.Argument(help="The experiment's id.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored record as JSON.")] = False,
    data_dir: DataDir = _DEFAULT_STORE,
) -> None:
    """Show one experiment: what it tests, its status, readout and history of status changes."""
    e = _registry(data_dir).get(experiment_id)
    if as_json:
        typer.echo(json.dumps(e.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    for label, value in (
        ("id", e.id),
        ("name", e.name),
        ("hypothesis", e.hypothesis),
        ("metric", e.metric),
        ("arms", _arms(e)),
        ("dates", _dates(e)),
        ("owner", e.owner or "-"),
        ("status", e.status),
    ):
        typer.echo(f"{label:<11} {value}")
    if e.readout:
        r = e.readout
        level = f", {1 - r.alpha:.0%} intervals" if r.alpha else ""
        typer.echo(f"readout     {r.decision}: {r.headline()}{level}")
        for line in (r.summary, r.method and f"method: {r.method}"):
            if line:
                typer.echo(f"            {line}")
    typer.echo("history")
    for h in e.history:
        reason = f": {h.reason}" if h.reason else ""
        typer.echo(f"  {h.at:%Y-%m-%d %H:%M} {h.old or '(new)'} -> {h.new} by {h.actor}{reason} [audit #{h.audit_seq}]")


@experiments_app.command(
    "register",
    epilog=(
        "A spec file (YAML):\n\n"
        "  id: spring-email            # lower-case letters, digits, - and _\n\n"
        "  name: Spring offer e-mail\n\n"
        "  hypothesis: An offer in the subject line lifts conversion by 1 point\n\n"
        "  metric: converted\n\n"
        "  arms: \\[control, email]\n\n"
        "  control: control\n\n"
        "  start: 2024-05-01           # optional, as are end and owner\n\n"
        "  end: 2024-05-28\n\n"
        "  status: hypothesis          # or running for a test already live\n\n"
        "Example:\n\n"
        "  galaxy experiments register --file experiments/spring_email.yaml"
    ),
)
@friendly
def register(
    file: Annotated[Path, typer.Option("--file", help="The experiment spec (YAML).", show_default=False)],
    data_dir: DataDir = _DEFAULT_STORE,
    actor: Actor = None,
) -> None:
    """Register a new experiment from a YAML spec; each wrong field is named."""
    from galaxy_lib.experiments.records import load_spec

    spec = load_spec(Path(file).expanduser())
    registry = _registry(data_dir)
    e = registry.register(spec, actor=actor)
    typer.echo(f"Registered {e.id} ({e.status}) in {registry.folder}.")
    if e.status == "hypothesis":
        typer.echo(f"When it starts: galaxy experiments status {e.id} running --reason 'launched'")


@experiments_app.command(
    "status",
    epilog=(
        "Examples:\n\n"
        "  galaxy experiments status spring-email running --reason 'launched to 40k customers'\n\n"
        "  galaxy experiments status spring-email stopped --reason 'coupon budget cut'"
    ),
)
@friendly
def set_status(
    experiment_id: Annotated[str, typer.Argument(help="The experiment's id.", show_default=False)],
    new_status: Annotated[
        str, typer.Argument(help="running, significant, inconclusive or stopped.", show_default=False)
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why; kept in the history and the audit log.")],
    data_dir: DataDir = _DEFAULT_STORE,
    actor: Actor = None,
) -> None:
    """Move an experiment to a new status (the lifecycle decides which) and audit the change.

    The notebook that computes a readout records it (ExperimentRegistry.record_readout), which sets the status.
    """
    registry = _registry(data_dir)
    e = registry.set_status(experiment_id, new_status, actor=actor, reason=reason)
    change = e.history[-1]
    typer.echo(f"{e.id}: {change.old} -> {change.new} (audit entry #{change.audit_seq} in {registry.audit.path}).")


@experiments_app.command("verify", epilog="Example:\n\n  galaxy experiments verify --data-dir data/demo")
@friendly
def verify(data_dir: DataDir = _DEFAULT_STORE) -> None:
    """Check the registry's audit log and that every record matches its last audited status and readout."""
    registry = _registry(data_dir)
    check = registry.verify()
    if check.ok:
        typer.echo(f"OK: {check.experiments} experiment(s) match the audit log {registry.audit.path}.")
        return
    typer.secho("The registry does not match its audit log:", fg=typer.colors.RED, err=True)
    for problem in check.problems:
        typer.secho(f"  - {problem}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)
