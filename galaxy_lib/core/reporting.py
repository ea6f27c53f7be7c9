"""Run artefacts: ``metrics.json``, tables, figures, and the ``reports/`` index.

Each workflow's ``report.publish(...)`` writes its run through
:class:`ReportWriter`: gates (:class:`galaxy_lib.core.gates.Gate` only), tables,
figures and one typed metrics payload, validated against the workflow's schema
(:mod:`galaxy_lib.core.metrics`) before anything is written. The runner reads
the ``status`` it wrote, and :func:`build_index` turns every run folder
(``reports/<job>/<run_id>/manifest.json``) into ``reports/index.json`` and a
readable ``reports/index.html``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock
from pydantic import ValidationError

from galaxy_lib.core.config import resolve_path
from galaxy_lib.core.gates import RUN_STATUSES, Gate, run_status
from galaxy_lib.core.jsonio import to_jsonable, write_json_atomic
from galaxy_lib.core.metrics import METRICS_SCHEMA_VERSION, MetricsPayload, RunMetrics, describe_problems
from galaxy_lib.core.paths import find_project_root
from galaxy_lib.core.templating import render_template

__all__ = ["ReportWriter", "build_index", "figures_in_order"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def figures_in_order(figures: Mapping[str, Any] | None, names: Sequence[str], run: str) -> dict[str, Any]:
    """Return ``figures`` keyed by every name of ``names``, in that order (``None`` where not given).

    Raises
    ------
    ValueError
        When a figure's name is not one of ``names`` (a typo would silently drop it).
    """
    figures = dict(figures or {})
    unknown = sorted(set(figures) - set(names))
    if unknown:
        raise ValueError(f"publish: unknown figure name(s) {unknown}; {run} publishes {list(names)}.")
    return {name: figures.get(name) for name in names}


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"{what} name {name!r} must start with a letter or digit and contain only letters, "
            "digits, '_', '-' and '.', because it becomes a file name."
        )
    return name


# -- the writer ------------------------------------------------------------------
class ReportWriter:
    """Collect a notebook's results and write them as one run folder.

    Parameters
    ----------
    output_dir
        Folder to write into. Empty (the notebook default) means
        ``<project root>/reports/adhoc/<notebook>/``; the runner injects
        ``reports/<job>/<run_id>/``. Relative paths resolve against the project root.
    notebook
        Notebook name (``"01_data_inventory"``; a ``.ipynb`` suffix is dropped).

    Examples
    --------
    A workflow's ``report.publish`` does this; notebooks call that, not the writer::

        rw = ReportWriter(output_dir, notebook="01_data_inventory")
        rw.gate(gate)  # a core.gates.Gate
        rw.table("channel_summary", df)  # channel_summary.csv
        rw.figure("spend_by_week", fig)  # spend_by_week.html + .json
        rw.write(InventoryMetrics(...))  # metrics.json; status from the worst gate
    """

    def __init__(self, output_dir: str | Path = "", notebook: str = "") -> None:
        notebook = Path(str(notebook)).name.removesuffix(".ipynb").removesuffix(".py")
        if not notebook:
            raise ValueError(
                "ReportWriter needs notebook=<name>, e.g. ReportWriter(output_dir, notebook='01_data_inventory')."
            )
        self.notebook = notebook
        if str(output_dir).strip():
            self.output_dir = resolve_path(output_dir)
        else:
            self.output_dir = find_project_root() / "reports" / "adhoc" / notebook
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._gates: list[Gate] = []
        self._tables: list[dict[str, Any]] = []
        self._figures: list[dict[str, Any]] = []

    @property
    def gates(self) -> tuple[Gate, ...]:
        """The gates recorded so far."""
        return tuple(self._gates)

    # gates ----------------------------------------------------------------------
    def gate(self, result: Gate) -> None:
        """Record a gate (a :class:`galaxy_lib.core.gates.Gate`; make one with ``core.gates.measure``)."""
        if not isinstance(result, Gate):
            raise TypeError(
                f"ReportWriter.gate takes a galaxy_lib.core.gates.Gate, got {type(result).__name__}; "
                "build it with galaxy_lib.core.gates.measure(name, value, warn_at, fail_at, detail)."
            )
        self._gates.append(result)

    # artefacts ------------------------------------------------------------------
    def table(self, name: str, df: pd.DataFrame | pd.Series) -> Path:
        """Write ``df`` as ``<name>.csv`` (a meaningful index is kept as columns) and list it in metrics.json."""
        _check_name(name, "Table")
        if isinstance(df, pd.Series):
            df = df.to_frame()
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"Table {name!r} must be a pandas DataFrame or Series, got {type(df).__name__}.")
        keep_index = not (isinstance(df.index, pd.RangeIndex) and df.index.name is None)
        path = self.output_dir / f"{name}.csv"
        df.to_csv(path, index=keep_index)
        self._tables = [t for t in self._tables if t["name"] != name]
        self._tables.append({"name": name, "path": path.name, "rows": len(df), "columns": [str(c) for c in df.columns]})
        return path

    def figure(self, name: str, fig: Any) -> Path:
        """Write a plotly figure as ``<name>.html`` and ``<name>.json``.

        The HTML loads ``plotly.min.js`` from the same folder (copied from the
        installed plotly package once per run folder): it works offline, with no CDN,
        and a report with many figures does not repeat the 4.8 MB bundle.
        """
        _check_name(name, "Figure")
        if not hasattr(fig, "to_plotly_json") or not hasattr(fig, "write_html"):
            raise TypeError(f"Figure {name!r} must be a plotly Figure, got {type(fig).__name__}.")
        html_path = self.output_dir / f"{name}.html"
        fig.write_html(html_path, include_plotlyjs="directory", full_html=True)
        json_path = self.output_dir / f"{name}.json"
        json_path.write_text(fig.to_json(), encoding="utf-8")
        title = getattr(getattr(fig.layout, "title", None), "text", None) or ""
        self._figures = [f for f in self._figures if f["name"] != name]
        self._figures.append({"name": name, "html": html_path.name, "json": json_path.name, "title": title})
        return html_path

    # write ----------------------------------------------------------------------
    def _default_reason(self, status: str) -> str:
        if status == "passed":
            return "all gates passed" if self._gates else "no quality gates recorded"
        bad = "fail" if status == "failed" else "warn"
        parts = []
        for g in self._gates:
            if g.status != bad:
                continue
            where = ".".join(str(x) for x in (g.table, g.column) if x)
            desc = g.gate + (f" on {where}" if where else "")
            value = to_jsonable(g.value)
            if value is not None:
                desc += f" = {value:.4g}" if isinstance(value, float) else f" = {value}"
            if g.limit is not None:
                desc += f" (limit {g.limit})"
            if g.detail:
                desc += f": {str(g.detail).rstrip('. ')}"
            parts.append(desc)
        return f"{len(parts)} gate(s) {'failed' if bad == 'fail' else 'warned'}: " + "; ".join(parts)

    def write(self, payload: MetricsPayload, status: str | None = None, reason: str = "") -> Path:
        """Validate the run and write ``metrics.json``; return its path.

        Parameters
        ----------
        payload
            The workflow's typed metrics (an instance of its schema in ``galaxy_lib.schemas``).
        status
            ``"passed"``, ``"warn"`` or ``"failed"``. ``None`` takes the worst gate
            (pass -> passed, warn -> warn, fail -> failed; no gates -> passed).
        reason
            Why; by default a summary of the gates that warned or failed.

        Raises
        ------
        TypeError, ValueError
            When ``payload`` is not a schema instance or the envelope does not validate
            (nothing is written then).
        """
        if not isinstance(payload, MetricsPayload):
            raise TypeError(
                "ReportWriter.write takes the workflow's metrics schema (a MetricsPayload), "
                f"got {type(payload).__name__}."
            )
        if status is None:
            status = run_status(self._gates)
        if status not in RUN_STATUSES:
            raise ValueError(
                f"status must be one of {', '.join(RUN_STATUSES)} (or None for the gates' worst), got {status!r}."
            )
        doc = {
            "schema_version": METRICS_SCHEMA_VERSION,
            "notebook": self.notebook,
            "status": status,
            "status_reason": reason or self._default_reason(status),
            "metrics": to_jsonable(payload.model_dump(mode="json")),
            "gates": [g.to_dict() for g in self._gates],
            "tables": self._tables,
            "figures": self._figures,
            "written_at": _now_iso(),
        }
        try:  # the envelope and the payload, as a reader will see them
            RunMetrics[type(payload)].model_validate(doc)
        except ValidationError as err:
            raise ValueError(
                f"metrics.json of {self.notebook} does not match its schema: {describe_problems(err)}"
            ) from None
        return write_json_atomic(self.output_dir / "metrics.json", doc)

    def publish(
        self,
        payload: MetricsPayload,
        gates: Iterable[Gate] = (),
        tables: Mapping[str, pd.DataFrame | pd.Series | None] | None = None,
        figures: Mapping[str, Any] | None = None,
        status: str | None = None,
        reason: str = "",
    ) -> Path:
        """Record gates, tables and figures (``None`` entries are skipped) and write ``metrics.json``.

        The one call at the end of every workflow's ``report.publish``.
        """
        for g in gates:
            self.gate(g)
        for name, df in (tables or {}).items():
            if df is not None:
                self.table(name, df)
        for name, fig in (figures or {}).items():
            if fig is not None:
                self.figure(name, fig)
        return self.write(payload, status=status, reason=reason)


# -- the index -------------------------------------------------------------------
def _fmt_duration(seconds: Any) -> str:
    if seconds is None:
        return ""
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(round(s), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {s:02d}s"


def _fmt_time(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        t = dt.datetime.fromisoformat(iso).astimezone(dt.UTC)
    except ValueError:
        return iso
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def _runner_is_gone(manifest: Mapping[str, Any]) -> bool:
    """Tell whether a ``running`` manifest's runner process (same host) no longer exists."""
    extra = manifest.get("extra") or {}
    pid, host = extra.get("runner_pid"), extra.get("host")
    if not pid or host != os.uname().nodename:
        return False
    import psutil

    try:
        started = dt.datetime.fromisoformat(manifest["started_at"]).timestamp()
        return psutil.Process(int(pid)).create_time() > started + 1  # pid reused by a newer process
    except psutil.NoSuchProcess:
        return True
    except (KeyError, ValueError, TypeError, psutil.Error):
        return False


