"""Long MMM tests: larger worlds, per-geo and alternative model structures, the notebook end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from galaxy_lib.mmm import (
    MediaMixModel,
    MMMConfig,
    MMMDataConfig,
    channel_summary,
    diagnose,
    load_mmm_data,
    optimise_budget,
    recovery_against_truth,
)

from galaxy_lib.mmm.report import world_true_roi

from .conftest import CI_SAMPLER, SHARED

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def long_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five years of weekly data, another seed."""
    from galaxy_lib.pipeline.staging import stage_world
    from galaxy_lib.core.store import DataStore
    from galaxy_lib.governance.pii import get_salt
    from galaxy_lib.simulate import build_world
    from galaxy_lib.simulate.config import WorldConfig

    root = tmp_path_factory.mktemp("mmm_long_world")
    build_world(root, config=WorldConfig.for_size("ci", seed=7, n_weeks=260), progress=False)
    stage_world(DataStore(root), get_salt(demo=True), progress=False)
    return root


def test_recovery_on_a_longer_world_with_more_draws(long_world: Path) -> None:
    data = load_mmm_data(MMMDataConfig(), data_dir=long_world)
    assert data.n_periods == 260
    model = MediaMixModel(MMMConfig(chains=2, tune=1000, draws=1000, random_seed=11)).fit(data)
    diag = diagnose(model)
    assert diag.passed and diag.max_rhat <= 1.01 and diag.min_ess > 400, diag.reasons
    rec = recovery_against_truth(channel_summary(model, marginal=False), world_true_roi(long_world))
    assert rec["n_covered"] >= 4 and rec["roi_mape"] < 0.15, rec


def test_per_geo_model(world_dir: Path) -> None:
    """One model over the four geos (per-geo parameters) recovers the national ROI and optimises per geo."""
    data = load_mmm_data(MMMDataConfig(geo_column="geo"), data_dir=world_dir)
    model = MediaMixModel(MMMConfig(**CI_SAMPLER, random_seed=5)).fit(data)
    assert model.n_lift_tests_ == len(data.lift_tests)
    assert diagnose(model).passed
    rec = recovery_against_truth(channel_summary(model, marginal=False), world_true_roi(world_dir))
    assert rec["n_covered"] >= 4 and rec["roi_mape"] < 0.25, rec
    budget = optimise_budget(model)
    assert budget.success and budget.allocation["optimal_total"].sum() == pytest.approx(budget.total_budget, rel=1e-4)


@pytest.mark.parametrize(
    "options",
    [{"saturation": "hill"}, {"adstock": "weibull_cdf", "trend": "piecewise"},
     {"time_varying_intercept": True, "trend": "none"}, {"sampler": "pymc"}],
    ids=["hill", "weibull-cdf-piecewise", "time-varying-intercept", "pymc-sampler"],
)
def test_model_options(world_data, world_dir, options: dict, tmp_path: Path) -> None:
    """Every structural option fits, gives finite ROI near the truth and survives save/load."""
    model = MediaMixModel(MMMConfig(**{**CI_SAMPLER, "tune": 200, "draws": 200, **options}, random_seed=9)).fit(world_data)
    summary = channel_summary(model, marginal=False)
    rec = recovery_against_truth(summary, world_true_roi(world_dir))
    assert rec["roi_mape"] < 0.35, rec
    loaded = MediaMixModel.load(model.save(tmp_path / "m.nc"))
    pd.testing.assert_frame_equal(channel_summary(loaded, marginal=False), summary)


def _run_notebook(tmp_path: Path, params: dict) -> dict:
    import papermill as pm

    out = tmp_path / "report"
    pm.execute_notebook(str(ROOT / "notebooks" / "02_mmm.ipynb"), str(tmp_path / "out.ipynb"),
                        parameters={**params, "output_dir": str(out)}, cwd=str(ROOT), progress_bar=False)
    return json.loads((out / "metrics.json").read_text())


def test_notebook_on_the_world(world_dir: Path, tmp_path: Path) -> None:
    params = yaml.safe_load((ROOT / "parameters" / "ci" / "02_mmm.yaml").read_text())
    metrics = _run_notebook(tmp_path, {**params, "data_dir": str(world_dir)})
    assert metrics["status"] in ("passed", "warn"), metrics["status_reason"]
    m = metrics["metrics"]
    assert set(m["channels"]) == {"tv", "search", "social", "display", "video"}
    for fields in m["channels"].values():
        assert {"roi_mean", "roi_hdi_low", "roi_hdi_high", "mroi_mean", "contribution_share"} <= set(fields)
    assert {"max_rhat", "min_ess", "divergences", "gate_status"} <= set(m["diagnostics"])
    assert set(m["budget"]["recommended_allocation"]) == set(m["channels"])
    assert m["recovery"]["n_covered"] >= 4
    assert (tmp_path / "report" / "mmm_model.nc").is_file()
    assert MediaMixModel.load(tmp_path / "report" / "mmm_model.nc").data_.channels == tuple(m["channels"])


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared datasets absent")
@pytest.mark.parametrize("name", ["mmm_robyn", "mmm_meridian", "mmm_case_study"])
def test_notebook_runs_unchanged_on_shared_datasets(name: str, tmp_path: Path) -> None:
    """Acceptance: only a parameters file (sampler shortened for the test) points the notebook at another dataset."""
    params = yaml.safe_load((ROOT / "parameters" / "examples" / f"{name}.yaml").read_text())
    metrics = _run_notebook(tmp_path, {**params, "tune": 300, "draws": 300})
    gates = {g["gate"]: g["status"] for g in metrics["gates"]}
    assert set(gates) == {"mmm_max_rhat", "mmm_min_ess", "mmm_divergences", "mmm_ppc_coverage", "mmm_ppc_r2"}
    if metrics["status"] == "failed":  # a failed gate must withhold the results and say why
        assert metrics["metrics"]["results_withheld"] and "gate failed" in metrics["status_reason"]
        assert "channels" not in metrics["metrics"]
    else:
        chans = [str(c) for c in params["channel_columns"]]
        assert set(metrics["metrics"]["channels"]) == set(chans)
