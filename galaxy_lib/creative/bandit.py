"""Budget allocation across creatives: the rules, the constrained shares and the Thompson posteriors.

A day's budget (impressions) is split across live creatives ("arms"). The policy says
what it would like (for Thompson sampling, from posterior draws: each draw's best
allocation under the floor and cap, averaged, or each arm's probability of being best;
see :func:`thompson_target`); the constraints around it are ours and are applied in
one step by :func:`project_shares`:

* a killed arm gets 0;
* every live arm gets between ``floor`` and ``cap`` of the day's ad impressions;
* pacing: a live arm's share moves by at most ``max_daily_change`` from yesterday;
* the shares sum to 1.

:func:`share_bounds` turns yesterday's shares and the live set into per-arm bounds and
:func:`project_shares` returns the shares closest (Euclidean) to the policy's wish
inside them. Without kills these bounds are always satisfiable (yesterday's shares
satisfy them). A kill can free more share than the survivors may take under pacing
or the cap; on such a day the pacing limit is loosened just enough (and the cap to
``1 / live arms`` if the survivors cannot hold the budget under it) and the day is
flagged ``relaxed``; nothing else is ever loosened.

Posteriors are Beta distributions on each arm's per-impression conversion rate,
kept by mabwiser's Thompson sampling (:class:`ThompsonPosteriors`); the holdout (an
audience share shown no ad) gets one too, and the kill switch compares each arm
against it exactly (:func:`prob_below`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from mabwiser.mab import MAB, LearningPolicy
from pydantic import Field, model_validator
from scipy.special import betaln, logsumexp

from galaxy_lib.core.config import GalaxyConfig

__all__ = [
    "AllocationConfig",
    "AllocationError",
    "ShareBounds",
    "ThompsonPosteriors",
    "best_shares",
    "prob_below",
    "project_shares",
    "rank_weights",
    "share_bounds",
    "thompson_target",
]

#: Slack on sums of shares (floating point), used by the checks of bounds.
_TOL = 1e-9


class AllocationError(ValueError):
    """The arms table or the rules cannot be allocated; the message says what to change."""


class AllocationConfig(GalaxyConfig):
    """Rules of a budget allocation across creatives, validated at construction.

    Attributes
    ----------
    days
        Horizon in days.
    daily_impressions
        The day's budget in impressions, holdout included.
    cost_per_mille
        Price of 1,000 impressions, to express the allocation in money (``cost`` column);
        ``None`` leaves ``cost`` empty.
    floor
        Least share of the day's ad impressions for every live arm; ``floor * arms <= 1``
        is checked when the arms are known.
    cap
        Most share of the day's ad impressions for one arm; ``cap >= floor`` and
        ``cap * arms >= 1`` (checked when the arms are known).
    max_daily_change
        Pacing: a live arm's share moves by at most this much (absolute) from one day to the
        next. The first day is an even split.
    holdout_share
        Share of the day's audience shown no ad, to measure the baseline conversion rate.
    kill_switch
        Whether arms may be switched off when they probably do worse than showing nothing.
        Thompson sampling and the oracle follow it; the even split ignores it unless asked.
    kill_probability
        Kill an arm when ``P(arm rate < holdout rate | data) >= kill_probability``.
    min_impressions_to_kill
        An arm is not judged before it has had this many impressions.
    draws
        Posterior draws per day to estimate each arm's probability of being best.
    thompson_target
        Thompson sampling's wish before the constraints: ``"ranked"`` averages each draw's best
        allocation under the floor and cap (so the share the best arm cannot take under its cap
        goes to the runner-up, not evenly to everyone); ``"prob_best"`` is each arm's
        probability of being best. See :func:`thompson_target`.
    seed
        Seed of the simulated outcomes and of the draws.
    """

    days: int = Field(28, ge=1, le=3650)
    daily_impressions: int = Field(100_000, ge=100)
    cost_per_mille: float | None = Field(None, gt=0)
    floor: float = Field(0.02, ge=0, le=0.5)
    cap: float = Field(0.5, gt=0, le=1)
    max_daily_change: float = Field(0.15, gt=0, le=1)
    holdout_share: float = Field(0.05, ge=0, le=0.5)
    kill_switch: bool = True
    kill_probability: float = Field(0.95, gt=0.5, lt=1)
    min_impressions_to_kill: int = Field(30_000, ge=0)
    draws: int = Field(2_000, ge=100, le=1_000_000)
    thompson_target: Literal["ranked", "prob_best"] = "ranked"
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> AllocationConfig:
        problems = []
        if self.cap < self.floor:
            problems.append(f"cap ({self.cap}) must be >= floor ({self.floor}): raise cap or lower floor")
        if self.kill_switch and self.holdout_impressions < 1:
            problems.append(
                f"kill_switch needs a holdout to measure the baseline, but holdout_share ({self.holdout_share}) "
                f"of daily_impressions ({self.daily_impressions}) rounds to no one: raise holdout_share or set "
                "kill_switch=False"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def holdout_impressions(self) -> int:
        """Impression-equivalents held out each day (rounded)."""
        return round(self.holdout_share * self.daily_impressions)

    @property
    def ad_impressions(self) -> int:
        """Impressions bought each day: the budget minus the holdout."""
        return self.daily_impressions - self.holdout_impressions

    def check_arms(self, n_arms: int) -> None:
        """Refuse rules that no allocation over ``n_arms`` arms can satisfy.

        Raises
        ------
        AllocationError
            ``floor * n_arms > 1`` or ``cap * n_arms < 1``, with the bound that would work.
        """
        if n_arms < 2:
            raise AllocationError(f"an allocation needs at least 2 arms; the arms table has {n_arms}")
        if self.floor * n_arms > 1 + _TOL:
            raise AllocationError(
                f"floor={self.floor} for each of {n_arms} arms needs {self.floor * n_arms:.3g} of the budget; "
                f"floor * arms must be <= 1: lower floor to at most {1 / n_arms:.4g} or allocate fewer arms"
            )
        if self.cap * n_arms < 1 - _TOL:
            raise AllocationError(
                f"cap={self.cap} on each of {n_arms} arms places only {self.cap * n_arms:.3g} of the budget; "
                f"cap * arms must be >= 1: raise cap to at least {1 / n_arms:.4g}"
            )


def _solve_shift(base: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Find ``t`` with ``sum(clip(base + t, lower, upper)) == 1`` (exact: the sum is piecewise linear in ``t``)."""
    knots = np.unique(np.concatenate([lower - base, upper - base]))
    totals = np.clip(base[None, :] + knots[:, None], lower, upper).sum(axis=1)  # non-decreasing in t
    k = int(np.searchsorted(totals, 1.0))
    if k == 0:
        return float(knots[0])
    if k == len(knots):
        return float(knots[-1])
    rise = totals[k] - totals[k - 1]
    if rise <= 0:
        return float(knots[k])
    return float(knots[k - 1] + (1.0 - totals[k - 1]) * (knots[k] - knots[k - 1]) / rise)


