"""Simulate a budget allocation across creatives day by day against known true rates, with regret.

Each day: the policy's shares (:mod:`galaxy_lib.creative.bandit` applies the floors,
caps, pacing and kills) -> whole impressions per arm (largest remainder, summing to the
day's budget minus the holdout) -> conversions ~ Binomial(impressions, true_rate) and
holdout conversions ~ Binomial(holdout, baseline) -> posterior update -> kill switch ->
next day.

Policies
--------
``"thompson"``
    Day 1 is an even split; then the posterior draws' wish
    (:func:`~galaxy_lib.creative.bandit.thompson_target`: by default each draw's best
    allocation under the floor and cap, averaged; or each arm's probability of being best)
    projected onto the constraints. Kill switch as configured.
``"even"``
    An even split over the live arms every day (pacing never binds). The kill switch is
    off unless ``kill_switch=True`` is passed: it is the naive comparison.
``"oracle"``
    Knows the true rates and plays by the same rules: day 1 even, then the best shares
    within the floors, caps and pacing limits of the day (:func:`~galaxy_lib.creative.bandit.best_shares`).
    With the kill switch on, a perfect kill switch: arms whose true rate is below the
    baseline are switched off before day 1 (``killed`` day 0); with it off they keep their
    floors like everyone else's. Regret therefore measures learning, not the constraints.

Value and regret
----------------
The expected value of a day is ``sum(impressions * true_rate)`` (expected conversions);
since every policy buys the same impressions, its difference to the oracle equals the
difference in incremental conversions. Regret of a day = the oracle's expected value
minus the policy's (it can dip slightly below 0 on a day a kill relaxes the policy's
pacing); the curves are cumulative.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import betaincinv

from galaxy_lib.creative.bandit import (
    AllocationConfig,
    AllocationError,
    ThompsonPosteriors,
    best_shares,
    prob_below,
    project_shares,
    share_bounds,
    thompson_target,
)

__all__ = [
    "DAILY_COLUMNS",
    "REGRET_COLUMNS",
    "AllocationRun",
    "PolicyComparison",
    "check_arms",
    "compare_policies",
    "largest_remainder",
    "simulate_allocation",
]

Policy = Literal["thompson", "even", "oracle"]
_POLICIES = ("thompson", "even", "oracle")
#: Central posterior interval reported per arm and day.
INTERVAL = 0.95

#: Columns of :attr:`AllocationRun.daily` (one row per day and arm).
DAILY_COLUMNS: tuple[str, ...] = (
    "policy",
    "day",
    "arm_id",
    "label",
    "share",
    "prob_best",
    "impressions",
    "conversions",
    "expected_conversions",
    "cost",
    "killed",
    "p_below_baseline",
    "posterior_mean",
    "posterior_low",
    "posterior_high",
    "relaxed",
)
#: Columns of :attr:`AllocationRun.regret` (one row per day).
REGRET_COLUMNS: tuple[str, ...] = (
    "policy",
    "day",
    "expected_conversions",
    "oracle_expected_conversions",
    "regret",
    "cumulative_regret",
)


def check_arms(arms: pd.DataFrame) -> pd.DataFrame:
    """Check an arms table and return a clean copy (``arm_id``, ``label``, ``true_rate``, ``baseline``).

    Parameters
    ----------
    arms
        One row per creative: ``arm_id`` (unique), ``true_rate`` (conversion probability per
        impression for an exposed person), ``baseline`` (the same without an ad; one value for
        all arms, since one holdout measures it) and optionally ``label``.

    Raises
    ------
    AllocationError
        A missing column, a duplicate or empty id, a rate outside [0, 1] or baselines that differ.
    """
    if not isinstance(arms, pd.DataFrame):
        raise AllocationError(f"arms must be a pandas DataFrame; got {type(arms).__name__}")
    missing = [c for c in ("arm_id", "true_rate", "baseline") if c not in arms.columns]
    if missing:
        raise AllocationError(
            f"the arms table lacks column(s) {missing}; it needs arm_id, true_rate and baseline "
            f"(label optional). It has {list(arms.columns)}"
        )
    out = arms.loc[:, ["arm_id", "true_rate", "baseline"]].reset_index(drop=True)
    if out["arm_id"].isna().any():
        raise AllocationError(f"arm_id is empty in row(s) {out.index[out['arm_id'].isna()].tolist()}: name every arm")
    dupes = sorted(out.loc[out["arm_id"].duplicated(), "arm_id"].astype(str).unique())
    if dupes:
        raise AllocationError(f"arm_id must be unique; repeated: {dupes}. Aggregate or rename those arms")
    for col in ("true_rate", "baseline"):
        values = pd.to_numeric(out[col], errors="coerce")
        bad = ~values.between(0, 1)
        if bad.any():
            rows = out.loc[bad, ["arm_id", col]].head(5).to_dict("records")
            raise AllocationError(f"{col} must be a probability in [0, 1]; got {rows}")
        out[col] = values.astype(float)
    if not np.allclose(out["baseline"], out["baseline"].iloc[0], rtol=1e-9, atol=0):
        raise AllocationError(
            f"baseline differs across arms ({out['baseline'].min():.3g}..{out['baseline'].max():.3g}), but one "
            "holdout measures one baseline: allocate each audience separately, or pass its population-weighted "
            "baseline for every arm"
        )
    labels = arms["label"].reset_index(drop=True) if "label" in arms.columns else out["arm_id"]
    out.insert(1, "label", labels.astype(str).to_numpy())
    return out


def largest_remainder(shares: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers proportional to ``shares`` that sum to ``total`` (largest-remainder rounding).

    Parameters
    ----------
    shares
        Non-negative shares summing to 1 (or all zero: nothing is allocated).
    total
        Whole number to split.

    Returns
    -------
    numpy.ndarray
        Integers; ties in the remainders go to the first arm.
    """
    shares = np.asarray(shares, dtype=float)
    if shares.sum() <= 0:
        return np.zeros(len(shares), dtype=np.int64)
    raw = shares / shares.sum() * total
    counts = np.floor(raw).astype(np.int64)
    left = int(total - counts.sum())
    counts[np.argsort(-(raw - counts), kind="stable")[:left]] += 1
    return counts


