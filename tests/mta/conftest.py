"""Shared MTA test data: a small path table, and a ``02_mmm`` run folder written through the MMM's schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from galaxy_lib.core.audit import AuditLog
from galaxy_lib.core.jsonio import write_json_atomic
from galaxy_lib.core.registry import RunManifest, run_record
from galaxy_lib.core.reporting import ReportWriter
from galaxy_lib.mta import parse_path_table
from galaxy_lib.schemas.mmm import (
    ChannelMetrics,
    DataMetrics,
    DiagnosticsMetrics,
    MMMMetrics,
    ModelMetrics,
    SamplerMetrics,
)

#: Six paths over six channels: enough for every model, small enough to check by hand.
SMALL_PATHS = parse_path_table(
    pd.DataFrame(
        {
            "path": [
                "video > search",
                "social > search",
                "search",
                "email > direct",
                "video > social > direct",
                "display",
            ],
            "total_conversions": [10, 6, 8, 3, 2, 1],
            "total_conversion_value": [100.0, 60.0, 80.0, 30.0, 20.0, 10.0],
            "total_null": [40, 30, 60, 10, 2, 1],
        }
    )
)


#: The status reason of a failed MMM run in :func:`write_mmm_run`.
GATE_FAILED = "MMM diagnostics gate failed; results withheld: max R-hat 1.2"


def record_run(reports: Path, run_dir: Path, status: str, reason: str = "", audit: bool = True) -> None:
    """Record ``run_dir`` as the runner does: its ``manifest.json`` and, with ``audit``, ``run.finished`` in the log."""
    manifest = RunManifest(
        run_id=run_dir.name,
        job=run_dir.parent.name,
        notebook="02_mmm.ipynb",
        parameters={},
        parameters_hash="0" * 64,
        code_version={},
        input_fingerprints={},
        outputs=("metrics.json",),
        started_at="2026-11-01T00:00:00+00:00",
        finished_at="2026-11-01T00:01:00+00:00",
        duration_s=60.0,
        status=status,
        status_reason=reason,
    )
    write_json_atomic(run_dir / "manifest.json", manifest.to_dict())
    if audit:
        AuditLog(reports / "audit.jsonl").append("run.finished", run_record(manifest, run_dir))


def write_mmm_run(
    reports: Path,
    run_id: str,
    roi: dict[str, float],
    spend: dict[str, float],
    passed: bool = True,
    recorded: bool = True,
    job: str = "mmm",
) -> Path:
    """Write ``reports/<job>/<run_id>/metrics.json`` as an MMM run does: ROI 0.8-1.2 x ``roi`` as its 94% HDI.

    A failed run withholds its channels (``results_withheld``), as the MMM's diagnostics gate does.
    With ``recorded`` the run is recorded as the runner does (:func:`record_run`), with the
    notebook's status.
    """
    channels = {
        ch: ChannelMetrics(
            roi_mean=r,
            roi_hdi_low=0.8 * r,
            roi_hdi_high=1.2 * r,
            contribution_share=1 / len(roi),
            share_of_media=1 / len(roi),
            spend=spend[ch],
        )
        for ch, r in roi.items()
    }
    payload = MMMMetrics(
        diagnostics=DiagnosticsMetrics(
            max_rhat=1.0 if passed else 1.2,
            min_ess=900.0,
            divergences=0,
            divergence_rate=0.0,
            ppc_coverage_94=0.95,
            ppc_r2=0.9,
            ppc_mape=0.05,
            gate_status="pass" if passed else "fail",
            gate_reasons=[] if passed else ["max R-hat 1.2"],
        ),
        fit_seconds=1.0,
        sampler=SamplerMetrics(sampler="numpyro", chains=2, tune=100, draws=100),
        model=ModelMetrics(
            adstock="geometric",
            l_max=8,
            saturation="logistic",
            trend="linear",
            yearly_seasonality=2,
            geos=[],
            controls=[],
        ),
        data=DataMetrics(
            source="test",
            periods=52,
            first="2025-01-06",
            last="2025-12-29",
            channels=sorted(roi),
            target="revenue",
            notes=[],
        ),
        n_lift_tests=0,
        results_withheld=not passed,
        channels=channels if passed else None,
    )
    writer = ReportWriter(reports / job / run_id, notebook="02_mmm")
    if passed:
        writer.write(payload)
    else:
        writer.write(payload, status="failed", reason=GATE_FAILED)
    if recorded:
        record_run(reports, writer.output_dir, "passed" if passed else "failed", "" if passed else GATE_FAILED)
    return writer.output_dir


@pytest.fixture()
def mmm_run() -> Callable[..., Path]:
    """:func:`write_mmm_run`."""
    return write_mmm_run
