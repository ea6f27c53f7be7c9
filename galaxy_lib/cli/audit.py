"""``galaxy audit``: check and read the hash-chained audit log of every run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from galaxy_lib.cli.app import app, friendly
from galaxy_lib.core.config import resolve_path

audit_app = typer.Typer(
    help=(
        "Check and read the hash-chained audit log (reports/audit.jsonl) that records every run. "
        "Its head file (audit.jsonl.head) records the last entry, so removed entries are detected; "
        "with GALAXY_AUDIT_KEY set the head is signed (HMAC-SHA256)."
    ),
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify", epilog="Example:\n\n  galaxy audit verify || echo 'the run history was tampered with'")
@friendly
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
@friendly
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
@friendly
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