@dataclass(frozen=True)
class AllocationRun:
    """One simulated allocation.

    Attributes
    ----------
    policy
        ``"thompson"``, ``"even"`` or ``"oracle"``.
    daily
        One row per day and arm, columns :data:`DAILY_COLUMNS`: ``share`` of the day's ad
        impressions, ``prob_best`` (Thompson sampling's posterior probability that the arm is the best, from the
        day's draws; NaN on day 1, for killed arms and for the other policies),
        ``killed`` (True from the day the kill was decided: the arm spends that day and gets 0
        after), ``p_below_baseline`` (the kill switch's probability at the end of the day), the
        posterior mean and central 95% interval of the rate after the day, ``relaxed`` (a kill
        loosened that day's pacing or cap).
    regret
        One row per day, columns :data:`REGRET_COLUMNS`.
    holdout
        One row per day: ``day``, ``impressions``, ``conversions`` and the posterior mean of the baseline.
    killed
        Arm id -> day the kill was decided (0 = before day 1, the oracle's perfect kill switch).
    arms
        The checked arms table.
    config
        The rules it ran under.
    """

    policy: str
    daily: pd.DataFrame
    regret: pd.DataFrame
    holdout: pd.DataFrame
    killed: Mapping[object, int]
    arms: pd.DataFrame
    config: AllocationConfig

    def spend_share(self) -> pd.Series:
        """Each arm's share of all ad impressions over the horizon (indexed by ``arm_id``)."""
        totals = self.daily.groupby("arm_id", sort=False)["impressions"].sum()
        return (totals / max(int(totals.sum()), 1)).reindex(self.arms["arm_id"]).rename("spend_share")

    def summary(self) -> pd.DataFrame:
        """One row per arm: true rate, share of spend, impressions, conversions, final posterior, kill day."""
        sums = self.daily.groupby("arm_id", sort=False)[["impressions", "conversions", "expected_conversions"]].sum()
        last = self.daily[self.daily["day"] == self.daily["day"].max()].set_index("arm_id")
        out = self.arms.set_index("arm_id")
        out = out.join(self.spend_share()).join(sums)
        out = out.join(last[["posterior_mean", "posterior_low", "posterior_high"]])
        out["killed_on"] = pd.array([self.killed.get(a) for a in out.index], dtype="Int64")
        return out.reset_index()


@dataclass(frozen=True)
class PolicyComparison:
    """Thompson sampling, the even split and the oracle on the same arms, rules and seed.

    Attributes
    ----------
    runs
        ``"thompson"``, ``"even"``, ``"oracle"`` -> :class:`AllocationRun`.
    regret
        Cumulative regret against the oracle per day for ``thompson`` and ``even``
        (columns ``policy``, ``day``, ``cumulative_regret``).
    regret_ratio
        Thompson's cumulative regret at the horizon over the even split's (NaN when the even
        split has none, e.g. equal arms).
    """

    runs: Mapping[str, AllocationRun]
    regret: pd.DataFrame
    regret_ratio: float

    def summary(self) -> pd.DataFrame:
        """One row per policy: expected and realised conversions, regret at the horizon, arms killed."""
        rows = []
        for name, run in self.runs.items():
            rows.append(
                {
                    "policy": name,
                    "expected_conversions": float(run.regret["expected_conversions"].sum()),
                    "conversions": int(run.daily["conversions"].sum()),
                    "regret_at_horizon": float(run.regret["cumulative_regret"].iloc[-1]),
                    "arms_killed": len(run.killed),
                }
            )
        return pd.DataFrame(rows)


