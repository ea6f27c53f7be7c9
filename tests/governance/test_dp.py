"""Differential privacy: budget accounting and the noise scale of OpenDP's mechanisms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from galaxy_lib.governance.dp import BudgetExceededError, DPError, PrivacyBudget


def test_budget_accounting_and_refusal():
    b = PrivacyBudget(1.0)
    b.laplace_count(100, 0.4, label="converters")
    b.laplace_count(50, 0.35)
    assert b.spent == pytest.approx(0.75) and b.remaining == pytest.approx(0.25)
    with pytest.raises(BudgetExceededError) as err:
        b.laplace_count(10, 0.3, label="buyers")
    msg = str(err.value)
    assert "epsilon=0.3" in msg and "0.25" in msg and "buyers" in msg
    assert len(b.ledger) == 2 and b.spent == pytest.approx(0.75)  # refused query is not charged
    b.laplace_count(10, 0.25)  # exactly the rest is allowed
    assert b.remaining == pytest.approx(0.0, abs=1e-12)
    assert b.spend_table()["label"].tolist() == ["converters", "laplace_count", "laplace_count"]


def test_delta_budget():
    b = PrivacyBudget(10.0, delta_total=1e-6)
    b.gaussian_sum([1.0] * 10, epsilon=1.0, delta=6e-7, bounds=(0, 1))
    with pytest.raises(BudgetExceededError, match="delta"):
        b.gaussian_sum([1.0] * 10, epsilon=1.0, delta=6e-7, bounds=(0, 1))
    assert b.delta_spent == pytest.approx(6e-7) and b.spent == pytest.approx(1.0)
    with pytest.raises(BudgetExceededError, match="delta"):
        PrivacyBudget(1.0).gaussian_sum([1.0], 0.5, 1e-6, (0, 1))  # no delta budget at all


def test_validation():
    with pytest.raises(DPError, match="epsilon_total"):
        PrivacyBudget(0)
    with pytest.raises(DPError, match="delta_total"):
        PrivacyBudget(1.0, delta_total=1.0)
    b = PrivacyBudget(1.0, 1e-5)
    with pytest.raises(DPError, match="epsilon"):
        b.laplace_count(5, -0.1)
    with pytest.raises(DPError, match="bounds"):
        b.laplace_sum([1.0], 0.1, (5, 1))
    with pytest.raises(DPError, match="missing value"):
        b.laplace_sum([1.0, float("nan")], 0.1, (0, 5))
    with pytest.raises(DPError, match="delta must be in"):
        b.gaussian_sum([1.0], 0.1, 0.0, (0, 5))
    assert b.spent == 0


def test_laplace_count_noise_scale():
    """Mean of many noisy counts ~ truth; std ~ sqrt(2) * sensitivity / epsilon."""
    eps, n = 0.5, 3000
    b = PrivacyBudget(eps * n)
    x = np.array([b.laplace_count(1000, eps) for _ in range(n)])
    expected_std = math.sqrt(2) / eps
    assert abs(x.mean() - 1000) < 4 * expected_std / math.sqrt(n)
    assert x.std() == pytest.approx(expected_std, rel=0.08)
    assert b.ledger[0].scale == pytest.approx(1 / eps)
    # Laplace: mean absolute deviation = scale (a shape check beyond the std)
    assert np.mean(np.abs(x - 1000)) == pytest.approx(1 / eps, rel=0.08)


def test_laplace_count_sensitivity_scales_noise():
    b = PrivacyBudget(1e6)
    x = np.array([b.laplace_count(0, 1.0, sensitivity=5) for _ in range(2000)])
    assert x.std() == pytest.approx(5 * math.sqrt(2), rel=0.1)


def test_laplace_sum_clamps_and_scales():
    values = np.r_[np.full(90, 5.0), np.full(10, 1e6)]  # outliers clamped to 10
    true_clamped = 90 * 5.0 + 10 * 10.0
    eps, n = 1.0, 1500
    b = PrivacyBudget(eps * n)
    x = np.array([b.laplace_sum(values, eps, bounds=(0, 10)) for _ in range(n)])
    scale = b.ledger[0].scale
    assert scale == pytest.approx(10 / eps, rel=1e-3)  # sensitivity max(|0|, |10|) = 10
    assert abs(x.mean() - true_clamped) < 4 * scale * math.sqrt(2) / math.sqrt(n)
    assert x.std() == pytest.approx(scale * math.sqrt(2), rel=0.1)


def _gaussian_delta(eps: float, sigma: float, sensitivity: float) -> float:
    """delta(eps) of the Gaussian mechanism, exact (analytic Gaussian, Balle & Wang 2018, Thm 8)."""
    a, b = sensitivity / (2 * sigma), eps * sigma / sensitivity
    return float(norm.cdf(a - b) - math.exp(eps) * norm.cdf(-a - b))


def test_gaussian_sum_calibration_and_noise():
    values = np.full(200, 2.0)
    eps, delta, n = 1.0, 1e-6, 1500
    b = PrivacyBudget(eps * n, delta_total=1.0 - 1e-9)
    x = np.array([b.gaussian_sum(values, eps, delta, bounds=(0, 4)) for _ in range(n)])
    sigma = b.ledger[0].scale
    # zCDP calibration is tighter than the classical sqrt(2 ln(1.25/delta)) * Δ / ε bound
    classical = math.sqrt(2 * math.log(1.25 / delta)) * 4 / eps
    assert 0.5 * classical < sigma < classical
    # independent reference: the exact privacy profile of the Gaussian mechanism (Balle & Wang 2018)
    assert _gaussian_delta(eps, sigma, 4.0) <= delta * (1 + 1e-6)  # OpenDP's sigma is private enough ...
    optimal = brentq(lambda s: _gaussian_delta(eps, s, 4.0) - delta, 1.0, 100.0)
    assert sigma == pytest.approx(optimal, rel=0.1)  # ... and not wastefully noisy
    assert abs(x.mean() - 400) < 4 * sigma / math.sqrt(n)
    assert x.std() == pytest.approx(sigma, rel=0.08)
