"""The interval every MMM table reports: the 94% highest-density interval over posterior draws."""

from __future__ import annotations

import numpy as np

__all__ = ["HDI_PROB", "hdi"]

#: Probability mass of the highest-density intervals in every MMM table and gate.
HDI_PROB: float = 0.94


def hdi(samples: np.ndarray, prob: float = HDI_PROB) -> tuple[float, float]:
    """Highest-density interval of draws (flattened), as ``(low, high)``.

    Parameters
    ----------
    samples
        Posterior draws of one quantity, any shape.
    prob
        Probability mass inside the interval.
    """
    import arviz as az

    lo, hi = az.hdi(np.asarray(samples, dtype=float).ravel(), hdi_prob=prob)
    return float(lo), float(hi)