def _oracle_plan(rates: np.ndarray, live: np.ndarray, config: AllocationConfig) -> list[np.ndarray]:
    """Plan the oracle's shares per day: day 1 even over the live arms, then the best within the day's bounds."""
    plan: list[np.ndarray] = []
    shares: np.ndarray | None = None
    for _ in range(config.days):
        if shares is None:
            shares = np.where(live, 1.0 / max(int(live.sum()), 1), 0.0) if live.any() else np.zeros(len(live))
        else:
            bounds = share_bounds(
                shares, live, floor=config.floor, cap=config.cap, max_daily_change=config.max_daily_change
            )
            shares = best_shares(np.where(live, rates, -np.inf), bounds.lower, bounds.upper)
        plan.append(shares)
    return plan


def simulate_allocation(
    arms: pd.DataFrame, config: AllocationConfig, policy: Policy = "thompson", *, kill_switch: bool | None = None
) -> AllocationRun:
    """Run one policy over ``config.days`` days against the arms' true rates.

    Parameters
    ----------
    arms
        Arms table (see :func:`check_arms`).
    config
        The rules: horizon, budget, floor, cap, pacing, holdout, kill switch, draws, seed.
    policy
        ``"thompson"``, ``"even"`` or ``"oracle"`` (see the module docstring).
    kill_switch
        Override the kill switch for this run; ``None``: ``config.kill_switch`` for Thompson and the
        oracle, off for the even split. The reference oracle of the regret always follows
        ``config.kill_switch``.

    Returns
    -------
    AllocationRun
        Daily shares, impressions, outcomes, posteriors and kills, with regret against the oracle.

    Raises
    ------
    AllocationError
        A bad arms table, an unknown policy, or rules the arms cannot satisfy.
    """
    if policy not in _POLICIES:
        raise AllocationError(f"policy must be one of {list(_POLICIES)}; got {policy!r}")
    table = check_arms(arms)
    n = len(table)
    config.check_arms(n)
    kill = (config.kill_switch if policy != "even" else False) if kill_switch is None else kill_switch
    if kill and config.holdout_impressions < 1:
        raise AllocationError("kill_switch=True needs a holdout: raise holdout_share in the config")
    rates = table["true_rate"].to_numpy()
    baseline = float(table["baseline"].iloc[0])
    harmful = rates < baseline

    reference_live = ~harmful if config.kill_switch else np.ones(n, dtype=bool)
    reference = [
        largest_remainder(s, config.ad_impressions) @ rates for s in _oracle_plan(rates, reference_live, config)
    ]
    oracle_live = ~harmful if kill else np.ones(n, dtype=bool)
    oracle_plan = _oracle_plan(rates, oracle_live, config) if policy == "oracle" else None

    outcome_seed, draw_seed = np.random.SeedSequence(config.seed).spawn(2)
    outcomes, draw_rng = np.random.default_rng(outcome_seed), np.random.default_rng(draw_seed)
    posteriors = ThompsonPosteriors(n, seed=config.seed)
    killed: dict[object, int] = {}
    if policy == "oracle" and kill:
        killed = {table["arm_id"].iloc[i]: 0 for i in np.flatnonzero(harmful)}
    live = ~harmful if policy == "oracle" and kill else np.ones(n, dtype=bool)
    days, holdout_rows = [], []
    shares: np.ndarray | None = None
    cum_impressions = np.zeros(n, dtype=np.int64)
    for day in range(1, config.days + 1):
        wish = np.full(n, np.nan)
        relaxed = False
        if oracle_plan is not None:
            shares = oracle_plan[day - 1]
        elif shares is None or not live.any():
            shares = np.where(live, 1.0 / max(int(live.sum()), 1), 0.0)
        else:
            bounds = share_bounds(
                shares, live, floor=config.floor, cap=config.cap, max_daily_change=config.max_daily_change
            )
            if policy == "thompson":
                alpha, beta = posteriors.counts()
                best, wanted = thompson_target(
                    alpha[:n][live],
                    beta[:n][live],
                    draws=config.draws,
                    rng=draw_rng,
                    floor=config.floor,
                    cap=config.cap,
                    ranked=config.thompson_target == "ranked",
                )
                wish[live] = best
                target = np.zeros(n)
                target[live] = wanted
            else:
                target = np.where(live, 1.0 / live.sum(), 0.0)
            shares = project_shares(target, bounds.lower, bounds.upper)
            relaxed = bounds.relaxed
        impressions = largest_remainder(shares, config.ad_impressions)
        conversions = outcomes.binomial(impressions, rates)
        holdout_conv = int(outcomes.binomial(config.holdout_impressions, baseline))
        posteriors.update(impressions, conversions, config.holdout_impressions, holdout_conv)
        cum_impressions += impressions
        alpha, beta = posteriors.counts()
        below = np.full(n, np.nan)
        if config.holdout_impressions > 0 and live.any():
            below[live] = prob_below(alpha[:n][live], beta[:n][live], alpha[n], beta[n])
        if kill and policy != "oracle":
            for i in np.flatnonzero(
                live & (cum_impressions >= config.min_impressions_to_kill) & (below >= config.kill_probability)
            ):
                killed[table["arm_id"].iloc[i]] = day
                live[i] = False
        days.append((day, shares, wish, impressions, conversions, below, alpha[:n], beta[:n], relaxed))
        holdout_rows.append((day, config.holdout_impressions, holdout_conv, alpha[n] / (alpha[n] + beta[n])))

    daily = _daily_frame(policy, table, days, killed, config)
    regret = _regret_frame(policy, daily, reference)
    holdout = pd.DataFrame(holdout_rows, columns=["day", "impressions", "conversions", "posterior_mean"])
    return AllocationRun(
        policy=policy,
        daily=daily,
        regret=regret,
        holdout=holdout,
        killed=dict(killed),
        arms=table,
        config=config,
    )