def _withheld(manifest: Mapping[str, Any], runner_gone: bool) -> str:
    """Say why a run's outputs are not linked (they hold or may hold personal data), or return ``""``."""
    extra = manifest.get("extra") if isinstance(manifest.get("extra"), Mapping) else {}
    pii = extra.get("pii") if isinstance(extra.get("pii"), Mapping) else {}
    error = manifest.get("error") if isinstance(manifest.get("error"), Mapping) else {}
    if pii.get("ok") is False or error.get("kind") == "pii":
        return (
            "outputs withheld: the PII scan found personal data in them (or could not run); "
            "see extra.pii in the manifest, fix the notebook and run it again"
        )
    if runner_gone:
        return "outputs not linked: the run never finished, so they were never scanned for personal data"
    if manifest.get("status") == "running":
        return "outputs linked once the run has finished and passed the PII scan"
    return ""


def _against_the_log(manifest: dict[str, Any], recorded: Mapping[str, Any] | None) -> tuple[dict[str, Any], str]:
    """Show the status the audit log recorded when ``manifest.json`` says otherwise (it was changed after the run)."""
    if recorded is None or recorded.get("status") == manifest.get("status"):
        return manifest, ""
    said, logged = manifest.get("status"), recorded.get("status")
    reason = (
        f"manifest.json says {said!r} but the audit log recorded {logged!r}: the manifest was changed after "
        f"the run (run `galaxy audit verify`). Recorded reason: {recorded.get('status_reason') or ''}"
    )
    return {**manifest, "status": logged, "status_reason": reason, "error": recorded.get("error")}, (
        "outputs withheld: the manifest no longer matches the audit log"
    )


