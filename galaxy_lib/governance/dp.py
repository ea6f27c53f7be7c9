"""Differential privacy for published aggregates, with an epsilon budget per report.

A report that leaves the team gets one :class:`PrivacyBudget`. Each noisy
statistic spends part of it; once the budget is gone, further queries raise
:class:`BudgetExceededError` instead of quietly weakening the guarantee.

The noise comes from OpenDP (``opendp.prelude``), whose mechanisms are
proven and floating-point safe:

* counts: ``make_laplace`` on a float count with absolute distance;
* sums: ``vector_domain >> then_clamp(bounds) >> then_sum() >> then_laplace``
  (or ``then_gaussian``), with the neighbouring relation "add or remove one
  person's record" (``symmetric_distance``). OpenDP accounts for the
  floating-point error of the sum, so the noise scale is found with
  ``dp.binary_search_param`` rather than the textbook ``bound / epsilon``;
* Gaussian (epsilon, delta): OpenDP's Gaussian is zero-concentrated DP; it is
  converted with ``make_zCDP_to_approxDP`` and ``make_fix_delta``.

Budget accounting across queries is basic sequential composition (epsilons add,
deltas add), written here rather than with OpenDP's compositors because the
queries of one report run on different inputs (counts, several columns) and
basic composition is the conservative, auditable rule a report can state.

OpenDP draws from the operating system's cryptographic RNG and cannot be
seeded (a seedable noise source would weaken the guarantee); tests check the
noise statistically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "BudgetExceededError",
    "DPError",
    "PrivacyBudget",
    "PrivacySpend",
]

_TOL = 1e-9


class DPError(ValueError):
    """Bad input to a differential-privacy query; the message names the parameter."""


class BudgetExceededError(RuntimeError):
    """A query asked for more epsilon (or delta) than the report's budget has left."""


@dataclass(frozen=True)
class PrivacySpend:
    """One entry of the budget ledger.

    Attributes
    ----------
    label
        What was released (caller's label, or the mechanism name).
    mechanism
        ``"laplace_count"``, ``"laplace_sum"`` or ``"gaussian_sum"``.
    epsilon, delta
        Privacy loss charged.
    scale
        Noise scale used (Laplace ``b``, std = ``b * sqrt(2)``; Gaussian std).
    sensitivity
        Largest change one person can make to the true value.
    """

    label: str
    mechanism: str
    epsilon: float
    delta: float
    scale: float
    sensitivity: float

    def to_dict(self) -> dict[str, float | str]:
        """Return the entry as a JSON-ready dict for the report's privacy ledger."""
        return {
            "label": self.label,
            "mechanism": self.mechanism,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "scale": self.scale,
            "sensitivity": self.sensitivity,
        }


