"""Publish an MTA run: its gates, ``metrics.json``, tables and figures.

``metrics.json`` is typed by :class:`galaxy_lib.schemas.mta.MtaMetrics`.

* :func:`report_gates`: the run's two gates, ``mta_quarantined_conversions`` and
  (when the truth is known) ``mta_calibrated_vs_last_touch``;
* :func:`report_metrics`: the ``metrics`` payload;
* :func:`publish`: the one call at the end of ``notebooks/03_mta``, which writes
  the run folder through :class:`~galaxy_lib.core.reporting.ReportWriter`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from galaxy_lib.core.gates import Gate, measure
from galaxy_lib.core.reporting import ReportWriter, figures_in_order
from galaxy_lib.mta.analysis import CalibrationResult, PublishedPaths, credit_long
from galaxy_lib.mta.data import MtaInputs
from galaxy_lib.mta.models import AttributionResult
from galaxy_lib.schemas.mta import CalibrationMetrics, ChannelCredit, MtaInputsMetrics, MtaMetrics

__all__ = ["FIGURES", "NOTEBOOK", "publish", "report_gates", "report_metrics"]

#: The notebook this module publishes for.
NOTEBOOK = "03_mta"
#: Figures a run publishes, by file name (``<name>.html`` and ``<name>.json``), in this order.
FIGURES: tuple[str, ...] = ("credit_by_model", "journeys_sankey", "attributed_vs_incremental", "credit_vs_truth")


def report_gates(
    summary: Mapping[str, Any],
    comparison: pd.DataFrame | None,
    calibration: CalibrationResult | None,
    quarantine_warn: float = 0.25,
    quarantine_fail: float = 0.5,
) -> list[Gate]:
    """Quality gates of an MTA run.

    * ``mta_quarantined_conversions``: share of conversions that could not be attached to
      a journey (warn / fail above the thresholds);
    * ``mta_calibrated_vs_last_touch`` (when the truth is known): the calibrated credit must
      be strictly closer to the true channel credit than last touch (total variation
      distance); a tie does not beat last touch. It can only warn.

    Parameters
    ----------
    summary
        :meth:`galaxy_lib.mta.data.MtaInputs.summary` (``conversions``, ``quarantined_conversions``).
    comparison
        :func:`galaxy_lib.mta.analysis.compare_to_truth` of the shares with the calibrated
        column, or ``None`` when the truth is unknown.
    calibration
        The calibration, or ``None`` when there were no incremental estimates.
    quarantine_warn, quarantine_fail
        Thresholds on the quarantined share of conversions.

    Returns
    -------
    list of Gate
    """
    conv = float(summary.get("conversions", 0.0) or 0.0)
    quarantined = float(summary.get("quarantined_conversions", 0) or 0)
    share = quarantined / (conv + quarantined) if conv + quarantined > 0 else 0.0
    gates = [
        measure(
            "mta_quarantined_conversions",
            share,
            quarantine_warn,
            quarantine_fail,
            f"{quarantined:.0f} of {conv + quarantined:.0f} conversions had no touch in the lookback window "
            f"or came before the first touch ({share:.1%}).",
            table="conversions",
        )
    ]
    if comparison is not None and calibration is not None:
        cal_name = f"{calibration.model}_calibrated"
        if cal_name in comparison.index and "last_touch" in comparison.index:
            cal_tv = float(comparison.loc[cal_name, "total_variation"])
            last_tv = float(comparison.loc["last_touch", "total_variation"])
            gate = measure(
                "mta_calibrated_vs_last_touch",
                cal_tv,
                last_tv,
                None,
                f"Calibrated {calibration.model} puts {cal_tv:.1%} of credit on the wrong channels vs "
                f"{last_tv:.1%} for last touch (total variation distance to the true credit).",
                table="credit",
                column=cal_name,
            )
            if not cal_tv < last_tv:  # strict: a tie does not beat last touch, and the gate only warns
                gate = replace(gate, status="warn")
            gates.append(gate)
    return gates


def report_metrics(
    results: Mapping[str, AttributionResult],
    summary: Mapping[str, Any],
    calibration: CalibrationResult | None = None,
    truth_comparison: pd.DataFrame | None = None,
) -> MtaMetrics:
    """Build the ``metrics`` payload of ``metrics.json``.

    Parameters
    ----------
    results
        Model name -> result (:func:`galaxy_lib.mta.models.fit_all_models`).
    summary
        :meth:`galaxy_lib.mta.data.MtaInputs.summary`, published as ``inputs``.
    calibration
        The calibration; its credit is published as ``<model>_calibrated``.
    truth_comparison
        :func:`galaxy_lib.mta.analysis.compare_to_truth`; its ``total_variation`` per model.

    Returns
    -------
    MtaMetrics
        Credit per channel for every model (conversions, revenue and share), the
        calibration, and the distance to the truth when known.
    """
    all_results = dict(results)
    if calibration is not None:
        cal = calibration.as_result()
        all_results[cal.model] = cal
    credit = {
        name: {
            str(ch): ChannelCredit(
                conversions=float(row["conversions"]),
                revenue=float(row["revenue"]),
                share=float(row["conversion_share"]),
            )
            for ch, row in r.credit.iterrows()
        }
        for name, r in all_results.items()
    }
    calibration_metrics = None
    if calibration is not None:
        calibration_metrics = CalibrationMetrics(
            model=calibration.model,
            mode=calibration.mode,
            source=calibration.source,
            factors={str(c): (None if pd.isna(f) else float(f)) for c, f in calibration.table["factor"].items()},
            ignored_channels=list(calibration.ignored_channels),
        )
    truth = None
    if truth_comparison is not None:
        truth = {str(m): float(v) for m, v in truth_comparison["total_variation"].items()}
    return MtaMetrics(
        credit=credit,
        models=list(all_results),
        calibration=calibration_metrics,
        truth_total_variation=truth,
        inputs=MtaInputsMetrics.model_validate(dict(summary)),
    )


def publish(
    output_dir: str | Path,
    inputs: MtaInputs,
    results: Mapping[str, AttributionResult],
    published: PublishedPaths,
    calibration: CalibrationResult | None = None,
    comparison: pd.DataFrame | None = None,
    figures: Mapping[str, Any] | None = None,
) -> Path:
    """Write the MTA run: gates, ``metrics.json``, tables and figures; return ``metrics.json``'s path.

    Tables: ``credit`` (every model, long), ``paths_published`` (k-suppressed),
    ``quarantine_rules`` (rejected rows per rule) and, when available, ``calibration``
    and ``truth_comparison``. The run's status is its worst gate (:func:`report_gates`).

    Parameters
    ----------
    output_dir
        Run folder (the notebook's ``params.output_dir``; empty means ``reports/adhoc/03_mta``).
    inputs
        :func:`galaxy_lib.mta.data.load_inputs`.
    results
        :func:`galaxy_lib.mta.models.fit_all_models`.
    published
        :func:`galaxy_lib.mta.analysis.publishable_paths`: the only path table that is published.
    calibration, comparison
        :func:`galaxy_lib.mta.analysis.calibrate_if_available` and
        :func:`galaxy_lib.mta.analysis.compare_if_known` (``None`` when unavailable).
    figures
        Plotly figures by name, among :data:`FIGURES` (``None`` entries are skipped).

    Returns
    -------
    Path
        The run's ``metrics.json``.

    Raises
    ------
    ValueError
        When a figure's name is not one of :data:`FIGURES`.
    """
    figures = figures_in_order(figures, FIGURES, "an MTA run")
    summary = inputs.summary()
    writer = ReportWriter(output_dir, notebook=NOTEBOOK)
    return writer.publish(
        report_metrics(results, summary, calibration, comparison),
        gates=report_gates(summary, comparison, calibration),
        tables={
            "credit": credit_long(results),
            "paths_published": published.table,
            "quarantine_rules": inputs.quarantine().groupby("_rule").size().rename("rows"),
            "calibration": calibration.table if calibration is not None else None,
            "truth_comparison": comparison,
        },
        figures=figures,
    )
