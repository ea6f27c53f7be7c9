"""Shared MTA test data: a small path table, and a ``02_mmm`` run folder written through the MMM's schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

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


def write_mmm_run(
    reports: Path, run_id: str, roi: dict[str, float], spend: dict[str, float], passed: bool = True
) -> Path:
    """Write ``reports/mmm/<run_id>/metrics.json`` as an MMM run does: ROI 0.8-1.2 x ``roi`` as its 94% HDI.

    A failed run withholds its channels (``results_withheld``), as the MMM's diagnostics gate does.
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
    writer = ReportWriter(reports / "mmm" / run_id, notebook="02_mmm")
    if passed:
        writer.write(payload)
    else:
        writer.write(payload, status="failed", reason="MMM diagnostics gate failed; results withheld: max R-hat 1.2")
    return writer.output_dir


@pytest.fixture()
def mmm_run() -> Callable[..., Path]:
    """:func:`write_mmm_run`."""
    return write_mmm_run
