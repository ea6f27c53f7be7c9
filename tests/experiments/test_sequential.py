"""Always-valid monitoring: looking every day keeps the false-positive rate at alpha; real effects are found."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.experiments import ExperimentDataError, sequential_monitor

DAYS, PER_DAY, BASE = 28, 150, 0.10


def _daily_test(rng: np.random.Generator, effect: float) -> pd.DataFrame:
    n = DAYS * PER_DAY * 2
    arm = np.tile(["control", "treated"], n // 2)
    p = BASE + effect * (arm == "treated")
    return pd.DataFrame(
        {"arm": arm, "converted": (rng.random(n) < p).astype(int), "day": np.repeat(range(DAYS), 2 * PER_DAY)}
    )


def _naive_daily_look_rejects(df: pd.DataFrame) -> bool:
    """Peeking with a fixed-horizon z-test every day: what the monitor protects against."""
    from statsmodels.stats.proportion import test_proportions_2indep

    for day in range(DAYS):
        seen = df[df["day"] <= day]
        t, c = seen[seen["arm"] == "treated"]["converted"], seen[seen["arm"] == "control"]["converted"]
        if test_proportions_2indep(t.sum(), len(t), c.sum(), len(c)).pvalue < 0.05:
            return True
    return False


@pytest.mark.slow
def test_aa_tests_checked_every_day_stay_within_alpha() -> None:
    """300 seeded A/A tests, 28 daily looks each: the monitor's false-positive rate stays <= 5%."""
    rng = np.random.default_rng(2026)
    monitor_hits = naive_hits = 0
    reps = 300
    for i in range(reps):
        df = _daily_test(rng, effect=0.0)
        res = sequential_monitor(df, "arm", "converted", "day", "control", "treated", alpha=0.05, mixture_sd=0.02)
        monitor_hits += res.significant
        if i < 100:
            naive_hits += _naive_daily_look_rejects(df)
    assert monitor_hits / reps <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / reps)  # within Monte Carlo error of alpha
    assert naive_hits / 100 > 0.10  # the test can fail: naive peeking inflates the rate well past 5%


def test_a_real_effect_is_found_and_covered() -> None:
    rng = np.random.default_rng(11)
    df = _daily_test(rng, effect=0.04)
    res = sequential_monitor(df, "arm", "converted", "day", "control", "treated", mixture_sd=0.03)
    assert res.significant and res.stopped_at < DAYS - 1
    last = res.looks.iloc[-1]
    assert last["ci_low"] < 0.04 < last["ci_high"]
    assert (res.looks["p_value"].diff().dropna() <= 0).all()  # an always-valid p-value never rises
    assert (res.looks["ci_high"] - res.looks["ci_low"]).is_monotonic_decreasing


def test_unknown_columns_and_arms_are_named() -> None:
    df = _daily_test(np.random.default_rng(0), 0.0)
    with pytest.raises(ExperimentDataError, match=r"column 'date' is not in the table"):
        sequential_monitor(df, "arm", "converted", "date", "control", "treated")
    with pytest.raises(ExperimentDataError, match=r"arm 'coupon' is not a value of column 'arm'"):
        sequential_monitor(df, "arm", "converted", "day", "control", "coupon")
