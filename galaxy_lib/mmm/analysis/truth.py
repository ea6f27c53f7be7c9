"""Recovery against a known truth: how close the estimated ROI came to a Galaxy world's true ROI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from galaxy_lib.core.config import resolve_path

__all__ = ["recovery_against_truth", "world_true_roi"]


def world_true_roi(data_dir: str | Path) -> dict[str, float] | None:
    """Read the true ROI per channel from a Galaxy world's ``ground_truth.json`` (``None`` when there is none).

    Parameters
    ----------
    data_dir
        The world store root (relative paths resolve against the project root).
    """
    path = resolve_path(data_dir) / "ground_truth.json"
    if not path.is_file():
        return None
    truth = json.loads(path.read_text())
    channels = truth.get("mmm", {}).get("channels", {})
    return {ch: float(v["roi"]) for ch, v in channels.items() if "roi" in v} or None


def recovery_against_truth(summary: pd.DataFrame, true_roi: dict[str, float]) -> dict[str, Any]:
    """Compare estimated ROI with known true ROI (the Galaxy world's ground truth).

    Parameters
    ----------
    summary
        Output of :func:`channel_summary`.
    true_roi
        Channel -> true ROI.

    Returns
    -------
    dict
        ``covered`` (channels whose 94% HDI holds the truth), ``n_covered``,
        ``n_channels``, ``roi_mape``, and per channel ``true_roi`` / ``ape``.
    """
    missing = [c for c in summary.index if c not in true_roi]
    if missing:
        raise KeyError(f"no true ROI for channel(s) {missing}")
    per = {}
    for ch, row in summary.iterrows():
        t = float(true_roi[ch])
        per[ch] = {
            "true_roi": t,
            "roi_mean": float(row["roi_mean"]),
            "covered": bool(row["roi_hdi_low"] <= t <= row["roi_hdi_high"]),
            "ape": abs(float(row["roi_mean"]) - t) / abs(t),
        }
    return {
        "n_channels": len(per),
        "n_covered": sum(v["covered"] for v in per.values()),
        "covered": [c for c, v in per.items() if v["covered"]],
        "roi_mape": float(np.mean([v["ape"] for v in per.values()])),
        "channels": per,
    }
