"""Always-valid sequential monitoring: look every day without inflating false positives.

Checking a fixed-horizon test every day and stopping at the first p < 0.05 makes
false positives several times likelier than 5%. :func:`sequential_monitor` uses the
mixture sequential probability ratio test (mSPRT; Johari, Pekelis and Walsh, "Always
valid inference", 2017): with ``d`` the difference in means at a look, ``v`` its
variance and a normal mixture ``N(0, tau^2)`` over the effect, the likelihood ratio

    Lambda = sqrt(v / (v + tau^2)) * exp(d^2 * tau^2 / (2 * v * (v + tau^2)))

is a martingale under "no difference", so by Ville's inequality it crosses
``1 / alpha`` with probability at most ``alpha`` however often it is looked at. The
always-valid p-value is the running minimum of ``1 / Lambda``, and the matching
confidence sequence holds the effect at every look at once. ``tau`` only moves power
between small and large effects, never the error rate; set it near the effect the
test was planned to find.

Why written out: statsmodels has group-sequential alpha spending only as power
calculations, and no library on the project's list implements the mSPRT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from galaxy_lib.experiments.ab import ExperimentDataError

__all__ = ["SequentialResult", "sequential_monitor"]


@dataclass(frozen=True)
class SequentialResult:
    """Outcome of :func:`sequential_monitor`.

    Attributes
    ----------
    looks
        One row per look: ``look, n_arm, n_control, diff, ci_low, ci_high, p_value``
        (the always-valid p-value and confidence sequence up to that look).
    stopped_at
        The first look at which the p-value fell to ``alpha`` or below (``None``: keep running).
    alpha
        The error rate the monitor guarantees.
    mixture_sd
        ``tau``, the mixture's standard deviation of the effect.
    """

    looks: pd.DataFrame
    stopped_at: object | None
    alpha: float
    mixture_sd: float

    @property
    def significant(self) -> bool:
        """True when the monitor may stop with a difference."""
        return self.stopped_at is not None


def _msprt(d: np.ndarray, v: np.ndarray, tau2: float, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """``1 / Lambda`` at each look (capped at 1) and the confidence-sequence half-widths."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_lr = 0.5 * np.log(v / (v + tau2)) + d**2 * tau2 / (2 * v * (v + tau2))
        p_now = np.minimum(1.0, np.exp(-log_lr))
        half = np.sqrt(2 * v * (v + tau2) / tau2 * (np.log(1 / alpha) + 0.5 * np.log((v + tau2) / v)))
    return np.where(np.isfinite(p_now), p_now, 1.0), half


def sequential_monitor(
    df: pd.DataFrame,
    arm_col: str,
    outcome_col: str,
    look_col: str,
    control: str,
    arm: str,
    *,
    alpha: float = 0.05,
    mixture_sd: float | None = None,
) -> SequentialResult:
    """Monitor one arm against control at every look (day) with an always-valid p-value.

    Parameters
    ----------
    df
        One row per unit: its arm, outcome and the look (day) at which it entered.
    arm_col, outcome_col, look_col
        Column names.
    control, arm
        The two arms compared.
    alpha
        Guaranteed false-positive rate over all looks together.
    mixture_sd
        ``tau``: the effect size (difference in means) the monitor is tuned for. Default:
        a tenth of the outcome's standard deviation (a small standardised effect).

    Returns
    -------
    SequentialResult
    """
    if not 0 < alpha < 0.5:
        raise ExperimentDataError(f"alpha must be between 0 and 0.5 (got {alpha}).")
    for col in (arm_col, outcome_col, look_col):
        if col not in df.columns:
            raise ExperimentDataError(f"column {col!r} is not in the table (columns: {list(df.columns)}).")
    arms = df[arm_col].astype(str)
    for label in (control, arm):
        if str(label) not in set(arms):
            seen = sorted(set(arms))
            raise ExperimentDataError(f"arm {label!r} is not a value of column {arm_col!r} (arms: {seen}).")
    y = df[outcome_col].astype(float)
    sub = pd.DataFrame({"look": df[look_col], "g": arms, "y": y, "y2": y * y})
    sub = sub[sub["g"].isin([str(control), str(arm)])]
    per_look = sub.groupby(["look", "g"])[["y", "y2"]].agg(["count", "sum"]).unstack("g", fill_value=0)
    cum = per_look.sort_index().cumsum()

    def stats(label: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = cum[("y", "count", str(label))].to_numpy(dtype=float)
        s = cum[("y", "sum", str(label))].to_numpy(dtype=float)
        s2 = cum[("y2", "sum", str(label))].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = s / n
            var = (s2 - n * mean**2) / (n - 1)
        return n, mean, var

    n1, m1, var1 = stats(arm)
    n0, m0, var0 = stats(control)
    d = m1 - m0
    v = var1 / n1 + var0 / n0
    tau = float(mixture_sd) if mixture_sd else 0.1 * float(y.std(ddof=1) or 1.0)
    usable = (n1 >= 2) & (n0 >= 2) & (v > 0)
    p, half = _msprt(np.where(usable, d, 0.0), np.where(usable, v, 1.0), tau**2, alpha)
    p = np.minimum.accumulate(np.where(usable, p, 1.0))  # the always-valid p-value: the running minimum
    looks = pd.DataFrame(
        {
            "look": cum.index,
            "n_arm": n1.astype(int),
            "n_control": n0.astype(int),
            "diff": d,
            "ci_low": np.where(usable, d - half, -np.inf),
            "ci_high": np.where(usable, d + half, np.inf),
            "p_value": p,
        }
    )
    # the confidence sequence may be intersected over looks: it holds at all of them at once
    looks["ci_low"] = looks["ci_low"].cummax()
    looks["ci_high"] = looks["ci_high"].cummin()
    hit = looks.index[looks["p_value"] <= alpha]
    stopped = looks.loc[hit[0], "look"] if len(hit) else None
    return SequentialResult(looks=looks, stopped_at=stopped, alpha=alpha, mixture_sd=tau)