@lru_cache(maxsize=1)
def _dp():
    """Import OpenDP once, with its ``contrib`` features (mechanisms whose proofs are still under review)."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


@lru_cache(maxsize=256)
def _sum_scale(mechanism: str, lo: float, hi: float, epsilon: float, delta: float) -> float:
    """Smallest noise scale meeting (epsilon, delta) for a clamped sum, found by OpenDP's binary search.

    Pure function of its arguments, cached: a report that releases many sums with
    the same bounds and epsilon searches once.
    """
    dp = _dp()
    pre = _sum_transformation(dp, (lo, hi))
    if mechanism == "laplace":
        return float(dp.binary_search_param(lambda s: pre >> dp.m.then_laplace(s), d_in=1, d_out=epsilon))
    return float(dp.binary_search_param(lambda s: _gaussian_approx(dp, pre, s, delta), d_in=1, d_out=(epsilon, delta)))


@lru_cache(maxsize=256)
def _sum_measurement(mechanism: str, lo: float, hi: float, epsilon: float, delta: float):
    """(scale, OpenDP measurement) for a noisy clamped sum; cached because building it is the slow part."""
    dp = _dp()
    scale = _sum_scale(mechanism, lo, hi, epsilon, delta)
    pre = _sum_transformation(dp, (lo, hi))
    meas = pre >> dp.m.then_laplace(scale) if mechanism == "laplace" else _gaussian_approx(dp, pre, scale, delta)
    return scale, meas


@lru_cache(maxsize=256)
def _count_measurement(sensitivity: float, epsilon: float):
    """(scale, OpenDP Laplace measurement) for a count with the given sensitivity; cached."""
    dp = _dp()
    space = dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float)
    scale = sensitivity / epsilon
    meas = dp.m.make_laplace(*space, scale=scale)
    if meas.map(sensitivity) > epsilon + _TOL:  # OpenDP rounds conservatively; recalibrate if it had to
        scale = float(
            dp.binary_search_param(lambda s: dp.m.make_laplace(*space, scale=s), d_in=sensitivity, d_out=epsilon)
        )
        meas = dp.m.make_laplace(*space, scale=scale)
    return scale, meas


def _sum_transformation(dp, bounds: tuple[float, float]):
    """Vector of per-person floats -> clamp to ``bounds`` -> sum (add/remove-one-person neighbours)."""
    return (
        (dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.symmetric_distance())
        >> dp.t.then_clamp(bounds)
        >> dp.t.then_sum()
    )


def _gaussian_approx(dp, pre, scale: float, delta: float):
    """Gaussian noise (zCDP in OpenDP) expressed as (epsilon, delta)-DP at a fixed delta."""
    return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(pre >> dp.m.then_gaussian(scale)), delta)


def _positive(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DPError(f"{name} must be a positive number, got {value!r}.") from None
    if not math.isfinite(v) or v <= 0:
        raise DPError(f"{name} must be a positive finite number, got {value!r}.")
    return v


def _bounds(bounds: tuple[float, float]) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise DPError(f"bounds must be a pair (lower, upper) of numbers, got {bounds!r}.") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise DPError(f"bounds must be finite with lower <= upper, got {bounds!r}.")
    return lo, hi


def _values(values) -> list[float]:
    arr = np.asarray(values, dtype=float).ravel()
    nan = np.isnan(arr)
    if nan.any():
        raise DPError(
            f"values contain {int(nan.sum())} missing value(s) (first at position {int(np.flatnonzero(nan)[0])}); "
            "drop or impute them before the query so the count of contributors is explicit."
        )
    # +/-inf are clamped to the bounds by OpenDP, like any out-of-range value
    return arr.tolist()


class PrivacyBudget:
    """An (epsilon, delta) budget spent by noisy queries of one report.

    Parameters
    ----------
    epsilon_total
        Total epsilon the report may spend (> 0).
    delta_total
        Total delta (0 <= delta < 1). Pure-DP (Laplace) queries spend none;
        Gaussian queries need delta > 0.

    Attributes
    ----------
    ledger
        Every query charged, in order (:class:`PrivacySpend`).

    Examples
    --------
    >>> budget = PrivacyBudget(1.0)
    >>> noisy = budget.laplace_count(1234, epsilon=0.5, label="converters")
    >>> budget.remaining
    0.5
    """

    def __init__(self, epsilon_total: float, delta_total: float = 0.0):
        self.epsilon_total = _positive("epsilon_total", epsilon_total)
        d = float(delta_total)
        if not (0.0 <= d < 1.0):
            raise DPError(f"delta_total must be in [0, 1), got {delta_total!r}.")
        self.delta_total = d
        self.ledger: list[PrivacySpend] = []

    # -- accounting ---------------------------------------------------------------
    @property
    def spent(self) -> float:
        """Epsilon spent so far."""
        return math.fsum(s.epsilon for s in self.ledger)

    @property
    def delta_spent(self) -> float:
        """Delta spent so far."""
        return math.fsum(s.delta for s in self.ledger)

    @property
    def remaining(self) -> float:
        """Epsilon left (never negative)."""
        return max(0.0, self.epsilon_total - self.spent)

    @property
    def delta_remaining(self) -> float:
        """Delta left (never negative)."""
        return max(0.0, self.delta_total - self.delta_spent)

    def __repr__(self) -> str:
        return (
            f"PrivacyBudget(epsilon {self.spent:.4g}/{self.epsilon_total:.4g} spent, "
            f"delta {self.delta_spent:.3g}/{self.delta_total:.3g}, {len(self.ledger)} queries)"
        )

    def _check(self, what: str, epsilon: float, delta: float = 0.0) -> None:
        if epsilon > self.remaining + _TOL:
            raise BudgetExceededError(
                f"{what} asks for epsilon={epsilon:g} but only {self.remaining:g} of "
                f"{self.epsilon_total:g} remains ({self.spent:g} spent by {len(self.ledger)} queries). "
                "Lower the query's epsilon or give the report a larger budget."
            )
        if delta > self.delta_remaining + _TOL * 1e-3:
            raise BudgetExceededError(
                f"{what} asks for delta={delta:g} but only {self.delta_remaining:g} of {self.delta_total:g} remains. "
                "Lower the query's delta or create the budget with a larger delta_total."
            )

    def _charge(self, label: str, mechanism: str, epsilon: float, delta: float, scale: float, sens: float) -> None:
        self.ledger.append(PrivacySpend(label or mechanism, mechanism, epsilon, delta, scale, sens))

    # -- mechanisms ---------------------------------------------------------------
    def laplace_count(self, true_count: float, epsilon: float, sensitivity: float = 1.0, label: str = "") -> float:
        """Release a count with Laplace noise (epsilon-DP).

        Parameters
        ----------
        true_count
            The exact count.
        epsilon
            Privacy loss to spend (> 0).
        sensitivity
            Largest change of the count when one person is added or removed
            (1 when each person is counted at most once).
        label
            Name of the statistic in the ledger.

        Returns
        -------
        float
            ``true_count`` + Laplace(scale = sensitivity / epsilon); std = scale * sqrt(2).

        Raises
        ------
        BudgetExceededError
            When ``epsilon`` exceeds what remains; nothing is charged.
        """
        eps = _positive("epsilon", epsilon)
        sens = _positive("sensitivity", sensitivity)
        count = float(true_count)
        if not math.isfinite(count):
            raise DPError(f"true_count must be a finite number, got {true_count!r}.")
        self._check(f"laplace_count({label or 'count'})", eps)
        scale, meas = _count_measurement(sens, eps)
        noisy = float(meas(count))
        self._charge(label, "laplace_count", eps, 0.0, scale, sens)
        return noisy

    def laplace_sum(
        self,
        values,
        epsilon: float,
        bounds: tuple[float, float],
        label: str = "",
    ) -> float:
        """Release the sum of per-person values with Laplace noise (epsilon-DP).

        Parameters
        ----------
        values
            One value per person (array-like of numbers, no NaN).
        epsilon
            Privacy loss to spend (> 0).
        bounds
            (lower, upper) each value is clamped to; the sensitivity is
            ``max(|lower|, |upper|)`` (adding or removing one person), slightly
            enlarged by OpenDP for floating-point rounding.
        label
            Name of the statistic in the ledger.

        Returns
        -------
        float
            The noisy clamped sum.
        """
        return self._noisy_sum("laplace", values, _positive("epsilon", epsilon), 0.0, bounds, label)

    def gaussian_sum(
        self,
        values,
        epsilon: float,
        delta: float,
        bounds: tuple[float, float],
        label: str = "",
    ) -> float:
        """Release the sum of per-person values with Gaussian noise ((epsilon, delta)-DP).

        Parameters
        ----------
        values
            One value per person (array-like of numbers, no NaN).
        epsilon
            Privacy loss to spend (> 0).
        delta
            Failure probability to spend (0 < delta < 1), typically below 1 / number of people.
        bounds
            (lower, upper) each value is clamped to.
        label
            Name of the statistic in the ledger.

        Returns
        -------
        float
            The noisy clamped sum. The Gaussian std is recorded in the ledger as ``scale``.

        Notes
        -----
        OpenDP's Gaussian mechanism is calibrated in zero-concentrated DP (rho);
        ``make_zCDP_to_approxDP`` + ``make_fix_delta`` turn it into
        (epsilon, delta) and the smallest std meeting the target is searched.
        """
        eps = _positive("epsilon", epsilon)
        d = float(delta)
        if not (0.0 < d < 1.0):
            raise DPError(f"delta must be in (0, 1) for the Gaussian mechanism, got {delta!r}.")
        return self._noisy_sum("gaussian", values, eps, d, bounds, label)

    def _noisy_sum(self, mechanism: str, values, epsilon: float, delta: float, bounds, label: str) -> float:
        """Check the inputs and the budget, release the noisy clamped sum, record it in the ledger."""
        lo, hi = _bounds(bounds)
        data = _values(values)
        self._check(f"{mechanism}_sum({label or 'sum'})", epsilon, delta)
        scale, meas = _sum_measurement(mechanism, lo, hi, epsilon, delta)
        noisy = float(meas(data))
        self._charge(label, f"{mechanism}_sum", epsilon, delta, scale, max(abs(lo), abs(hi)))
        return noisy

    def spend_table(self):
        """Return the ledger as a pandas DataFrame (one row per query) for the report."""
        import pandas as pd

        cols = ["label", "mechanism", "epsilon", "delta", "scale", "sensitivity"]
        return pd.DataFrame([s.to_dict() for s in self.ledger], columns=cols)
