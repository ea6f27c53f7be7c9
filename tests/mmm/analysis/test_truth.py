"""Recovery against a known truth: the arithmetic, and reading a Galaxy world's true ROI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from galaxy_lib.mmm import recovery_against_truth, world_true_roi
from galaxy_lib.schemas.mmm import RecoveryMetrics


def test_recovery_arithmetic() -> None:
    summary = pd.DataFrame(
        {"roi_mean": [1.1, 2.5], "roi_hdi_low": [0.9, 1.0], "roi_hdi_high": [1.3, 2.9]},
        index=pd.Index(["tv", "search"], name="channel"),
    )
    rec = recovery_against_truth(summary, {"tv": 1.0, "search": 3.0, "radio": 9.0})
    assert rec["n_channels"] == 2 and rec["n_covered"] == 1 and rec["covered"] == ["tv"]
    assert rec["channels"]["tv"] == {"true_roi": 1.0, "roi_mean": 1.1, "covered": True, "ape": pytest.approx(0.1)}
    assert rec["channels"]["search"]["covered"] is False
    assert rec["roi_mape"] == pytest.approx((0.1 + 0.5 / 3.0) / 2)
    RecoveryMetrics.model_validate(rec)  # what metrics.json carries
    with pytest.raises(KeyError, match="search"):
        recovery_against_truth(summary, {"tv": 1.0})


def test_world_true_roi(world_dir: Path, world_truth: dict, tmp_path: Path) -> None:
    roi = world_true_roi(world_dir)
    assert roi == {ch: pytest.approx(t["roi"]) for ch, t in world_truth["mmm"]["channels"].items()}
    assert world_true_roi(tmp_path) is None  # not a Galaxy world: no truth
