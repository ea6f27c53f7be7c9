"""A/B readout: intervals against statsmodels and known effects, CUPED, the SRM guard, power, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.experiments import (
    ExperimentDataError,
    SampleRatioMismatch,
    ab_readout,
    readout_table,
    sample_size_per_arm,
    srm_check,
)


def _campaign(n: int = 20_000, seed: int = 0, effects: tuple[float, ...] = (0.02, 0.0)) -> pd.DataFrame:
    """Control plus one arm per effect; conversion 0.10 + effect; revenue correlated with a pre-period spend."""
    rng = np.random.default_rng(seed)
    labels = ["control"] + [f"arm_{i}" for i in range(len(effects))]
    arm = rng.choice(labels, size=n)
    lift = np.select([arm == f"arm_{i}" for i in range(len(effects))], list(effects), 0.0)
    pre = rng.gamma(2.0, 25.0, size=n)
    converted = (rng.random(n) < 0.10 + lift).astype(int)
    revenue = 0.8 * pre + 40 * converted + rng.normal(0, 10, size=n)
    return pd.DataFrame({"arm": arm, "converted": converted, "revenue": revenue, "pre_revenue": pre})


def test_binary_readout_matches_the_difference_in_rates_and_covers_the_truth() -> None:
    df = _campaign()
    out = {r.arm: r for r in ab_readout(df, "arm", "converted", "control")}
    rates = df.groupby("arm")["converted"].mean()
    a0 = out["arm_0"]
    assert a0.diff == pytest.approx(rates["arm_0"] - rates["control"], abs=1e-12)
    assert a0.diff_low < 0.02 < a0.diff_high and a0.significant  # the true +2 points is inside and clear of 0
    assert a0.lift_low < 0.2 < a0.lift_high  # +2 points on 10% is a 20% lift
    assert not out["arm_1"].significant or out["arm_1"].p_value > 0.001  # the null arm
    assert a0.n_arm + a0.n_control == int((df["arm"] != "arm_1").sum())


def test_continuous_readout_equals_welch_from_scipy() -> None:
    from scipy.stats import ttest_ind

    df = _campaign(seed=1)
    (r,) = [r for r in ab_readout(df, "arm", "revenue", "control", metric_type="continuous") if r.arm == "arm_0"]
    y1, y0 = df.loc[df["arm"] == "arm_0", "revenue"], df.loc[df["arm"] == "control", "revenue"]
    assert r.p_value == pytest.approx(ttest_ind(y1, y0, equal_var=False).pvalue, rel=1e-6)
    assert r.diff == pytest.approx(y1.mean() - y0.mean())


def test_intervals_cover_the_true_effect_at_their_level() -> None:
    """Over 300 simulated tests the 90% interval covers the true +1 point about 90% of the time."""
    hits = 0
    for seed in range(300):
        df = _campaign(n=4_000, seed=100 + seed, effects=(0.01,))
        # srm_threshold=0: over 300 honest tests the 0.001 guard would fire by chance about once
        (r,) = ab_readout(df, "arm", "converted", "control", alpha=0.10, srm_threshold=0.0)
        hits += r.diff_low <= 0.01 <= r.diff_high
    assert 0.85 <= hits / 300 <= 0.95


def test_cuped_narrows_the_interval_and_stays_unbiased() -> None:
    df = _campaign(seed=2)
    plain = {r.arm: r for r in ab_readout(df, "arm", "revenue", "control", metric_type="continuous")}
    cuped = {
        r.arm: r
        for r in ab_readout(df, "arm", "revenue", "control", metric_type="continuous", covariate_col="pre_revenue")
    }
    for arm in ("arm_0", "arm_1"):
        width_plain = plain[arm].diff_high - plain[arm].diff_low
        width_cuped = cuped[arm].diff_high - cuped[arm].diff_low
        assert width_cuped < 0.6 * width_plain, arm  # pre-period spend explains most of the revenue variance
        assert cuped[arm].variance_reduction > 0.5
    # the true revenue effect of arm_0 is 40 * 0.02 = 0.8; CUPED's interval covers it
    assert cuped["arm_0"].diff_low < 0.8 < cuped["arm_0"].diff_high


def test_a_broken_split_trips_the_srm_check_and_blocks_the_readout() -> None:
    df = _campaign(seed=3, effects=(0.02,))
    # a redirect loses 8% of the treated arm's converters-to-be: the split is no longer 50/50
    drop = df.index[(df["arm"] == "arm_0")][: int(0.08 * (df["arm"] == "arm_0").sum())]
    broken = df.drop(index=drop)
    assert srm_check(df["arm"]).ok
    check = srm_check(broken["arm"])
    assert not check.ok and check.p_value < 1e-6
    with pytest.raises(SampleRatioMismatch, match=r"sample-ratio mismatch in 'arm'.*does NOT match the plan"):
        ab_readout(broken, "arm", "converted", "control")
    # a planned 90/10 split is not a mismatch when declared
    skewed = pd.DataFrame({"arm": ["control"] * 900 + ["arm_0"] * 100, "converted": [0, 1] * 500})
    assert srm_check(skewed["arm"], {"control": 0.9, "arm_0": 0.1}).ok
    assert not srm_check(skewed["arm"]).ok


def test_sample_size_gives_the_power_it_promises() -> None:
    from statsmodels.stats.proportion import test_proportions_2indep

    n = sample_size_per_arm(0.10, 0.02, power=0.8)
    assert 3_500 < n < 4_000  # the textbook number for 10% -> 12% at 80% power
    rng = np.random.default_rng(7)
    found = sum(
        test_proportions_2indep(rng.binomial(n, 0.12), n, rng.binomial(n, 0.10), n).pvalue < 0.05 for _ in range(400)
    )
    assert 0.74 <= found / 400 <= 0.86
    assert sample_size_per_arm(0.10, 0.2, relative=True) == n
    assert sample_size_per_arm(50.0, 5.0, metric_type="continuous", sd=50.0) > 1_500


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.assign(arm="control"), r"one arm only"),
        (lambda d: d.assign(arm=d["arm"].replace("control", "ctl")), r"control 'control' is not a value"),
        (lambda d: d.assign(converted=d["converted"] * 2), r"declared binary but holds"),
        (lambda d: d.assign(converted=d["converted"].astype(float).where(d.index > 5)), r"missing outcome"),
        (lambda d: d.iloc[:40], r"fewer than 30 rows"),
        (lambda d: d.rename(columns={"arm": "group"}), r"arm_col: column 'arm' is not in the table"),
    ],
)
def test_bad_input_is_named_before_any_readout(change, message) -> None:
    df = change(_campaign(n=2_000, seed=4, effects=(0.02,)))
    with pytest.raises(ExperimentDataError, match=message):
        ab_readout(df, "arm", "converted", "control")


def test_the_readout_table_is_for_people() -> None:
    table = readout_table(ab_readout(_campaign(seed=5), "arm", "converted", "control"))
    assert list(table["arm"]) == ["arm_0 vs control", "arm_1 vs control"]
    assert table.notna().all().all()
    assert table["difference (95% CI)"].str.match(r"^[+-][\d.e-]+ \[[+-].*, [+-].*\]$").all()
