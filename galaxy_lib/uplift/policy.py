"""Who gets which arm, and what that is worth, with an interval from the experiment itself.

The policy
----------
For a customer with predicted uplift ``tau_a`` of arm ``a`` and predicted
outcome without contact ``base``, contacting with ``a`` is expected to earn::

    profit_a = margin * tau_a - contact_cost_a - conversion_cost_a * (base + tau_a)

(``conversion_cost`` is what every conversion of the arm costs, e.g. a
coupon's discount, paid also by those who would have bought anyway). Each
customer gets the arm with the highest positive profit, or no contact. A budget
(contact plus expected conversion costs) or a contact limit keeps the most
profitable customers first.

What it is worth
----------------
Model predictions are not evidence; the held-out part of the randomised
experiment is. Among the customers a policy sends arm ``a``, the experiment
randomly gave some ``a`` and some nothing, so the difference of their mean
profit is an unbiased estimate of what sending ``a`` to that group earns
(stratified difference in means, one stratum per assigned arm). Summed over
the strata it is the policy's incremental profit per customer, and a Poisson
bootstrap over the held-out rows gives its interval. The same estimate is
made for "everyone gets arm ``a``" and "the same number of contacts to the
customers most likely to buy anyway" (targeting by propensity), so the gain
of uplift targeting is measured, not asserted.

Off-policy evaluation libraries exist, but for a randomised experiment with
known shares the stratified difference is exact, short, and needs no
propensity model; it is written here for that reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from galaxy_lib.core.config import GalaxyConfig

__all__ = [
    "NO_CONTACT",
    "Economics",
    "PolicyEstimate",
    "assign_policy",
    "candidate_policies",
    "estimate_policies",
    "expected_profit",
    "true_policy_value",
]

#: Label of "no contact" in a policy.
NO_CONTACT = "no contact"


class Economics(GalaxyConfig):
    """What a conversion earns and what each arm costs.

    Attributes
    ----------
    margin_per_conversion
        Profit of one conversion before campaign costs (per unit of the outcome
        for an amount).
    contact_cost
        Arm -> cost of contacting one customer with it.
    conversion_cost
        Arm -> cost of every conversion in that arm (a coupon's discount); absent = 0.
    budget
        Most to spend on contacts and conversion costs; 0 = no limit.
    max_contacts
        Most customers to contact; 0 = no limit.
    """

    margin_per_conversion: float = Field(gt=0)
    contact_cost: dict[str, float] = Field(default_factory=dict)
    conversion_cost: dict[str, float] = Field(default_factory=dict)
    budget: float = Field(0.0, ge=0)
    max_contacts: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _non_negative_costs(self) -> Economics:
        for name in ("contact_cost", "conversion_cost"):
            bad = {arm: cost for arm, cost in getattr(self, name).items() if not cost >= 0}
            if bad:
                raise ValueError(f"{name} must be >= 0 for every arm; got {bad}")
        return self

    def check_arms(self, arms: tuple[str, ...]) -> None:
        """Refuse costs named for an arm the experiment does not have (a typo would cost nothing)."""
        for name in ("contact_cost", "conversion_cost"):
            unknown = sorted(set(getattr(self, name)) - set(arms))
            if unknown:
                raise ValueError(
                    f"{name} names arm(s) {unknown} that are not in the experiment; its treated arms are "
                    f"{list(arms)}. Rename the key(s)."
                )

    def contact(self, arm: str) -> float:
        """Cost of one contact with ``arm``."""
        return float(self.contact_cost.get(arm, 0.0))

    def per_conversion(self, arm: str) -> float:
        """Cost of one conversion in ``arm``."""
        return float(self.conversion_cost.get(arm, 0.0))


def expected_profit(uplift: pd.DataFrame, base: np.ndarray, economics: Economics) -> pd.DataFrame:
    """Compute the expected incremental profit of each arm (columns) for each customer (see the module docstring)."""
    base = np.asarray(base, dtype=float)
    return pd.DataFrame(
        {
            arm: economics.margin_per_conversion * uplift[arm].to_numpy()
            - economics.contact(arm)
            - economics.per_conversion(arm) * (base + uplift[arm].to_numpy())
            for arm in uplift.columns
        },
        index=uplift.index,
    )


def _spend(arm: np.ndarray, uplift: pd.DataFrame, base: np.ndarray, economics: Economics) -> np.ndarray:
    spend = np.zeros(len(arm))
    for a in uplift.columns:
        m = arm == a
        spend[m] = economics.contact(a) + economics.per_conversion(a) * (base[m] + uplift[a].to_numpy()[m])
    return spend


def assign_policy(uplift: pd.DataFrame, base: np.ndarray, economics: Economics) -> pd.DataFrame:
    """Give each customer the arm with the highest positive expected profit, within budget and contact limit.

    Returns
    -------
    pandas.DataFrame
        Same index as ``uplift``: ``arm`` (:data:`NO_CONTACT` when nothing pays),
        ``uplift`` and ``profit`` expected from that arm (0 without contact).
    """
    base = np.asarray(base, dtype=float)
    profit = expected_profit(uplift, base, economics)
    best = profit.idxmax(axis=1).to_numpy()
    best_profit = profit.max(axis=1).to_numpy()
    arm = np.where(best_profit > 0, best, NO_CONTACT).astype(object)
    order = np.argsort(-best_profit, kind="stable")
    keep = arm[order] != NO_CONTACT
    if economics.max_contacts:
        keep &= np.cumsum(keep) <= economics.max_contacts
    if economics.budget:
        spend = _spend(arm[order], uplift.iloc[order], base[order], economics)
        keep &= np.cumsum(np.where(keep, spend, 0.0)) <= economics.budget
    dropped = order[~keep]
    arm[dropped] = NO_CONTACT
    chosen_uplift = np.array(
        [uplift.at[i, a] if a != NO_CONTACT else 0.0 for i, a in zip(uplift.index, arm, strict=True)]
    )
    chosen_profit = np.where(arm != NO_CONTACT, best_profit, 0.0)
    return pd.DataFrame({"arm": arm, "uplift": chosen_uplift, "profit": chosen_profit}, index=uplift.index)


def candidate_policies(
    policy: pd.DataFrame, base: np.ndarray, arms: tuple[str, ...], economics: Economics
) -> dict[str, np.ndarray]:
    """List the uplift policy and the alternatives it is judged against, one arm (or none) per customer.

    * ``uplift targeting``: :func:`assign_policy`;
    * ``everyone: <arm>``: every customer gets the arm (within the contact limit);
    * ``propensity: <arm>``: as many contacts as the uplift policy makes, to the
      customers most likely to convert anyway;
    * ``no contact``.
    """
    n = len(policy)
    k = int((policy["arm"] != NO_CONTACT).sum())
    by_propensity = np.argsort(-np.asarray(base, dtype=float), kind="stable")
    out = {"uplift targeting": policy["arm"].to_numpy(dtype=object)}
    for arm in arms:
        everyone = np.full(n, arm, dtype=object)
        if economics.max_contacts and economics.max_contacts < n:
            everyone[by_propensity[economics.max_contacts :]] = NO_CONTACT
        out[f"everyone: {arm}"] = everyone
        top = np.full(n, NO_CONTACT, dtype=object)
        top[by_propensity[:k]] = arm
        out[f"propensity: {arm}"] = top
    out[NO_CONTACT] = np.full(n, NO_CONTACT, dtype=object)
    return out


@dataclass(frozen=True)
class PolicyEstimate:
    """A policy's measured value on the held-out experiment.

    Attributes
    ----------
    table
        One row per policy: ``contacts`` (share of customers contacted),
        ``conversions`` and ``profit`` (incremental, per customer, against no
        contact) with ``*_low``/``*_high`` bootstrap interval bounds, and
        ``true_profit`` when the truth is known.
    level
        Interval level (0.9 = 90%).
    n_bootstrap
        Bootstrap replicates.
    """

    table: pd.DataFrame
    level: float
    n_bootstrap: int


def _stratified_gain(
    assigned: np.ndarray, treatment: np.ndarray, value: np.ndarray, control: str, w: np.ndarray
) -> np.ndarray:
    """Per-customer gain of ``assigned`` for each bootstrap weight row of ``w`` (shape B x n)."""
    total_w = w.sum(axis=1)
    gain = np.zeros(w.shape[0])
    for arm in np.unique(assigned[assigned != NO_CONTACT]):
        stratum = assigned == arm
        treated, untreated = stratum & (treatment == arm), stratum & (treatment == control)
        w_t, w_c = w[:, treated], w[:, untreated]
        mean_t = (w_t @ value[treated]) / w_t.sum(axis=1)
        mean_c = (w_c @ value[untreated]) / w_c.sum(axis=1)
        gain += w[:, stratum].sum(axis=1) / total_w * (mean_t - mean_c)
    return gain


def estimate_policies(
    policies: Mapping[str, np.ndarray],
    treatment: np.ndarray,
    y: np.ndarray,
    control: str,
    economics: Economics,
    n_bootstrap: int = 400,
    level: float = 0.9,
    seed: int = 0,
) -> PolicyEstimate:
    """Measure each policy on the held-out rows of the randomised experiment (see the module docstring).

    Parameters
    ----------
    policies
        Policy name -> assigned arm (or :data:`NO_CONTACT`) per held-out row.
    treatment, y
        Arm actually given and outcome of each held-out row.
    control
        Control arm label.
    economics
        Margin and costs.
    n_bootstrap
        Poisson bootstrap replicates.
    level
        Interval level.
    seed
        Bootstrap seed.

    Returns
    -------
    PolicyEstimate
    """
    treatment = np.asarray(treatment).astype(str)
    y = np.asarray(y, dtype=float)
    margin = economics.margin_per_conversion
    profit = margin * y  # what each customer earned, net of the costs of the arm they got
    for arm in np.unique(treatment[treatment != control]):
        m = treatment == arm
        profit[m] = (margin - economics.per_conversion(arm)) * y[m] - economics.contact(arm)
    rng = np.random.default_rng(seed)
    weights = np.vstack([np.ones(len(y)), rng.poisson(1.0, size=(n_bootstrap, len(y)))]).astype(float)
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    rows = []
    for name, assigned in policies.items():
        assigned = np.asarray(assigned, dtype=object)
        conv = _stratified_gain(assigned, treatment, y, control, weights)
        gain = _stratified_gain(assigned, treatment, profit, control, weights)
        rows.append(
            {
                "policy": name,
                "contacts": float(np.mean(assigned != NO_CONTACT)),
                "conversions": conv[0],
                "conversions_low": float(np.nanquantile(conv[1:], lo)),
                "conversions_high": float(np.nanquantile(conv[1:], hi)),
                "profit": gain[0],
                "profit_low": float(np.nanquantile(gain[1:], lo)),
                "profit_high": float(np.nanquantile(gain[1:], hi)),
            }
        )
    return PolicyEstimate(pd.DataFrame(rows).set_index("policy"), level, n_bootstrap)


def true_policy_value(
    policies: Mapping[str, np.ndarray], base: np.ndarray, true_uplift: pd.DataFrame, economics: Economics
) -> pd.Series:
    """Each policy's true incremental profit per customer, from the known ``base`` and per-arm uplift."""
    profit = expected_profit(true_uplift, base, economics)
    values = {}
    for name, assigned in policies.items():
        assigned = np.asarray(assigned, dtype=object)
        total = np.zeros(len(profit))
        for arm in profit.columns:
            total[assigned == arm] = profit[arm].to_numpy()[assigned == arm]
        values[name] = float(total.mean())
    return pd.Series(values, name="true_profit")
