"""Publish an MMM run: its gates, the typed ``metrics.json``, tables, figures and the fitted model.

The diagnostics gate decides what is published. When it passes (or warns),
``metrics.json`` (:class:`galaxy_lib.schemas.mmm.MMMMetrics`) carries per channel
``roi_mean``, ``roi_hdi_low``, ``roi_hdi_high``, ``mroi_*``, ``contribution_share``,
``share_of_media`` and ``spend``, the diagnostics, the optimiser's recommended
allocation and (on a Galaxy world) the recovery of the true ROI, and the result
tables and figures are written. When it fails, the run is ``failed`` with the
gate's reasons; the diagnostics, the gates, the diagnostics table and the ``data``
and ``ppc`` figures are recorded, and the ROI, budget and recovery results are
withheld (``None`` in the payload, ``results_withheld`` true).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from galaxy_lib.core.reporting import ReportWriter
from galaxy_lib.mmm.analysis.budget import BudgetResult
from galaxy_lib.mmm.diagnostics import MMMDiagnostics
from galaxy_lib.mmm.model import MediaMixModel
from galaxy_lib.schemas.mmm import MMMMetrics

__all__ = ["CHANNEL_METRICS", "MODEL_FILE", "NOTEBOOK", "WITHHELD_FIGURES_KEPT", "channel_metrics", "publish"]

#: The notebook whose runs this module publishes.
NOTEBOOK: str = "02_mmm"
#: File name of the fitted model in the run folder.
MODEL_FILE: str = "mmm_model.nc"
#: Figures still published when the gate fails (they show why).
WITHHELD_FIGURES_KEPT: tuple[str, ...] = ("ppc", "data")
#: Per-channel fields of ``metrics.json["metrics"]["channels"][<channel>]``.
CHANNEL_METRICS: tuple[str, ...] = (
    "roi_mean",
    "roi_hdi_low",
    "roi_hdi_high",
    "mroi_mean",
    "mroi_hdi_low",
    "mroi_hdi_high",
    "contribution_share",
    "share_of_media",
    "spend",
)


def channel_metrics(summary: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``{channel: {roi_mean, roi_hdi_low, ...}}`` from :func:`galaxy_lib.mmm.analysis.channel_summary`.

    Parameters
    ----------
    summary
        The channel summary (index ``channel``); marginal-ROI columns are included when present.
    """
    return {str(ch): {k: float(row[k]) for k in CHANNEL_METRICS if k in row} for ch, row in summary.iterrows()}


def _payload(
    model: MediaMixModel,
    diagnostics: MMMDiagnostics,
    summary: pd.DataFrame | None,
    budget: BudgetResult | None,
    recovery: Mapping[str, Any] | None,
    model_path: str | None,
) -> MMMMetrics:
    """Build the typed ``metrics.json`` payload; results are ``None`` when the gate failed."""
    config, data = model.config, model.data_
    withheld = not diagnostics.passed
    return MMMMetrics(
        diagnostics=diagnostics.to_metrics(),
        fit_seconds=model.fit_seconds_,
        sampler={"sampler": config.sampler, "chains": config.chains, "tune": config.tune, "draws": config.draws},
        model={
            "adstock": config.adstock,
            "l_max": config.l_max,
            "saturation": config.saturation,
            "trend": config.trend,
            "yearly_seasonality": config.yearly_seasonality,
            "geos": list(data.geos),
            "controls": list(data.controls),
        },
        data={
            "source": data.source,
            "periods": data.n_periods,
            "first": str(data.dates[0].date()),
            "last": str(data.dates[-1].date()),
            "channels": list(data.channels),
            "target": data.target_name,
            "notes": list(data.notes),
        },
        n_lift_tests=model.n_lift_tests_,
        model_path=model_path,
        results_withheld=withheld,
        channels=None if withheld or summary is None else channel_metrics(summary),
        budget=None if withheld or budget is None else budget.to_metrics(),
        recovery=None if withheld or not recovery else dict(recovery),
    )


def publish(
    output_dir: str | Path,
    model: MediaMixModel,
    diagnostics: MMMDiagnostics,
    summary: pd.DataFrame | None = None,
    budget: BudgetResult | None = None,
    tables: Mapping[str, pd.DataFrame | None] | None = None,
    figures: Mapping[str, Any] | None = None,
    recovery: Mapping[str, Any] | None = None,
    save_model: bool = True,
) -> Path:
    """Write the run folder of notebook ``02_mmm``; return the path of its ``metrics.json``.

    Parameters
    ----------
    output_dir
        The run folder (empty: ``reports/adhoc/02_mmm``; relative paths from the project root).
    model
        The fitted model, saved as ``mmm_model.nc`` in the run folder when ``save_model``.
    diagnostics
        The gate's result (:func:`galaxy_lib.mmm.diagnose`). A ``fail`` marks the run failed
        and withholds ``summary``, ``budget``, ``recovery``, ``tables`` and every figure but
        ``ppc`` and ``data``.
    summary, budget
        Channel summary (:func:`~galaxy_lib.mmm.channel_summary`) and budget result
        (:func:`~galaxy_lib.mmm.optimise_budget`); written as ``channel_summary.csv`` and
        ``budget_allocation.csv`` and into ``metrics.json``.
    tables, figures
        More result tables (``<name>.csv``) and plotly figures (``<name>.html``) by name.
    recovery
        ROI recovered against a known truth (:func:`~galaxy_lib.mmm.recovery_against_truth`).
    save_model
        Save the fitted model with the run (also when the gate fails, so it can be inspected).

    Returns
    -------
    Path
        ``metrics.json`` of the run.
    """
    writer = ReportWriter(output_dir, notebook=NOTEBOOK)
    model_path = model.save(writer.output_dir / MODEL_FILE).name if save_model else None
    payload = _payload(model, diagnostics, summary, budget, recovery, model_path)
    figures = dict(figures or {})
    result_tables: dict[str, pd.DataFrame | None] = {"diagnostics_parameters": diagnostics.parameter_summary}
    if not diagnostics.passed:
        return writer.publish(
            payload,
            gates=diagnostics.gates,
            tables=result_tables,
            figures={name: figures[name] for name in WITHHELD_FIGURES_KEPT if name in figures},
            status="failed",
            reason="MMM diagnostics gate failed; results withheld: " + " | ".join(diagnostics.reasons),
        )
    result_tables["channel_summary"] = summary
    result_tables["budget_allocation"] = None if budget is None else budget.allocation
    result_tables.update(tables or {})
    return writer.publish(payload, gates=diagnostics.gates, tables=result_tables, figures=figures)