def _masked(value: Any, redact: Callable[[str], str]) -> Any:
    """``value`` (JSON-like) with ``redact`` applied to every string."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: _masked(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, redact) for v in value]
    return value


def _run_summary(
    manifest: dict[str, Any],
    run_dir: Path,
    reports_dir: Path,
    recorded: Mapping[str, Any] | None = None,
    redact: Callable[[str], str] = str,
) -> dict[str, Any]:
    """One row of the index: the manifest (checked against its audit entry ``recorded``), links and a reason.

    No links to outputs that failed the PII scan, were never scanned, or whose manifest was changed.
    """
    rel = run_dir.relative_to(reports_dir).as_posix()
    stem = Path(manifest.get("notebook", "")).stem
    manifest, changed = _against_the_log(manifest, recorded)
    runner_gone = manifest.get("status") == "running" and _runner_is_gone(manifest)
    withheld = changed or _withheld(manifest, runner_gone)
    links = {}
    for key, fname in (
        ("report", f"{stem}.html"),
        ("notebook", f"{stem}.ipynb"),
        ("metrics", "metrics.json"),
        ("manifest", "manifest.json"),
    ):
        if (run_dir / fname).is_file() and (key == "manifest" or not withheld):
            links[key] = f"{rel}/{fname}"
    if runner_gone:
        manifest = {
            **manifest,
            "status": "failed",
            "status_reason": "the runner process died before recording a result (killed or crashed); "
            "the partial notebook is kept",
        }
    error = _masked(manifest.get("error") or {}, redact)
    reason = redact(str(manifest.get("status_reason") or ""))
    if error.get("message") and error.get("message") not in reason:
        reason = f"{reason} {error['message']}".strip() if reason else error["message"]
    return {
        "job": manifest.get("job"),
        "notebook": manifest.get("notebook"),
        "run_id": manifest.get("run_id"),
        "status": manifest.get("status"),
        "status_reason": reason,
        "started_at": manifest.get("started_at"),
        "finished_at": manifest.get("finished_at"),
        "duration_s": manifest.get("duration_s"),
        "parameters_hash": manifest.get("parameters_hash"),
        "code_version": manifest.get("code_version"),
        "error": error or None,
        "links": links,
        "outputs_withheld": withheld,
    }


_LINK_LABELS = (("report", "report"), ("notebook", "notebook"), ("metrics", "metrics.json"), ("manifest", "manifest"))
_UNKNOWN_COLOR = "#78909c"


def _excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _index_row(run: Mapping[str, Any], colors: Mapping[str, str], reason_limit: int) -> dict[str, Any]:
    """Prepare what the index template shows of one run: formatted texts, the badge colour, the links."""
    return {
        "job": str(run["job"]),
        "notebook": str(run["notebook"]),
        "run_id": str(run["run_id"]),
        "status": str(run["status"]),
        "badge": run["status"] or "unknown",
        "color": colors.get(run["status"], _UNKNOWN_COLOR),
        "started": _fmt_time(run["started_at"]),
        "duration": _fmt_duration(run["duration_s"]),
        "reason": _excerpt(run["status_reason"], reason_limit),
        "links": [(run["links"][key], label) for key, label in _LINK_LABELS if key in run["links"]],
        "withheld": run.get("outputs_withheld") or "",
    }


def _render_index(
    runs: list[dict[str, Any]],
    latest: dict[str, dict[str, Any]],
    audit: Mapping[str, Any],
    audit_found: bool,
    generated_at: str,
) -> str:
    """``index.html`` from ``core/templates/index.html.j2``: one card per job, one row per run."""
    from galaxy_lib.core.plotting import STATUS_COLORS

    colors = {**STATUS_COLORS, "running": "#1e88e5"}
    counts = {s: sum(r["status"] == s for r in runs) for s in (*RUN_STATUSES, "running")}
    return render_template(
        "galaxy_lib.core",
        "index.html.j2",
        runs=[_index_row(r, colors, 300) for r in runs],
        cards=[_index_row(r, colors, 160) for _, r in sorted(latest.items())],
        count_text=", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no runs yet",
        generated=_fmt_time(generated_at),
        audit=audit,
        audit_found=audit_found,
    )


def build_index(reports_dir: str | Path | None = None, redact: Callable[[str], str] | None = None) -> Path:
    """Scan ``reports/<job>/<run_id>/manifest.json`` and write ``index.json`` and ``index.html``.

    Runs are listed newest first with status, reason (the error for failed runs)
    and links to the HTML report, the executed notebook and ``metrics.json``; the
    latest run of each job is summarised at the top, with the audit-log check.
    A run whose PII scan failed, or that never finished (so was never scanned), is
    listed with a link to its manifest only and a line saying why
    (``outputs_withheld`` in ``index.json``). When the audit log verifies, a run is
    shown with the status its ``run.finished`` entry recorded: a manifest flipped
    from failed to passed afterwards shows failed, saying so.
    A manifest that cannot be read is listed as a failed run rather than skipped.

    Parameters
    ----------
    reports_dir
        The reports folder (default ``<project root>/reports``).
    redact
        Applied to every reason and error text shown (the runner passes
        ``governance.pii.redact_pii``, which ``core`` may not import): manifests are
        masked when written, this also covers ones written before that, or by hand.

    Returns
    -------
    Path
        The path of ``index.html``.
    """
    reports_dir = Path(reports_dir) if reports_dir else find_project_root() / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    from galaxy_lib.core.audit import AuditLog
    from galaxy_lib.core.registry import recorded_runs

    audit_path = reports_dir / "audit.jsonl"
    audit_found = audit_path.exists()
    recorded: Mapping[tuple[str, str], Mapping[str, Any]] = {}
    if audit_found:
        v = AuditLog(audit_path).verify()
        audit = {"ok": v.ok, "entries": v.entries, "reason": v.reason}
        if v.ok:  # only an intact log is the reference for the manifests
            recorded = recorded_runs(audit_path)[1]
    else:
        audit = {"ok": True, "entries": 0, "reason": "no audit log yet"}
    runs: list[dict[str, Any]] = []
    for manifest_path in sorted(reports_dir.glob("*/*/manifest.json")):
        run_dir = manifest_path.parent
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            manifest = {
                "job": run_dir.parent.name,
                "run_id": run_dir.name,
                "notebook": "",
                "status": "failed",
                "status_reason": f"manifest.json cannot be read: {err}",
            }
        entry = recorded.get((run_dir.parent.name, run_dir.name))
        runs.append(_run_summary(manifest, run_dir, reports_dir, entry, redact or str))
    runs.sort(key=lambda r: (str(r["started_at"] or ""), str(r["run_id"])), reverse=True)
    latest: dict[str, dict[str, Any]] = {}
    for r in runs:
        latest.setdefault(str(r["job"]), r)
    generated_at = _now_iso()
    with FileLock(str(reports_dir / ".index.lock"), timeout=120):
        write_json_atomic(
            reports_dir / "index.json", {"generated_at": generated_at, "audit": audit, "latest": latest, "runs": runs}
        )
        out = reports_dir / "index.html"
        fd, tmp = tempfile.mkstemp(prefix=".index.html.", suffix=".tmp", dir=reports_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(_render_index(runs, latest, audit, audit_found, generated_at) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    return out