def project_shares(target: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Shares closest to ``target`` (Euclidean) within ``[lower, upper]`` that sum to 1.

    The solution is ``clip(target + t, lower, upper)`` for the one shift ``t`` that makes the
    sum 1; ``t`` is found exactly from the breakpoints of that piecewise-linear sum.

    Parameters
    ----------
    target
        What the policy would like (any real numbers; usually shares summing to 1).
    lower, upper
        Per-arm bounds, ``lower <= upper``, ``sum(lower) <= 1 <= sum(upper)``; an arm with
        ``lower == upper == 0`` is switched off.

    Returns
    -------
    numpy.ndarray
        Shares inside the bounds, summing to 1 (to rounding).

    Raises
    ------
    AllocationError
        Mismatched lengths, a non-finite value, ``lower > upper`` or bounds that cannot sum to 1.
    """
    target, lower, upper = (np.asarray(a, dtype=float) for a in (target, lower, upper))
    if not target.shape == lower.shape == upper.shape or target.ndim != 1:
        raise AllocationError(
            f"target, lower and upper must be 1-d and of one length; got {target.shape}, {lower.shape}, {upper.shape}"
        )
    if not (np.isfinite(target).all() and np.isfinite(lower).all() and np.isfinite(upper).all()):
        raise AllocationError("target, lower and upper must be finite numbers")
    if (lower > upper + _TOL).any():
        bad = np.flatnonzero(lower > upper + _TOL).tolist()
        raise AllocationError(f"lower exceeds upper at positions {bad}: each arm needs lower <= upper")
    if lower.sum() > 1 + _TOL or upper.sum() < 1 - _TOL:
        raise AllocationError(
            f"no shares fit: the bounds must allow a sum of 1, but sum(lower)={lower.sum():.6g} and "
            f"sum(upper)={upper.sum():.6g}"
        )
    upper = np.maximum(upper, lower)
    return np.clip(target + _solve_shift(target, lower, upper), lower, upper)


class ShareBounds:
    """Per-arm bounds of one day's shares (see :func:`share_bounds`).

    Attributes
    ----------
    lower, upper
        Arrays over all arms (killed arms: 0 and 0).
    relaxed
        True when a kill forced the pacing limit (or the cap) to be loosened that day.
    """

    __slots__ = ("lower", "relaxed", "upper")

    def __init__(self, lower: np.ndarray, upper: np.ndarray, relaxed: bool) -> None:
        self.lower, self.upper, self.relaxed = lower, upper, relaxed


def share_bounds(
    previous: np.ndarray | None, live: np.ndarray, *, floor: float, cap: float, max_daily_change: float
) -> ShareBounds:
    """Bounds on today's shares from yesterday's shares and the live arms.

    Parameters
    ----------
    previous
        Yesterday's shares over all arms (``None`` on the first day: no pacing, the bounds are
        the floor and the cap).
    live
        Boolean mask of arms still allowed to spend.
    floor, cap, max_daily_change
        As in :class:`AllocationConfig`.

    Returns
    -------
    ShareBounds
        Killed arms are held at 0. A live arm gets ``[max(floor, prev - change), min(cap, prev +
        change)]``. If kills left the live arms unable to hold the budget under the cap, the cap
        becomes ``1 / live arms``; if they cannot take the freed share within the pacing limit,
        the upward limit grows to the smallest value that lets them (``relaxed=True`` either way).
    """
    live = np.asarray(live, dtype=bool)
    n_live = int(live.sum())
    zeros = np.zeros(live.shape)
    if n_live == 0:
        return ShareBounds(zeros, zeros.copy(), relaxed=False)
    cap_now = max(cap, 1.0 / n_live)
    relaxed = cap_now > cap
    if previous is None:
        lower = np.where(live, min(floor, 1.0 / n_live), 0.0)
        return ShareBounds(lower, np.where(live, cap_now, 0.0), relaxed)
    prev = np.where(live, np.asarray(previous, dtype=float), 0.0)
    lower = np.where(live, np.maximum(floor, prev - max_daily_change), 0.0)
    upper = np.where(live, np.minimum(cap_now, prev + max_daily_change), 0.0)
    if upper.sum() < 1 - _TOL:  # a kill freed more share than the survivors may take today
        ceiling = np.where(live, cap_now, 0.0)
        change = _solve_shift(prev, prev, ceiling)
        upper = np.where(live, np.minimum(cap_now, prev + change), 0.0)
        relaxed = True
    return ShareBounds(np.minimum(lower, upper), upper, relaxed)


def best_shares(values: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Shares maximising ``sum(shares * values)`` within the bounds (the oracle's day).

    Every arm starts at its lower bound; what is left goes to the most valuable arm up to
    its upper bound, then the next, and so on (ties: first arm first). This is the exact
    optimum of that linear programme.

    Parameters
    ----------
    values
        Value of one unit of share per arm (the true conversion rates).
    lower, upper
        Bounds with ``sum(lower) <= 1 <= sum(upper)``.

    Returns
    -------
    numpy.ndarray
        Optimal shares summing to 1 (all zero when no arm may spend).
    """
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    shares = lower.copy()
    left = 1.0 - shares.sum()
    for i in np.argsort(-np.asarray(values, dtype=float), kind="stable"):
        if left <= 0:
            break
        add = min(upper[i] - shares[i], left)
        shares[i] += add
        left -= add
    return shares


