"""Budget allocation across creatives: the constraint projection, the posteriors, the kill switch,
the day-by-day simulation and the regret of Thompson sampling against an even split and an oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy.optimize import linprog

from galaxy_lib.core.config import ConfigError, validate_params
from galaxy_lib.creative.allocation_sim import (
    DAILY_COLUMNS,
    REGRET_COLUMNS,
    check_arms,
    compare_policies,
    largest_remainder,
    simulate_allocation,
)
from galaxy_lib.creative.bandit import (
    AllocationConfig,
    AllocationError,
    ThompsonPosteriors,
    best_shares,
    prob_below,
    project_shares,
    rank_weights,
    share_bounds,
    thompson_target,
)

TOL = 1e-9
BASELINE = 3e-4
#: A creative portfolio: a few strong, a long middle, one mildly and one clearly harmful creative.
PORTFOLIO = [1.5e-3, 1.2e-3, 1.0e-3, 8.5e-4, 7e-4, 6e-4, 5e-4, 4.5e-4, 2e-4, 5e-5]
SEEDS = (0, 1, 2)


def make_arms(rates: list[float], baseline: float = BASELINE) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "arm_id": [f"cr{i:02d}" for i in range(len(rates))],
            "true_rate": rates,
            "baseline": baseline,
            "label": [f"creative {i}" for i in range(len(rates))],
        }
    )


@pytest.fixture(scope="module")
def comparisons() -> dict[int, object]:
    arms = make_arms(PORTFOLIO)
    return {
        seed: compare_policies(arms, AllocationConfig(days=28, daily_impressions=100_000, seed=seed)) for seed in SEEDS
    }


def assert_rules_kept(run) -> None:
    """Floors, caps, pacing, kills and the daily budget, read off the daily table."""
    cfg = run.config
    wide = run.daily.pivot(index="day", columns="arm_id", values="share")
    killed_after = {a: d for a, d in run.killed.items()}
    for day, row in run.daily.groupby("day"):
        assert row["impressions"].sum() == (cfg.ad_impressions if row["share"].sum() > 0 else 0)
        assert abs(row["share"].sum() - 1) < TOL or row["share"].sum() == 0
        for arm, share, relaxed in zip(row["arm_id"], row["share"], row["relaxed"], strict=True):
            gone = arm in killed_after and day > killed_after[arm]
            if gone:
                assert share == 0, (arm, day)
            else:
                assert share >= cfg.floor - TOL, (arm, day, share)
                if not relaxed:
                    assert share <= cfg.cap + TOL, (arm, day, share)
    moves = wide.diff().iloc[1:]
    relaxed_days = set(run.daily.loc[run.daily["relaxed"], "day"])
    for day, row in moves.iterrows():
        for arm, move in row.items():
            if arm in killed_after and day > killed_after[arm]:
                continue  # the kill sends it to 0 at once
            if day not in relaxed_days:
                assert abs(move) <= cfg.max_daily_change + TOL, (arm, day, move)


# ---------------------------------------------------------------- configuration and inputs


def test_config_bounds_name_the_field() -> None:
    for field, value in [("floor", -0.1), ("cap", 1.5), ("max_daily_change", 0), ("days", 0), ("draws", 5)]:
        with pytest.raises(ValidationError, match=field):
            AllocationConfig(**{field: value})
    with pytest.raises(ValidationError, match=r"cap \(0.01\) must be >= floor \(0.02\)"):
        AllocationConfig(cap=0.01, floor=0.02)
    with pytest.raises(ValidationError, match="kill_switch needs a holdout"):
        AllocationConfig(holdout_share=0)
    assert AllocationConfig(holdout_share=0, kill_switch=False).ad_impressions == 100_000
    with pytest.raises(ConfigError, match="kill_probability"):
        validate_params(AllocationConfig, {"kill_probability": 1.2})


def test_rules_checked_against_the_number_of_arms() -> None:
    arms = make_arms(PORTFOLIO)
    with pytest.raises(AllocationError, match=r"lower floor to at most 0\.1 "):
        simulate_allocation(arms, AllocationConfig(floor=0.2, cap=0.5, days=2))
    with pytest.raises(AllocationError, match=r"raise cap to at least 0\.1$"):
        simulate_allocation(arms, AllocationConfig(floor=0.01, cap=0.05, days=2))
    with pytest.raises(AllocationError, match="policy must be one of"):
        simulate_allocation(arms, AllocationConfig(days=2), "greedy")  # type: ignore[arg-type]


def test_arms_table_errors_say_what_to_fix() -> None:
    arms = make_arms([1e-3, 5e-4, 4e-4])
    with pytest.raises(AllocationError, match=r"lacks column\(s\) \['baseline'\]"):
        check_arms(arms.drop(columns="baseline"))
    with pytest.raises(AllocationError, match=r"repeated: \['cr00'\]"):
        check_arms(arms.assign(arm_id=["cr00", "cr00", "cr02"]))
    with pytest.raises(AllocationError, match=r"true_rate must be a probability in \[0, 1\]"):
        check_arms(arms.assign(true_rate=[1e-3, 1.5, 4e-4]))
    with pytest.raises(AllocationError, match="one holdout measures one baseline"):
        check_arms(arms.assign(baseline=[3e-4, 3e-4, 4e-4]))
    with pytest.raises(AllocationError, match="at least 2 arms"):
        simulate_allocation(arms.head(1), AllocationConfig(days=2))
    clean = check_arms(arms.drop(columns="label"))
    assert list(clean.columns) == ["arm_id", "label", "true_rate", "baseline"]
    assert clean["label"].tolist() == ["cr00", "cr01", "cr02"]


# ---------------------------------------------------------------- the projection (property tests)


def test_projection_satisfies_bounds_and_is_the_closest_point() -> None:
    rng = np.random.default_rng(7)
    for _ in range(400):
        n = int(rng.integers(2, 16))
        lower = rng.uniform(0, 1.0 / n, n) * rng.uniform(0, 1)
        upper = lower + rng.uniform(0, 1, n)
        if upper.sum() < 1:
            upper += (1 - upper.sum()) / n + 1e-3
        off = rng.random(n) < 0.2
        lower[off] = upper[off] = 0
        if upper.sum() < 1:
            continue
        target = rng.dirichlet(np.ones(n)) if rng.random() < 0.7 else rng.normal(0, 1, n)
        x = project_shares(target, lower, upper)
        assert abs(x.sum() - 1) < TOL
        assert (x >= lower - TOL).all() and (x <= upper + TOL).all()
        free = (x > lower + 1e-12) & (x < upper - 1e-12)
        if free.sum() > 1:  # Euclidean projection: the free coordinates all moved by one shift
            shift = x[free] - target[free]
            assert np.ptp(shift) < 1e-9


def test_projection_refuses_impossible_bounds() -> None:
    with pytest.raises(AllocationError, match=r"sum\(lower\)=1\.2"):
        project_shares(np.array([0.5, 0.5]), np.array([0.6, 0.6]), np.array([1.0, 1.0]))
    with pytest.raises(AllocationError, match=r"lower exceeds upper at positions \[1\]"):
        project_shares(np.array([0.5, 0.5]), np.array([0.1, 0.6]), np.array([1.0, 0.5]))
    with pytest.raises(AllocationError, match="one length"):
        project_shares(np.array([0.5, 0.5]), np.zeros(3), np.ones(3))


def test_day_bounds_then_projection_keep_every_rule() -> None:
    rng = np.random.default_rng(11)
    for _ in range(400):
        n = int(rng.integers(2, 16))
        floor = rng.uniform(0, 1.0 / n)
        cap = rng.uniform(max(floor, 1.0 / n), 1.0)
        change = rng.uniform(0.005, 0.5)
        # yesterday: any allocation within the floor and cap over everyone
        prev = project_shares(rng.dirichlet(np.ones(n)), np.full(n, floor), np.full(n, cap))
        live = rng.random(n) > 0.25
        if not live.any():
            live[0] = True
        bounds = share_bounds(prev, live, floor=floor, cap=cap, max_daily_change=change)
        x = project_shares(rng.dirichlet(np.ones(n) * 0.3), bounds.lower, bounds.upper)
        n_live = live.sum()
        cap_now = max(cap, 1 / n_live)
        assert abs(x.sum() - 1) < TOL
        assert (x[~live] == 0).all()
        assert (x[live] >= min(floor, 1 / n_live) - TOL).all()
        assert (x[live] <= cap_now + TOL).all()
        if not bounds.relaxed:
            assert (x[live] <= cap + TOL).all()
            assert (np.abs(x - prev)[live] <= change + TOL).all()
        else:  # loosened only when the survivors could not hold the budget otherwise
            assert np.minimum(cap, prev + change)[live].sum() < 1 - TOL
        assert (x[live] >= prev[live] - change - TOL).all()  # moving down is never loosened


def test_no_kill_means_never_relaxed() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(2, 12))
        prev = project_shares(rng.dirichlet(np.ones(n)), np.full(n, 0.01), np.full(n, 0.6))
        bounds = share_bounds(prev, np.ones(n, bool), floor=0.01, cap=0.6, max_daily_change=0.05)
        assert not bounds.relaxed
        assert bounds.lower.sum() <= 1 + TOL <= bounds.upper.sum() + 2 * TOL


def test_best_shares_is_the_linear_programme_optimum() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        n = int(rng.integers(2, 10))
        lower = np.full(n, rng.uniform(0, 1 / n))
        upper = np.full(n, rng.uniform(1 / n, 1))
        values = rng.random(n)
        x = best_shares(values, lower, upper)
        lp = linprog(-values, A_eq=np.ones((1, n)), b_eq=[1], bounds=list(zip(lower, upper, strict=True)))
        assert abs(x.sum() - 1) < TOL and (x >= lower - TOL).all() and (x <= upper + TOL).all()
        assert values @ x >= -lp.fun - 1e-9
    assert np.allclose(rank_weights(4, 0.1, 0.5), [0.5, 0.3, 0.1, 0.1])
    assert np.allclose(rank_weights(2, 0.0, 0.3), [0.5, 0.5])  # the cap cannot hold the budget: 1 / arms


def test_largest_remainder_is_exact() -> None:
    rng = np.random.default_rng(2)
    for _ in range(200):
        shares = rng.dirichlet(np.ones(int(rng.integers(2, 20))))
        total = int(rng.integers(0, 200_000))
        counts = largest_remainder(shares, total)
        assert counts.sum() == total
        assert (np.abs(counts - shares * total) < 1).all()
    assert largest_remainder(np.zeros(3), 100).tolist() == [0, 0, 0]


# ---------------------------------------------------------------- posteriors and kill switch


def test_mabwiser_keeps_the_beta_counts() -> None:
    post = ThompsonPosteriors(3, seed=0)
    imps, convs = np.array([1000, 0, 500]), np.array([3, 0, 1])
    post.update(imps, convs, holdout=200, holdout_conversions=1)
    post.update(imps * 2, convs * 2, holdout=200, holdout_conversions=0)
    alpha, beta = post.counts()
    assert alpha.tolist() == [1 + 9, 1, 1 + 3, 1 + 1]
    assert beta.tolist() == [1 + 3000 - 9, 1, 1 + 1500 - 3, 1 + 400 - 1]
    with pytest.raises(AllocationError, match="conversions must be between 0 and the impressions"):
        post.update(np.array([1, 1, 1]), np.array([2, 0, 0]), 0, 0)


def test_prob_below_is_exact() -> None:
    rng = np.random.default_rng(0)
    alpha, beta = np.array([3.0, 10.0, 40.0]), np.array([20_000.0, 25_000.0, 60_000.0])
    exact = prob_below(alpha, beta, 12, 40_000)
    draws = rng.beta(alpha, beta, size=(400_000, 3)) < rng.beta(12, 40_000, size=(400_000, 1))
    assert np.allclose(exact, draws.mean(axis=0), atol=0.004)
    # P(X < Y) + P(Y < X) = 1
    back = prob_below(np.array([12.0]), np.array([40_000.0]), 3, 20_000)
    assert abs(exact[0] + back[0] - 1) < 1e-9
    with pytest.raises(AllocationError, match="whole number"):
        prob_below(alpha, beta, 2.5, 100)


def test_thompson_target_ranked_and_best() -> None:
    alpha, beta = np.array([30.0, 25.0, 5.0, 2.0]), np.array([30_000.0, 30_000.0, 30_000.0, 30_000.0])
    best, plain = thompson_target(alpha, beta, draws=4000, rng=np.random.default_rng(1), ranked=False)
    best2, ranked = thompson_target(
        alpha, beta, draws=4000, rng=np.random.default_rng(1), floor=0.0, cap=1.0, ranked=True
    )
    assert np.allclose(best, plain) and np.allclose(best, best2) and np.allclose(ranked, best)
    _, capped = thompson_target(alpha, beta, draws=4000, rng=np.random.default_rng(1), floor=0.05, cap=0.5)
    assert abs(capped.sum() - 1) < TOL
    assert capped[0] <= 0.5 + TOL and capped[1] > 0.3  # what the leader cannot take goes to the runner-up


# ---------------------------------------------------------------- the simulation


def test_daily_and_regret_tables(comparisons) -> None:
    run = comparisons[0].runs["thompson"]
    assert tuple(run.daily.columns) == DAILY_COLUMNS
    assert tuple(run.regret.columns) == REGRET_COLUMNS
    assert len(run.daily) == 28 * len(PORTFOLIO) and run.regret["day"].tolist() == list(range(1, 29))
    assert run.daily["cost"].isna().all()
    day1 = run.daily[run.daily["day"] == 1]
    assert np.allclose(day1["share"], 1 / len(PORTFOLIO)) and day1["prob_best"].isna().all()
    later = run.daily[(run.daily["day"] > 1) & ~run.daily["killed"]]
    assert later["prob_best"].notna().all()
    assert (run.daily["posterior_low"] <= run.daily["posterior_mean"]).all()
    assert (run.daily["posterior_mean"] <= run.daily["posterior_high"]).all()
    spend = run.spend_share()
    assert abs(spend.sum() - 1) < TOL and spend.index.tolist() == make_arms(PORTFOLIO)["arm_id"].tolist()
    summary = run.summary()
    assert {"arm_id", "label", "true_rate", "spend_share", "conversions", "killed_on"} <= set(summary.columns)
    assert summary.loc[summary["spend_share"].idxmax(), "arm_id"] == "cr00"
    assert len(run.holdout) == 28 and (run.holdout["impressions"] == run.config.holdout_impressions).all()


def test_every_policy_keeps_every_rule(comparisons) -> None:
    for comparison in comparisons.values():
        for run in comparison.runs.values():
            assert_rules_kept(run)


def test_thompson_regret_below_half_the_even_split(comparisons) -> None:
    for seed, comparison in comparisons.items():
        assert comparison.regret_ratio < 0.5, (seed, comparison.regret_ratio)
        curves = comparison.regret.pivot(index="day", columns="policy", values="cumulative_regret")
        assert curves["thompson"].iloc[-1] < curves["even"].iloc[-1]
        assert comparison.runs["oracle"].regret["cumulative_regret"].abs().max() < 1e-6
        summary = comparison.summary().set_index("policy")
        assert summary.loc["oracle", "expected_conversions"] >= summary.loc["thompson", "expected_conversions"]


def test_kill_switch_kills_the_harmful_and_spares_the_rest(comparisons) -> None:
    arms = make_arms(PORTFOLIO)
    helpful = set(arms.loc[arms["true_rate"] > BASELINE, "arm_id"])
    for seed, comparison in comparisons.items():
        run = comparison.runs["thompson"]
        assert "cr09" in run.killed, seed  # 5e-5 against a 3e-4 baseline
        assert not helpful & set(run.killed), (seed, dict(run.killed))
        cum = run.daily.pivot(index="day", columns="arm_id", values="impressions").cumsum()
        for arm, day in run.killed.items():
            assert cum.loc[day, arm] >= run.config.min_impressions_to_kill
            p = run.daily.query("arm_id == @arm and day == @day")["p_below_baseline"].iloc[0]
            assert p >= run.config.kill_probability
        assert not comparison.runs["even"].killed  # the even split runs without it by default
        assert dict(comparison.runs["oracle"].killed) == {"cr08": 0, "cr09": 0}


def test_even_split_and_oracle_allocations() -> None:
    arms = make_arms([1e-3, 8e-4, 5e-4, 2e-4])
    cfg = AllocationConfig(days=6, daily_impressions=20_000, floor=0.05, cap=0.6, max_daily_change=0.2, seed=1)
    even = simulate_allocation(arms, cfg, "even")
    assert np.allclose(even.daily["share"], 0.25)
    oracle = simulate_allocation(arms, cfg, "oracle")
    wide = oracle.daily.pivot(index="day", columns="arm_id", values="share")
    assert np.allclose(wide.loc[1], [1 / 3, 1 / 3, 1 / 3, 0])  # the harmful arm is off before day 1
    assert np.allclose(wide.loc[6], [0.6, 0.35, 0.05, 0])  # cap to the best, floors, the rest to the next
    no_kill = simulate_allocation(arms, cfg.model_copy(update={"kill_switch": False}), "oracle")
    assert not no_kill.killed and np.allclose(no_kill.daily.query("day == 6")["share"], [0.6, 0.3, 0.05, 0.05])


def test_a_kill_that_frees_more_than_pacing_allows_relaxes_that_day_only() -> None:
    arms = make_arms([1e-3, 9e-4, 0.0])
    cfg = AllocationConfig(
        days=12, daily_impressions=60_000, floor=0.05, cap=0.6, max_daily_change=0.05, min_impressions_to_kill=10_000
    )
    run = simulate_allocation(arms, cfg, "even", kill_switch=True)
    day = run.killed["cr02"]
    relaxed_days = sorted(set(run.daily.loc[run.daily["relaxed"], "day"]))
    assert relaxed_days == [day + 1]
    assert np.allclose(run.daily.query("day == @day + 1")["share"], [0.5, 0.5, 0.0])
    assert_rules_kept(run)
    # one survivor under a cap of 0.6: it takes the whole budget, flagged
    two = simulate_allocation(make_arms([1e-3, 0.0]), cfg.model_copy(update={"max_daily_change": 0.5}), "thompson")
    after = two.daily[two.daily["day"] > two.killed["cr01"]]
    assert np.allclose(after.query("arm_id == 'cr00'")["share"], 1.0) and after["relaxed"].all()
    assert_rules_kept(two)


def test_kill_switch_off_and_determinism() -> None:
    arms = make_arms([1e-3, 8e-4, 5e-4, 0.0])
    cfg = AllocationConfig(days=8, daily_impressions=40_000, kill_switch=False, cost_per_mille=5.0, seed=3)
    run = simulate_allocation(arms, cfg, "thompson")
    assert not run.killed and not run.daily["killed"].any()
    assert np.allclose(run.daily["cost"], run.daily["impressions"] * 5.0 / 1000)
    again = simulate_allocation(arms, cfg, "thompson")
    pd.testing.assert_frame_equal(run.daily, again.daily)
    other = simulate_allocation(arms, cfg.model_copy(update={"seed": 4}), "thompson")
    assert not run.daily["conversions"].equals(other.daily["conversions"])