def _daily_frame(
    policy: str, table: pd.DataFrame, days: list[tuple], killed: Mapping[object, int], config: AllocationConfig
) -> pd.DataFrame:
    n = len(table)
    day_no, shares, wish, imps, convs, below, alpha, beta, relaxed = (np.array(v) for v in zip(*days, strict=True))
    alpha, beta = alpha.ravel(), beta.ravel()
    tail = (1 - INTERVAL) / 2
    kill_day = np.array([killed.get(a, np.inf) for a in table["arm_id"]], dtype=float)
    day_col = np.repeat(day_no, n)
    imps = imps.ravel()
    daily = pd.DataFrame(
        {
            "policy": policy,
            "day": day_col,
            "arm_id": np.tile(table["arm_id"].to_numpy(), len(day_no)),
            "label": np.tile(table["label"].to_numpy(), len(day_no)),
            "share": shares.ravel(),
            "prob_best": wish.ravel(),
            "impressions": imps,
            "conversions": convs.ravel(),
            "expected_conversions": imps * np.tile(table["true_rate"].to_numpy(), len(day_no)),
            "cost": imps / 1000 * (config.cost_per_mille if config.cost_per_mille is not None else np.nan),
            "killed": day_col >= np.tile(kill_day, len(day_no)),
            "p_below_baseline": below.ravel(),
            "posterior_mean": alpha / (alpha + beta),
            "posterior_low": betaincinv(alpha, beta, tail),
            "posterior_high": betaincinv(alpha, beta, 1 - tail),
            "relaxed": np.repeat(relaxed, n),
        }
    )
    return daily.loc[:, list(DAILY_COLUMNS)]


def _regret_frame(policy: str, daily: pd.DataFrame, reference: list[float]) -> pd.DataFrame:
    value = daily.groupby("day", sort=True)["expected_conversions"].sum().to_numpy()
    oracle = np.asarray(reference, dtype=float)
    regret = oracle - value
    return pd.DataFrame(
        {
            "policy": policy,
            "day": np.arange(1, len(value) + 1),
            "expected_conversions": value,
            "oracle_expected_conversions": oracle,
            "regret": regret,
            "cumulative_regret": np.cumsum(regret),
        }
    ).loc[:, list(REGRET_COLUMNS)]


def compare_policies(arms: pd.DataFrame, config: AllocationConfig) -> PolicyComparison:
    """Run Thompson sampling, the even split and the oracle on the same arms, rules and seed.

    Parameters
    ----------
    arms
        Arms table (see :func:`check_arms`).
    config
        The rules; Thompson and the oracle follow ``config.kill_switch``, the even split runs without it.

    Returns
    -------
    PolicyComparison
        The three runs, the cumulative regret curves of Thompson and the even split, and
        ``regret_ratio`` = Thompson's regret at the horizon / the even split's.
    """
    runs = {p: simulate_allocation(arms, config, p) for p in _POLICIES}
    curves = pd.concat(
        [runs[p].regret[["policy", "day", "cumulative_regret"]] for p in ("thompson", "even")], ignore_index=True
    )
    even_total = float(runs["even"].regret["cumulative_regret"].iloc[-1])
    thompson_total = float(runs["thompson"].regret["cumulative_regret"].iloc[-1])
    ratio = thompson_total / even_total if even_total > 1e-12 else float("nan")
    return PolicyComparison(runs=runs, regret=curves, regret_ratio=ratio)