def rank_weights(n_live: int, floor: float, cap: float) -> np.ndarray:
    """Best shares by rank when the arms' order is known: the floor for all, then the cap from the top.

    Parameters
    ----------
    n_live
        Number of arms sharing the budget.
    floor, cap
        As in :class:`AllocationConfig` (the cap rises to ``1 / n_live`` if it cannot hold the budget).

    Returns
    -------
    numpy.ndarray
        Share of the arm ranked first, second, ... (sums to 1).
    """
    cap = max(cap, 1.0 / n_live)
    floor = min(floor, 1.0 / n_live)
    return best_shares(-np.arange(n_live, dtype=float), np.full(n_live, floor), np.full(n_live, cap))


def thompson_target(
    alpha: np.ndarray,
    beta: np.ndarray,
    *,
    draws: int,
    rng: np.random.Generator,
    floor: float = 0.0,
    cap: float = 1.0,
    ranked: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Thompson sampling's wish for the day, from ``draws`` joint draws of the arms' rates.

    Parameters
    ----------
    alpha, beta
        Beta posterior parameters of the live arms.
    draws
        Number of joint draws.
    rng
        Source of the draws.
    floor, cap
        The day's floor and cap, used by the ranked wish.
    ranked
        ``True``: each draw's best allocation under the floor and cap (:func:`rank_weights` by the
        draw's order), averaged over the draws; the Thompson rule "play the best action for a
        sampled truth" applied to a capped budget. With ``floor=0, cap=1`` it is the probability
        of being best. ``False``: the probability of being best.

    Returns
    -------
    prob_best, target
        Share of draws in which each arm has the highest rate, and the wish (both sum to 1).
    """
    k = len(alpha)
    samples = rng.beta(alpha, beta, size=(draws, k))
    order = np.argsort(-samples, axis=1)
    best = np.bincount(order[:, 0], minlength=k) / draws
    if not ranked:
        return best, best
    weights = rank_weights(k, floor, cap)
    target = np.bincount(order.ravel(), weights=np.tile(weights, draws), minlength=k)
    return best, target / draws


def prob_below(alpha: np.ndarray, beta: np.ndarray, alpha_ref: float, beta_ref: float) -> np.ndarray:
    """Exact ``P(X < Y)`` for ``X ~ Beta(alpha, beta)`` (each arm) and ``Y ~ Beta(alpha_ref, beta_ref)``.

    Uses the closed form for an integer ``alpha_ref`` (a sum of ``alpha_ref`` terms, computed
    in logs): ``sum_i B(alpha + i, beta + beta_ref) / ((beta_ref + i) B(1 + i, beta_ref) B(alpha, beta))``.

    Parameters
    ----------
    alpha, beta
        Posterior parameters of the arms.
    alpha_ref, beta_ref
        Posterior parameters of the reference (the holdout); ``alpha_ref`` must be a whole number.

    Returns
    -------
    numpy.ndarray
        Probability, per arm, that its rate is below the reference's.
    """
    if alpha_ref != int(alpha_ref) or alpha_ref < 1:
        raise AllocationError(f"alpha_ref must be a whole number >= 1 (successes + 1); got {alpha_ref}")
    a = np.asarray(alpha, dtype=float)[:, None]
    b = np.asarray(beta, dtype=float)[:, None]
    i = np.arange(int(alpha_ref), dtype=float)[None, :]
    terms = betaln(a + i, b + beta_ref) - np.log(beta_ref + i) - betaln(1 + i, beta_ref) - betaln(a, b)
    return np.clip(np.exp(logsumexp(terms, axis=1)), 0.0, 1.0)


class ThompsonPosteriors:
    """Beta posteriors of the arms and of the holdout, kept by mabwiser's Thompson sampling.

    mabwiser's ``ThompsonSampling`` holds a success and a failure count per arm (a
    ``Beta(1 + conversions, 1 + non-conversions)`` posterior) and learns only from one
    0/1 reward per decision: its failure count grows by the number of rows it is given,
    so a day's aggregate (impressions, conversions) cannot be passed as counts and is
    expanded into one row per impression (about 10 ms for 100k impressions, most of it
    mabwiser's own input checks). The holdout is one more arm of the same model.

    What mabwiser cannot serve: its draws come back as one dict per draw (about 20 ms for
    2,000 draws of 10 arms), and it exposes no public read of the counts. The counts are
    therefore read from its Thompson state and the probability of being best is estimated
    with numpy (:func:`prob_best`); tests check the counts equal ``1 + conversions`` and
    ``1 + impressions - conversions``.

    Parameters
    ----------
    n_arms
        Number of creatives; arm ``n_arms`` is the holdout.
    seed
        Seed of mabwiser's own generator (its draws are not used).
    """

    def __init__(self, n_arms: int, seed: int) -> None:
        self.n_arms = n_arms
        self._ids = np.arange(n_arms + 1, dtype=np.int32)
        self._mab = MAB(arms=self._ids.tolist(), learning_policy=LearningPolicy.ThompsonSampling(), seed=seed)

    def update(self, impressions: np.ndarray, conversions: np.ndarray, holdout: int, holdout_conversions: int) -> None:
        """Learn one day's results: per-arm impressions and conversions, then the holdout's."""
        trials = np.append(np.asarray(impressions, dtype=np.int64), holdout)
        wins = np.append(np.asarray(conversions, dtype=np.int64), holdout_conversions)
        if (wins > trials).any() or (wins < 0).any():
            raise AllocationError("conversions must be between 0 and the impressions of each arm")
        if trials.sum() == 0:
            return
        decisions = np.repeat(self._ids, trials)
        # int64: mabwiser adds the rewards up with Python's sum (a small integer type could overflow,
        # and int64 scalars are the quickest of the types it accepts)
        rewards = np.zeros(len(decisions), dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(trials)[:-1]])
        for start, n_wins in zip(starts, wins, strict=True):
            rewards[start : start + n_wins] = 1
        self._mab.partial_fit(decisions, rewards)

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Beta parameters ``(alpha, beta)`` over the arms then the holdout (last)."""
        state = self._mab._imp  # ThompsonSampling's counts: mabwiser has no public accessor
        alpha = np.array([state.arm_to_success_count[i] for i in self._ids.tolist()], dtype=float)
        beta = np.array([state.arm_to_fail_count[i] for i in self._ids.tolist()], dtype=float)
        return alpha, beta
