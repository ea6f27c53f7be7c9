"""Calibration targets: per-channel incremental estimates from lift tests, a file or an MMM run.

Path-based credit is calibrated to what experiments or the MMM say each channel
really adds (:func:`galaxy_lib.mta.analysis.calibrate`). The estimates come from

* the store's geo lift tests and spend (:func:`incremental_from_lift_tests`);
* a user's table, CSV / Parquet or JSON (:func:`read_incremental`, read through
  :func:`galaxy_lib.core.files.read_table_file`);
* a ``02_mmm`` run (:func:`incremental_from_mmm_run`), read through its schema
  (:func:`galaxy_lib.core.metrics.read_metrics` with
  :class:`galaxy_lib.schemas.mmm.MMMMetrics`), never through ``galaxy_lib.mmm``:
  workflows do not import each other. A run that failed its diagnostics gate is
  refused; :func:`latest_mmm_run` finds the newest one that passed.

``latest:mmm`` trusts the runner, not the notebook: a run counts only when the runner
recorded it (its ``manifest.json`` and a ``run.finished`` entry in ``reports/audit.jsonl``
name the same run with the same status) and that status is ``passed`` or ``warn``. A run
the runner failed (its PII scan, say) is skipped although its ``metrics.json`` says it
passed, and ad-hoc runs (``reports/adhoc/``, written by an interactive session or a
dashboard, never scanned or audited) never count.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from galaxy_lib.core.audit import AuditLog
from galaxy_lib.core.files import read_table_file
from galaxy_lib.core.metrics import MetricsError, RunMetrics, read_metrics
from galaxy_lib.core.registry import OUTPUT_HASHES, output_hashes
from galaxy_lib.mta.paths import PathTableError
from galaxy_lib.schemas.mmm import MMMMetrics

__all__ = [
    "LATEST_MMM_RUN",
    "MMM_NOTEBOOK",
    "USABLE_RUN_STATUSES",
    "IncrementalEstimate",
    "incremental_from_lift_tests",
    "incremental_from_mmm_run",
    "latest_mmm_run",
    "read_incremental",
]

logger = logging.getLogger(__name__)

#: Notebook whose ``metrics.json`` carries the MMM's ROI per channel.
MMM_NOTEBOOK = "02_mmm"
#: Manifest statuses of a run whose results may calibrate (``warn``: passed with warnings).
USABLE_RUN_STATUSES = ("passed", "warn")
#: Folder under ``reports/`` of interactive runs: never scanned, never audited.
ADHOC_FOLDER = "adhoc"


@dataclass(frozen=True, eq=False)
class IncrementalEstimate:
    """Incremental effect per channel from an experiment or a model.

    Attributes
    ----------
    table
        Indexed by channel: ``incremental`` (total effect over the period), ``std_error``
        (NaN when unknown) and, for lift tests, ``iroas``, ``n_tests``, ``spend``.
    unit
        ``"revenue"`` or ``"conversions"``.
    source
        Where it came from, for the report.
    """

    table: pd.DataFrame
    unit: str
    source: str

    def shares(self) -> pd.Series:
        """Share of the total incremental effect per channel."""
        inc = self.table["incremental"]
        return inc / inc.sum()


def incremental_from_lift_tests(lift_tests: pd.DataFrame, spend: pd.DataFrame) -> IncrementalEstimate:
    """Incremental revenue per channel from geo lift tests, scaled by the channel's spend.

    Each test measures ``delta_y`` (incremental revenue per test week) for a spend change
    ``delta_x`` (per week): its incremental return on ad spend is ``delta_y / delta_x``
    with standard error ``sigma / |delta_x|``. Per channel the tests are pooled with
    inverse-variance weights and the channel's incremental revenue is estimated as
    ``iROAS x total spend`` of the channel in ``spend``. This is linear: under saturation
    a test's return is marginal, not average, so treat the result as a calibration
    target for shares (``mode="relative"``), not as an exact total. Ratios of revenue to
    spend are the same in geo and national units, so geo tests need no rescaling.

    Parameters
    ----------
    lift_tests
        ``channel``, ``delta_x``, ``delta_y``, ``sigma`` (the ``lift_tests`` contract).
    spend
        ``channel``, ``spend`` (the ``spend`` contract, any granularity).
    """
    for name, df, cols in (
        ("lift_tests", lift_tests, ("channel", "delta_x", "delta_y", "sigma")),
        ("spend", spend, ("channel", "spend")),
    ):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise PathTableError(f"{name} lacks columns {missing} (has {list(df.columns)}).")
    lt = lift_tests.loc[lift_tests["delta_x"].abs() > 0].copy()
    if lt.empty:
        raise PathTableError("No lift test with a non-zero spend change (delta_x): nothing to calibrate to.")
    lt["iroas"] = lt["delta_y"] / lt["delta_x"]
    lt["w"] = (lt["delta_x"].abs() / lt["sigma"]) ** 2
    g = (
        lt.assign(wi=lt["w"] * lt["iroas"])
        .groupby("channel")
        .agg(w=("w", "sum"), wi=("wi", "sum"), n_tests=("iroas", "size"))
    )
    total_spend = spend.groupby("channel")["spend"].sum()
    out = pd.DataFrame(index=pd.Index(g.index, name="channel"))
    out["iroas"] = g["wi"] / g["w"]
    out["iroas_se"] = 1.0 / np.sqrt(g["w"])
    out["n_tests"] = g["n_tests"].astype(int)
    out["spend"] = total_spend.reindex(out.index).fillna(0.0)
    out["incremental"] = out["iroas"] * out["spend"]
    out["std_error"] = out["iroas_se"] * out["spend"]
    return IncrementalEstimate(table=out, unit="revenue", source=f"lift_tests ({len(lt)} tests)")


#: ``incremental_path`` value meaning "the newest recorded 02_mmm run under reports/ that passed".
LATEST_MMM_RUN = "latest:mmm"
#: Half-width of a normal 94% interval in standard deviations.
_Z94 = 1.8808


def _read_mmm_run(p: Path) -> RunMetrics[MMMMetrics]:
    """Read a ``02_mmm`` run's metrics through :class:`MMMMetrics`, refusing a run that failed its gate.

    The envelope is read first, so a file of another notebook and a failed run are named as
    such before the payload is checked against the MMM's schema. A ``manifest.json`` beside
    the file (a run the runner recorded) must say the run passed too: the runner's verdict
    (PII scan, errors) wins over what the notebook wrote.
    """
    try:
        envelope = read_metrics(p)
    except MetricsError as err:
        raise PathTableError(f"incremental_path: {err}") from None
    if envelope.notebook != MMM_NOTEBOOK:
        raise PathTableError(f"{p} is not the metrics.json of a {MMM_NOTEBOOK} run (notebook: {envelope.notebook!r}).")
    refusal = PathTableError(
        f"the MMM run {p.parent.name} failed its diagnostics gate ({envelope.status_reason or 'no reason given'}); "
        "its results are withheld. Calibrate to a run that passed (incremental_path: latest:mmm picks one)."
    )
    if not envelope.passed:
        raise refusal
    refused = _manifest_refusal(p.parent / "manifest.json")
    if refused:
        raise PathTableError(f"the MMM run {p.parent.name} cannot calibrate: {refused}.")
    try:
        run = read_metrics(p, MMMMetrics)
    except MetricsError as err:
        raise PathTableError(f"incremental_path: {err} Re-run {MMM_NOTEBOOK} with this version.") from None
    if run.metrics.results_withheld:
        raise refusal
    return run


def _mmm_estimate(run: RunMetrics[MMMMetrics], p: Path) -> IncrementalEstimate:
    """Incremental revenue per channel of a validated MMM run (see :func:`incremental_from_mmm_run`)."""
    rows = {
        ch: {
            "incremental": m.roi_mean * m.spend,
            "std_error": (m.roi_hdi_high - m.roi_hdi_low) / (2 * _Z94) * m.spend,
            "roi": m.roi_mean,
            "spend": m.spend,
        }
        for ch, m in (run.metrics.channels or {}).items()
    }
    if not rows:
        raise PathTableError(f"{p.name}: the MMM run lists no channels.")
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("channel")
    return IncrementalEstimate(table=table, unit="revenue", source=f"MMM run {p.parent.name}")


def incremental_from_mmm_run(metrics_path: str | Path) -> IncrementalEstimate:
    """Incremental revenue per channel from a ``02_mmm`` run's ``metrics.json``.

    A channel's MMM contribution over the model's data window is ``roi_mean x spend``
    (the MMM's own definition of ROI); its standard error is read off the 94% ROI interval
    under a normal approximation (``(hdi_high - hdi_low) / (2 x 1.88) x spend``). Use it
    with ``mode="relative"``: the MMM's window and the journeys' lookback differ, so only
    the shares carry over. The file is read through
    :class:`galaxy_lib.schemas.mmm.MMMMetrics` (``channels[<channel>].roi_*`` and ``.spend``).

    Parameters
    ----------
    metrics_path
        The run's ``metrics.json`` (or its run folder).

    Returns
    -------
    IncrementalEstimate
        ``incremental``, ``std_error``, ``roi`` and ``spend`` per channel, in revenue.

    Raises
    ------
    PathTableError
        When the file is not a 02_mmm run, does not match the MMM's schema, or the run
        failed its diagnostics gate (its results are withheld and must not calibrate anything).
    """
    p = Path(metrics_path)
    if p.is_dir():
        p = p / "metrics.json"
    return _mmm_estimate(_read_mmm_run(p), p)


def _read_manifest(path: Path) -> dict[str, Any]:
    """Read a run's ``manifest.json`` as a JSON object (``ValueError`` / ``OSError`` when it cannot be read)."""
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(manifest, dict):
        raise ValueError("it is not a JSON object")
    return manifest


def _status_refusal(manifest: Mapping[str, Any]) -> str:
    """Why a run with this manifest may not calibrate (``""`` when the runner let it pass)."""
    status = manifest.get("status")
    if status not in USABLE_RUN_STATUSES:
        reason = manifest.get("status_reason") or "no reason given"
        return f"the runner recorded it as {status!r} ({reason})"
    return ""


def _manifest_refusal(path: Path) -> str:
    """Why the run whose ``manifest.json`` is ``path`` may not calibrate (``""``: no manifest, or it passed)."""
    if not path.is_file():
        return ""
    try:
        return _status_refusal(_read_manifest(path))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        return f"its manifest.json cannot be read ({err})"


def _finished_runs(reports: Path) -> dict[tuple[str, str], Mapping[str, Any]]:
    """Return the last ``run.finished`` payload of each ``(job, run_id)`` in ``reports/audit.jsonl``."""
    log = AuditLog(reports / "audit.jsonl")
    finished: dict[tuple[str, str], Mapping[str, Any]] = {}
    try:
        for entry in log.entries():
            if entry.kind == "run.finished" and isinstance(entry.payload, Mapping):
                finished[(str(entry.payload.get("job")), str(entry.payload.get("run_id")))] = entry.payload
    except (OSError, ValueError) as err:
        raise PathTableError(
            f"incremental_path {LATEST_MMM_RUN!r}: cannot read the audit log {log.path} ({err}), so no run can be "
            "trusted as recorded. Run `galaxy audit verify`, or point incremental_path at a run folder."
        ) from None
    return finished


def _is_mmm_folder(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a ``02_mmm`` run (by its manifest, else by its metrics' envelope)."""
    try:
        return str(_read_manifest(run_dir / "manifest.json").get("notebook", "")).removesuffix(".ipynb") == MMM_NOTEBOOK
    except (OSError, UnicodeDecodeError, ValueError):
        pass
    try:
        return read_metrics(run_dir / "metrics.json").notebook == MMM_NOTEBOOK
    except MetricsError:
        return False


def _skip_reason(run_dir: Path, finished: Mapping[str, Mapping[str, Any]]) -> str:
    """Why the ``02_mmm`` run in ``run_dir`` may not be used by ``latest:mmm`` (``""`` when it may)."""
    if run_dir.parent.name == ADHOC_FOLDER:
        return (
            "an ad-hoc run (reports/adhoc is written by interactive sessions and dashboards, never scanned or audited)"
        )
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        return "no manifest.json: the runner did not record it"
    try:
        manifest = _read_manifest(manifest_path)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        return f"its manifest.json cannot be read ({err})"
    if manifest.get("run_id") != run_dir.name or manifest.get("job") != run_dir.parent.name:
        return (
            f"its manifest.json names run {manifest.get('job')!r}/{manifest.get('run_id')!r}, "
            f"not the folder {run_dir.parent.name}/{run_dir.name}"
        )
    entry = finished.get((run_dir.parent.name, run_dir.name))
    if entry is None:
        return "audit.jsonl has no run.finished entry for it: the runner did not record it as finished"
    refused = _status_refusal(manifest)  # the manifest read above, not a second read
    if refused:
        return refused
    if entry.get("status") != manifest.get("status"):
        return (
            f"its manifest.json says {manifest.get('status')!r} but audit.jsonl recorded {entry.get('status')!r}: "
            "the manifest was changed after the run"
        )
    hashes = entry.get(OUTPUT_HASHES)
    if isinstance(hashes, Mapping):  # entries written before output hashes were recorded have none
        recorded = hashes.get("metrics.json")
        if recorded is None:
            return "audit.jsonl does not list its metrics.json among the run's outputs: it was added afterwards"
        if output_hashes(run_dir, ["metrics.json"])["metrics.json"] != recorded:
            return "its metrics.json was changed after the run (its SHA-256 differs from the one in audit.jsonl)"
    try:
        _read_mmm_run(run_dir / "metrics.json")
    except PathTableError as err:
        return str(err)
    return ""


def latest_mmm_run(reports_dir: str | Path | None = None) -> Path:
    """Find the ``metrics.json`` of the newest recorded ``02_mmm`` run under ``reports_dir`` that passed.

    A run is used only when the runner recorded it: the run folder ``<job>/<run_id>/``
    holds a ``manifest.json`` naming that job and run, ``audit.jsonl`` holds a
    ``run.finished`` entry for the run with the same status, that status is one of
    :data:`USABLE_RUN_STATUSES`, the ``metrics.json`` has the SHA-256 the entry recorded
    (entries of runs recorded before output hashes carry none) and it passes its
    diagnostics gate and matches :class:`~galaxy_lib.schemas.mmm.MMMMetrics`. Ad-hoc runs (``reports/adhoc/``)
    never count. Skipped runs are logged with their reasons.

    Parameters
    ----------
    reports_dir
        The reports folder (default: the project's ``reports/``).

    Returns
    -------
    Path
        The run's ``metrics.json``.

    Raises
    ------
    PathTableError
        When no run qualifies (the message lists the skipped runs and why), or the audit
        log cannot be read.
    """
    from galaxy_lib.core.paths import ProjectPaths

    reports = Path(reports_dir) if reports_dir else ProjectPaths.discover().reports
    finished = _finished_runs(reports)
    skipped: list[str] = []
    # run folders are named <UTC timestamp>-<suffix>, so the name orders them in time
    for metrics in sorted(reports.glob("*/*/metrics.json"), key=lambda m: m.parent.name, reverse=True):
        run_dir = metrics.parent
        if not _is_mmm_folder(run_dir):
            continue
        reason = _skip_reason(run_dir, finished)
        if not reason:
            for line in skipped:
                logger.warning("latest:mmm skipped %s", line)
            return metrics
        skipped.append(f"{run_dir.parent.name}/{run_dir.name}: {reason}")
    listed = "".join(f"\n  - {line}" for line in skipped[:10])
    more = f"\n  ... and {len(skipped) - 10} more" if len(skipped) > 10 else ""
    why = f" Skipped:{listed}{more}" if skipped else ""
    raise PathTableError(
        f"incremental_path {LATEST_MMM_RUN!r}: no {MMM_NOTEBOOK} run under {reports} was recorded by the runner "
        f"as passed yet.{why}\nRun `galaxy run {MMM_NOTEBOOK}` first, or point incremental_path at a file."
    )


def _is_mmm_run(raw: Any) -> bool:
    return isinstance(raw, dict) and raw.get("notebook") == MMM_NOTEBOOK


def _from_json(p: Path) -> IncrementalEstimate | pd.DataFrame:
    """Read a JSON file: an MMM run's metrics, or ``{"channel": value}`` / ``{"channels": {"ch": {...}}}``."""
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PathTableError(f"{p.name}: cannot read it as JSON: {err}") from None
    if _is_mmm_run(raw):
        return _mmm_estimate(_read_mmm_run(p), p)
    data = raw.get("channels", raw) if isinstance(raw, dict) else None
    if not isinstance(data, dict):
        raise PathTableError(f"{p.name}: expected a JSON object channel -> value.")
    rows = {}
    for ch, v in data.items():
        if isinstance(v, Mapping):
            val = v.get("incremental", v.get("total_contribution", v.get("contribution")))
        else:
            val = v
        if val is None:
            raise PathTableError(f"{p.name}: channel {ch!r} has no 'incremental' value.")
        rows[ch] = float(val)
    table = pd.DataFrame({"incremental": pd.Series(rows)})
    table["std_error"] = np.nan
    return table


def _from_table(df: pd.DataFrame, p: Path) -> pd.DataFrame:
    """Check a table ``channel, incremental [, std_error]`` read from ``p``."""
    for col in ("channel", "incremental"):
        if col not in df.columns:
            raise PathTableError(f"{p.name}: required column {col!r} is missing (columns: {list(df.columns)}).")
    table = df.set_index("channel")[["incremental"]].astype(float)
    table["std_error"] = df.set_index("channel")["std_error"].astype(float) if "std_error" in df else np.nan
    return table


def read_incremental(path: str | Path, unit: str = "revenue", spend: pd.DataFrame | None = None) -> IncrementalEstimate:
    """Read per-channel incremental estimates.

    Parameters
    ----------
    path
        A CSV / Parquet table (``channel``, ``incremental`` [, ``std_error``]), a lift-test
        table (``channel, delta_x, delta_y, sigma``, e.g. the ``geo_lift_tests.csv`` of a
        ``04_uplift`` run: see :func:`incremental_from_lift_tests`), a JSON object
        (``{"channel": value}`` or ``{"channels": {"ch": {"incremental": v}}}``), or a
        ``02_mmm`` run (its folder or its ``metrics.json``: see :func:`incremental_from_mmm_run`).
    unit
        ``"revenue"`` or ``"conversions"``: the unit of a table's or JSON's values (an MMM
        run is always revenue).
    spend
        ``channel, spend``: scales a lift-test table's returns to each channel's incremental
        revenue (the store's spend; required for a lift-test table).

    Returns
    -------
    IncrementalEstimate

    Raises
    ------
    PathTableError
        When the file is missing or unreadable, lacks a column, or holds a negative or
        non-finite estimate.
    """
    p = Path(path)
    if p.is_dir() and (p / "metrics.json").is_file():
        p = p / "metrics.json"
    if not p.is_file():
        raise PathTableError(f"Incremental estimates file {p} does not exist.")
    if unit not in ("revenue", "conversions"):
        raise ValueError(f"unit must be 'revenue' or 'conversions' (got {unit!r}).")
    if p.suffix.lower() == ".json":
        found = _from_json(p)
        if isinstance(found, IncrementalEstimate):
            return found
        table = found
    else:
        df = read_table_file(p, "incremental_path", na_strings=True, error=PathTableError)
        if "incremental" not in df.columns and {"channel", "delta_x", "delta_y", "sigma"} <= set(df.columns):
            if spend is None:
                raise PathTableError(
                    f"{p.name} is a lift-test table: turning its returns into incremental revenue needs each "
                    "channel's spend, which a path-table run without a store does not have. Use a store "
                    "(data_dir) or give per-channel 'channel, incremental' estimates."
                )
            found = incremental_from_lift_tests(df, spend)
            return IncrementalEstimate(table=found.table, unit="revenue", source=f"{p.name} ({found.source})")
        table = _from_table(df, p)
    table.index.name = "channel"
    bad = table.index[~np.isfinite(table["incremental"]) | (table["incremental"] < 0)]
    if len(bad):
        raise PathTableError(f"{p.name}: incremental must be a non-negative number; bad channels: {list(bad)}.")
    return IncrementalEstimate(table=table, unit=unit, source=p.name)
