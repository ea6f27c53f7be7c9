"""Publish an MMM run through :class:`galaxy_lib.core.reporting.ReportWriter`.

The gate decides what is published. When it passes (or warns), ``metrics.json``
carries per channel ``roi_mean``, ``roi_hdi_low``, ``roi_hdi_high``, ``mroi_mean``,
``contribution_share`` (and spend, share of media), the diagnostics and the
optimiser's recommended allocation, and the result tables and figures are written.
When it fails, the run is ``failed`` with the gate's reasons, the diagnostics and
gates are recorded, and the ROI, budget and forecast results are withheld.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from galaxy_lib.mmm.analysis import BudgetResult
from galaxy_lib.mmm.diagnostics import MMMDiagnostics
from galaxy_lib.mmm.model import MediaMixModel

__all__ = ["CHANNEL_METRICS", "channel_metrics", "world_true_roi", "publish"]

#: Per-channel fields of ``metrics.json["channels"][<channel>]``.
CHANNEL_METRICS: tuple[str, ...] = (
    "roi_mean", "roi_hdi_low", "roi_hdi_high", "mroi_mean", "mroi_hdi_low", "mroi_hdi_high",
    "contribution_share", "share_of_media", "spend",
)


def channel_metrics(summary: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``{channel: {roi_mean, roi_hdi_low, ...}}`` from :func:`galaxy_lib.mmm.analysis.channel_summary`."""
    return {str(ch): {k: float(row[k]) for k in CHANNEL_METRICS if k in row} for ch, row in summary.iterrows()}


def world_true_roi(data_dir: str | Path) -> dict[str, float] | None:
    """True ROI per channel from a Galaxy world's ``ground_truth.json`` (``None`` when there is none).

    Parameters
    ----------
    data_dir
        The world store root (relative paths resolve against the project root).
    """
    from galaxy_lib.core.config import resolve_path

    path = resolve_path(data_dir) / "ground_truth.json"
    if not path.is_file():
        return None
    truth = json.loads(path.read_text())
    channels = truth.get("mmm", {}).get("channels", {})
    return {ch: float(v["roi"]) for ch, v in channels.items() if "roi" in v} or None


def publish(report: Any, model: MediaMixModel, diagnostics: MMMDiagnostics, summary: pd.DataFrame | None = None,
            budget: BudgetResult | None = None, tables: dict[str, pd.DataFrame] | None = None,
            figures: dict[str, Any] | None = None, extra_metrics: dict[str, Any] | None = None,
            save_model: bool = True) -> Path:
    """Write the run: gates, metrics, tables, figures and the fitted model; return ``metrics.json``'s path.

    Parameters
    ----------
    report
        A ``ReportWriter``.
    model
        The fitted model (saved as ``mmm_model.nc`` in the run folder when ``save_model``).
    diagnostics
        The gate's result; a ``fail`` withholds ``summary``, ``budget``, ``tables`` and ``figures``
        except the diagnostics figures named ``ppc`` and ``data``.
    summary, budget
        Channel summary and budget result to publish.
    tables, figures
        Extra artefacts by name.
    extra_metrics
        More metrics (e.g. recovery against a known truth).
    save_model
        Save the fitted model with the run (also for a failed gate, so it can be inspected).
    """
    for gate in diagnostics.gates:
        report.gate(gate)
    data = model.data_
    report.metrics({
        "diagnostics": diagnostics.to_metrics(),
        "fit_seconds": model.fit_seconds_,
        "sampler": {"sampler": model.config.sampler, "chains": model.config.chains, "tune": model.config.tune,
                    "draws": model.config.draws},
        "model": {"adstock": model.config.adstock, "l_max": model.config.l_max, "saturation": model.config.saturation,
                  "trend": model.config.trend, "yearly_seasonality": model.config.yearly_seasonality,
                  "geos": list(data.geos), "controls": list(data.controls)},
        "data": {"source": data.source, "periods": data.n_periods, "first": str(data.dates[0].date()),
                 "last": str(data.dates[-1].date()), "channels": list(data.channels),
                 "target": data.target_name, "notes": list(data.notes)},
        "n_lift_tests": model.n_lift_tests_,
    })
    report.table("diagnostics_parameters", diagnostics.parameter_summary)
    if save_model:
        path = model.save(Path(report.output_dir) / "mmm_model.nc")
        report.metric("model_path", path.name)
    figures = dict(figures or {})
    if not diagnostics.passed:
        report.metric("results_withheld", True)
        for name in ("ppc", "data"):
            if name in figures:
                report.figure(name, figures[name])
        return report.write(status="failed", reason="MMM diagnostics gate failed; results withheld: "
                            + " | ".join(diagnostics.reasons))
    report.metric("results_withheld", False)
    if summary is not None:
        report.metric("channels", channel_metrics(summary))
        report.table("channel_summary", summary)
    if budget is not None:
        report.metric("budget", budget.to_metrics())
        report.table("budget_allocation", budget.allocation)
    for name, df in (tables or {}).items():
        report.table(name, df)
    for name, fig in figures.items():
        report.figure(name, fig)
    if extra_metrics:
        report.metrics(extra_metrics)
    return report.write()
