"""Helpers of the long MMM tests (each file is one unit of work for ``pytest -n 2 --dist loadfile``).

The long tests are split by what they fit, so the two workers share them instead
of one worker running them all at the end of the suite.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from galaxy_lib.mmm import MediaMixModel, MMMConfig, MMMData, channel_summary, recovery_against_truth, world_true_roi

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def run_notebook(tmp_path: Path) -> Callable[[dict], dict]:
    """Run ``notebooks/02_mmm.ipynb`` with papermill and these parameters; return its ``metrics.json``."""

    def run(params: dict) -> dict:
        import papermill as pm

        out = tmp_path / "report"
        pm.execute_notebook(
            str(ROOT / "notebooks" / "02_mmm.ipynb"),
            str(tmp_path / "out.ipynb"),
            parameters={**params, "output_dir": str(out)},
            cwd=str(ROOT),
            progress_bar=False,
        )
        return json.loads((out / "metrics.json").read_text())

    return run


def check_model_option(data: MMMData, world_dir: Path, config: MMMConfig, tmp_path: Path) -> None:
    """Fit one structural option: finite ROI near the truth (MAPE < 0.35), and the same summary after save/load."""
    model = MediaMixModel(config).fit(data)
    summary = channel_summary(model, marginal=False)
    rec = recovery_against_truth(summary, world_true_roi(world_dir))
    assert rec["roi_mape"] < 0.35, rec
    loaded = MediaMixModel.load(model.save(tmp_path / "m.nc"))
    pd.testing.assert_frame_equal(channel_summary(loaded, marginal=False), summary)
