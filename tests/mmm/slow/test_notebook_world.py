"""Notebook 02_mmm end to end on the ci world with the scheduled CI parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from galaxy_lib.core.metrics import RunMetrics
from galaxy_lib.mmm import MediaMixModel
from galaxy_lib.schemas.mmm import MMMMetrics

from .conftest import ROOT

pytestmark = pytest.mark.slow


def test_notebook_on_the_world(world_dir: Path, run_notebook, tmp_path: Path) -> None:
    params = yaml.safe_load((ROOT / "parameters" / "ci" / "02_mmm.yaml").read_text())
    metrics = run_notebook({**params, "data_dir": str(world_dir)})
    assert metrics["status"] in ("passed", "warn"), metrics["status_reason"]
    RunMetrics[MMMMetrics].model_validate(metrics)
    m = metrics["metrics"]
    assert set(m["channels"]) == {"tv", "search", "social", "display", "video"}
    for fields in m["channels"].values():
        assert {"roi_mean", "roi_hdi_low", "roi_hdi_high", "mroi_mean", "contribution_share"} <= set(fields)
    assert {"max_rhat", "min_ess", "divergences", "gate_status"} <= set(m["diagnostics"])
    assert set(m["budget"]["recommended_allocation"]) == set(m["channels"])
    assert m["recovery"]["n_covered"] >= 4
    assert [t["name"] for t in metrics["tables"]] == [
        "diagnostics_parameters",
        "channel_summary",
        "budget_allocation",
        "decomposition",
        "response_curves",
        "prior_posterior",
        "forecast",
    ]
    assert [f["name"] for f in metrics["figures"]] == [
        "data",
        "ppc",
        "roi",
        "shares",
        "decomposition",
        "response_curves",
        "prior_posterior",
        "budget",
        "forecast",
    ]
    assert (tmp_path / "report" / "mmm_model.nc").is_file()
    assert MediaMixModel.load(tmp_path / "report" / "mmm_model.nc").data_.channels == tuple(m["channels"])
