"""Acceptance: notebook 02_mmm runs unchanged on public datasets; only a parameters file points it there."""

from __future__ import annotations

import pytest
import yaml

from ..conftest import SHARED
from .conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not SHARED.is_dir(), reason="../shared datasets absent")]


@pytest.mark.parametrize("name", ["mmm_robyn", "mmm_meridian", "mmm_case_study"])
def test_notebook_runs_unchanged_on_shared_datasets(name: str, run_notebook) -> None:
    """The sampler is shortened for the test; a failed gate must withhold the results and say why."""
    params = yaml.safe_load((ROOT / "parameters" / "examples" / f"{name}.yaml").read_text())
    metrics = run_notebook({**params, "tune": 300, "draws": 300})
    gates = {g["gate"]: g["status"] for g in metrics["gates"]}
    assert set(gates) == {"mmm_max_rhat", "mmm_min_ess", "mmm_divergences", "mmm_ppc_coverage", "mmm_ppc_r2"}
    if metrics["status"] == "failed":  # a failed gate must withhold the results and say why
        assert metrics["metrics"]["results_withheld"] and "gate failed" in metrics["status_reason"]
        assert metrics["metrics"]["channels"] is None
    else:
        chans = [str(c) for c in params["channel_columns"]]
        assert set(metrics["metrics"]["channels"]) == set(chans)
