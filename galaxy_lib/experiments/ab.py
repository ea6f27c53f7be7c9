"""A/B test readout: difference and relative lift with intervals, CUPED, the SRM guard, power.

* :func:`srm_check`: a sample-ratio mismatch (chi-square goodness of fit of the
  arm counts against the planned split) means assignment or logging is broken;
  :func:`ab_readout` refuses to read out such a test.
* :func:`ab_readout`: per arm against control, the difference in means (for a
  binary metric, in conversion rates) and the relative lift, each with a
  confidence interval, and the two-sided p-value. Binary metrics use statsmodels'
  two-proportion methods (Newcomb's interval for the difference, the log-ratio
  interval for the lift, the score test); continuous metrics, and any metric
  adjusted with CUPED, use Welch's t (statsmodels ``CompareMeans``) and the delta
  method for the lift.
* CUPED (Deng et al., 2013): with a pre-period covariate ``x``, the outcome is
  replaced by ``y - theta * (x - mean(x))`` with ``theta = cov(y, x) / var(x)``
  pooled over the arms. Randomisation makes ``x`` independent of the arm, so the
  estimate stays unbiased and its variance shrinks by ``corr(y, x)**2``.
* :func:`sample_size_per_arm`: rows per arm to detect a minimum effect with a given
  power (statsmodels ``NormalIndPower``).

What the library does not do here, and why it is written out: statsmodels has the
tests and intervals but no experiment-level readout (arms against one control,
SRM guard, CUPED), so this module composes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "MIN_ROWS_PER_ARM",
    "AbReadout",
    "ExperimentDataError",
    "SampleRatioMismatch",
    "SrmCheck",
    "ab_readout",
    "cuped_adjust",
    "readout_table",
    "sample_size_per_arm",
    "srm_check",
]

#: Fewer rows than this in an arm and a readout is refused (the normal approximations fail).
MIN_ROWS_PER_ARM = 30

MetricType = Literal["binary", "continuous"]


class ExperimentDataError(ValueError):
    """The experiment table cannot be read out as given (the message names the column and the fix)."""


class SampleRatioMismatch(ExperimentDataError):
    """The arm counts do not match the planned split: assignment or logging is broken."""


@dataclass(frozen=True)
class SrmCheck:
    """Outcome of :func:`srm_check`.

    Attributes
    ----------
    observed
        Rows per arm.
    expected_share
        The planned share of each arm.
    p_value
        Chi-square goodness-of-fit p-value of the counts against the plan.
    threshold
        Below this p-value the split is declared broken.
    ok
        True when the counts are consistent with the plan.
    """

    observed: dict[str, int]
    expected_share: dict[str, float]
    p_value: float
    threshold: float
    ok: bool

    def __str__(self) -> str:
        counts = ", ".join(f"{arm} {n:,}" for arm, n in self.observed.items())
        plan = ", ".join(f"{arm} {share:.1%}" for arm, share in self.expected_share.items())
        verdict = "consistent with" if self.ok else "does NOT match"
        return f"split {counts} {verdict} the plan ({plan}): chi-square p = {self.p_value:.3g}"


@dataclass(frozen=True)
class AbReadout:
    """One arm against control on one metric.

    Attributes
    ----------
    metric, arm, control
        What was compared.
    n_control, n_arm
        Rows in each group.
    mean_control, mean_arm
        Observed means (conversion rates for a binary metric), before any CUPED adjustment.
    diff, diff_low, diff_high
        Difference arm minus control and its ``1 - alpha`` confidence interval (CUPED-adjusted when used).
    lift, lift_low, lift_high
        Relative lift ``diff / mean_control`` and its interval.
    p_value
        Two-sided p-value of "no difference".
    alpha
        Level of the intervals.
    method
        How the interval was computed.
    variance_reduction
        With CUPED, the share of the variance removed (``corr(y, x)**2``); else ``None``.
    """

    metric: str
    arm: str
    control: str
    n_control: int
    n_arm: int
    mean_control: float
    mean_arm: float
    diff: float
    diff_low: float
    diff_high: float
    lift: float
    lift_low: float
    lift_high: float
    p_value: float
    alpha: float
    method: str
    variance_reduction: float | None = None

    @property
    def significant(self) -> bool:
        """True when the interval of the difference excludes zero."""
        return self.diff_low > 0 or self.diff_high < 0


def srm_check(
    arms: pd.Series | Sequence[object],
    expected_share: Mapping[str, float] | None = None,
    threshold: float = 0.001,
) -> SrmCheck:
    """Test the arm counts against the planned split (chi-square goodness of fit).

    Parameters
    ----------
    arms
        The arm of every row.
    expected_share
        Planned share per arm (normalised to sum to one); default: an equal split.
    threshold
        p-value under which the split is declared broken. 0.001 is the usual choice:
        an SRM check runs on every test, so it must rarely fire by chance.

    Returns
    -------
    SrmCheck
    """
    from scipy.stats import chisquare

    counts = pd.Series(arms).astype(str).value_counts().sort_index()
    if expected_share is None:
        plan = {arm: 1.0 / len(counts) for arm in counts.index}
    else:
        unknown = sorted(set(counts.index) - set(map(str, expected_share)))
        if unknown:
            raise ExperimentDataError(
                f"expected_share has no share for arm(s) {unknown}: give a share for every arm in the data "
                f"(arms seen: {list(counts.index)})."
            )
        total = float(sum(expected_share.values()))
        plan = {str(a): float(s) / total for a, s in expected_share.items()}
    shares = np.array([plan.get(arm, 0.0) for arm in counts.index])
    p_value = float(chisquare(counts.to_numpy(), f_exp=shares * counts.sum()).pvalue) if len(counts) > 1 else 1.0
    return SrmCheck(
        observed={str(k): int(v) for k, v in counts.items()},
        expected_share=plan,
        p_value=p_value,
        threshold=threshold,
        ok=p_value >= threshold,
    )


def cuped_adjust(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Return the CUPED-adjusted outcome ``y - theta * (x - mean(x))`` and the variance share removed.

    ``theta = cov(y, x) / var(x)`` over all rows (all arms pooled), so the adjustment
    does not depend on the arm and the difference in means stays unbiased.
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    var_x = float(np.var(x))
    if var_x == 0:
        return y.copy(), 0.0
    theta = float(np.cov(y, x, ddof=0)[0, 1]) / var_x
    corr = float(np.corrcoef(y, x)[0, 1]) if np.std(y) > 0 else 0.0
    return y - theta * (x - x.mean()), corr**2


def _check_table(
    df: pd.DataFrame, arm_col: str, outcome_col: str, control: str, metric_type: str, covariate_col: str | None
) -> pd.Series:
    for name, col in (("arm_col", arm_col), ("outcome_col", outcome_col), ("covariate_col", covariate_col)):
        if col is not None and col not in df.columns:
            raise ExperimentDataError(
                f"{name}: column {col!r} is not in the table (columns: {list(df.columns)}); name the right column."
            )
    arms = df[arm_col].astype(str)
    seen = sorted(arms.unique())
    if len(seen) < 2:
        raise ExperimentDataError(
            f"column {arm_col!r} has one arm only ({seen}): an experiment needs a control and at least one arm."
        )
    if str(control) not in seen:
        raise ExperimentDataError(f"control {control!r} is not a value of column {arm_col!r} (arms: {seen}).")
    y = df[outcome_col]
    if y.isna().any():
        raise ExperimentDataError(
            f"column {outcome_col!r} has {int(y.isna().sum())} missing outcome(s): fill them (0 for no conversion) "
            "or drop those rows before the readout."
        )
    if metric_type == "binary" and not y.isin([0, 1, True, False]).all():
        bad = y[~y.isin([0, 1, True, False])].iloc[:3].tolist()
        raise ExperimentDataError(
            f"column {outcome_col!r} is declared binary but holds {bad}: use 0/1 outcomes or metric_type='continuous'."
        )
    if covariate_col is not None and df[covariate_col].isna().any():
        raise ExperimentDataError(
            f"covariate {covariate_col!r} has missing values: CUPED needs a pre-period value for every row "
            "(fill missing with 0 when it counts activity)."
        )
    small = {a: int(n) for a, n in arms.value_counts().items() if n < MIN_ROWS_PER_ARM}
    if small:
        raise ExperimentDataError(
            f"arm(s) {small} have fewer than {MIN_ROWS_PER_ARM} rows: too few to read out; wait for more data."
        )
    return arms


def _binary(y_arm: np.ndarray, y_ctl: np.ndarray, alpha: float) -> tuple[float, float, float, float, float]:
    """Difference interval (Newcomb), score-test p-value and log-ratio lift interval of two proportions."""
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    k1, n1, k0, n0 = int(y_arm.sum()), len(y_arm), int(y_ctl.sum()), len(y_ctl)
    lo, hi = confint_proportions_2indep(k1, n1, k0, n0, method="newcomb", compare="diff", alpha=alpha)
    p = float(test_proportions_2indep(k1, n1, k0, n0, method="score", compare="diff").pvalue)
    if k0 > 0 and k1 > 0:
        rlo, rhi = confint_proportions_2indep(k1, n1, k0, n0, method="log", compare="ratio", alpha=alpha)
        lift_lo, lift_hi = float(rlo) - 1.0, float(rhi) - 1.0
    else:
        lift_lo, lift_hi = float("nan"), float("nan")
    return float(lo), float(hi), p, lift_lo, lift_hi


def _welch(y_arm: np.ndarray, y_ctl: np.ndarray, alpha: float) -> tuple[float, float, float, float, float]:
    """Difference interval and p-value (Welch), lift interval by the delta method."""
    from scipy.stats import norm
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    cm = CompareMeans(DescrStatsW(y_arm), DescrStatsW(y_ctl))
    lo, hi = cm.tconfint_diff(alpha=alpha, usevar="unequal")
    p = float(cm.ttest_ind(usevar="unequal")[1])
    m1, m0 = float(y_arm.mean()), float(y_ctl.mean())
    if m0 == 0:
        return float(lo), float(hi), p, float("nan"), float("nan")
    v1, v0 = y_arm.var(ddof=1) / len(y_arm), y_ctl.var(ddof=1) / len(y_ctl)
    se = float(np.sqrt(v1 / m0**2 + v0 * m1**2 / m0**4))  # delta method for m1 / m0
    z = float(norm.ppf(1 - alpha / 2))
    ratio = m1 / m0
    return float(lo), float(hi), p, ratio - 1 - z * se, ratio - 1 + z * se


def ab_readout(
    df: pd.DataFrame,
    arm_col: str,
    outcome_col: str,
    control: str,
    *,
    metric_type: MetricType = "binary",
    covariate_col: str | None = None,
    alpha: float = 0.05,
    expected_share: Mapping[str, float] | None = None,
    srm_threshold: float = 0.001,
) -> list[AbReadout]:
    """Read out every arm against control on one metric.

    Parameters
    ----------
    df
        One row per unit (customer): its arm and outcome (and pre-period covariate).
    arm_col, outcome_col
        Column names of the arm and the outcome.
    control
        The control arm's label.
    metric_type
        ``binary`` (0/1 outcome: conversion) or ``continuous`` (revenue, orders).
    covariate_col
        A pre-period covariate for CUPED (the same metric before the test started).
    alpha
        1 - confidence level of the intervals.
    expected_share
        The planned split for the SRM check; default equal.
    srm_threshold
        p-value under which the split is declared broken and the readout refused.

    Returns
    -------
    list of AbReadout
        One per arm other than control, in arm order.

    Raises
    ------
    ExperimentDataError
        A missing column, one arm only, an unknown control, non-0/1 outcomes for a
        binary metric, missing outcomes or covariates, fewer than
        :data:`MIN_ROWS_PER_ARM` rows in an arm.
    SampleRatioMismatch
        The arm counts do not match the plan: the assignment is broken and no
        difference between the arms can be trusted.
    """
    if not 0 < alpha < 0.5:
        raise ExperimentDataError(f"alpha must be between 0 and 0.5 (got {alpha}); 0.05 gives 95% intervals.")
    arms = _check_table(df, arm_col, outcome_col, control, metric_type, covariate_col)
    srm = srm_check(arms, expected_share, srm_threshold)
    if not srm.ok:
        raise SampleRatioMismatch(
            f"sample-ratio mismatch in {arm_col!r}: {srm}. The assignment or its logging is broken, so the arms "
            "are not comparable; find the cause (bot filtering, a redirect dropping one arm, late assignment) "
            "before reading out."
        )
    y_raw = df[outcome_col].astype(float).to_numpy()
    y, reduction = (y_raw, None) if covariate_col is None else cuped_adjust(y_raw, df[covariate_col].to_numpy())
    ctl = (arms == str(control)).to_numpy()
    out = []
    for arm in sorted(set(arms) - {str(control)}):
        sel = (arms == arm).to_numpy()
        m1, m0 = float(y_raw[sel].mean()), float(y_raw[ctl].mean())
        if metric_type == "binary" and covariate_col is None:
            lo, hi, p, lift_lo, lift_hi = _binary(y_raw[sel], y_raw[ctl], alpha)
            diff, method = m1 - m0, "two proportions: Newcomb interval, score test, log-ratio lift"
        else:
            lo, hi, p, lift_lo, lift_hi = _welch(y[sel], y[ctl], alpha)
            diff = float(y[sel].mean() - y[ctl].mean())
            method = "Welch t, delta-method lift" + (" on the CUPED-adjusted outcome" if covariate_col else "")
        out.append(
            AbReadout(
                metric=outcome_col,
                arm=arm,
                control=str(control),
                n_control=int(ctl.sum()),
                n_arm=int(sel.sum()),
                mean_control=m0,
                mean_arm=m1,
                diff=diff,
                diff_low=lo,
                diff_high=hi,
                lift=diff / m0 if m0 else float("nan"),
                lift_low=lift_lo,
                lift_high=lift_hi,
                p_value=p,
                alpha=alpha,
                method=method,
                variance_reduction=reduction,
            )
        )
    return out


def readout_table(readouts: Sequence[AbReadout]) -> pd.DataFrame:
    """Return a table for people: one row per metric and arm, intervals in one column, numbers formatted."""
    rows = []
    for r in readouts:
        pct = 100 * (1 - r.alpha)
        rows.append(
            {
                "metric": r.metric,
                "arm": f"{r.arm} vs {r.control}",
                "rows": f"{r.n_arm:,} / {r.n_control:,}",
                "mean": f"{r.mean_arm:.4g} vs {r.mean_control:.4g}",
                f"difference ({pct:.0f}% CI)": f"{r.diff:+.4g} [{r.diff_low:+.4g}, {r.diff_high:+.4g}]",
                f"lift ({pct:.0f}% CI)": f"{r.lift:+.1%} [{r.lift_low:+.1%}, {r.lift_high:+.1%}]",
                "p-value": f"{r.p_value:.3g}",
                "CUPED": "-" if r.variance_reduction is None else f"variance -{r.variance_reduction:.0%}",
            }
        )
    return pd.DataFrame(rows)


def sample_size_per_arm(
    baseline: float,
    mde: float,
    *,
    metric_type: MetricType = "binary",
    sd: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    relative: bool = False,
) -> int:
    """Rows per arm to detect an effect of ``mde`` with the given power (two-sided, equal arms).

    Parameters
    ----------
    baseline
        Control conversion rate (binary) or mean (continuous).
    mde
        Minimum detectable effect: an absolute difference, or relative to ``baseline`` when ``relative``.
    metric_type
        ``binary`` uses Cohen's h for proportions; ``continuous`` needs ``sd``.
    sd
        Standard deviation of a continuous metric.
    alpha, power
        Test level and power.
    relative
        Read ``mde`` as a share of ``baseline`` (0.05 = a 5% lift).

    Returns
    -------
    int
        Rows per arm (rounded up).
    """
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    effect = mde * baseline if relative else mde
    if effect == 0:
        raise ExperimentDataError("mde is zero: no sample size detects no effect; give the smallest effect worth it.")
    if metric_type == "binary":
        target = baseline + effect
        if not (0 < baseline < 1 and 0 < target < 1):
            raise ExperimentDataError(
                f"a binary baseline and baseline + mde must lie in (0, 1) (got {baseline} and {target})."
            )
        h = abs(proportion_effectsize(target, baseline))
    else:
        if not sd or sd <= 0:
            raise ExperimentDataError("a continuous metric needs sd > 0 (the metric's standard deviation per unit).")
        h = abs(effect) / sd
    n = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=1.0)
    return int(np.ceil(n))
