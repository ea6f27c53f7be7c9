"""Targeting policy: the profit arithmetic by hand, limits, and the measured value against the simulator's truth.

The policy's inputs here are the simulator's true uplift and base, so any gap between the
measured value and the true one is the estimator's, not a model's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from galaxy_lib.simulate.uplift import simulate_campaign
from galaxy_lib.uplift.policy import (
    NO_CONTACT,
    Economics,
    assign_policy,
    candidate_policies,
    estimate_policies,
    expected_profit,
    true_policy_value,
)

ARMS = ("coupon", "email")
#: The notebook's default economics: 30 a conversion, 0.10 a contact, a 12 coupon on every coupon conversion.
DEFAULT = Economics(
    margin_per_conversion=30.0, contact_cost={"email": 0.1, "coupon": 0.1}, conversion_cost={"coupon": 12.0}
)


def _truth(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    table, truth = simulate_campaign(n, seed=seed)
    uplift = truth[["tau_email", "tau_coupon"]].rename(columns=lambda c: c.removeprefix("tau_"))
    return table, uplift, truth["base"].to_numpy()


# --------------------------------------------------------------------------- Economics


def test_a_negative_cost_names_the_field_and_the_arm() -> None:
    with pytest.raises(ValidationError, match=r"contact_cost must be >= 0 for every arm; got \{'email': -0\.1\}"):
        Economics(margin_per_conversion=30, contact_cost={"email": -0.1, "coupon": 0.1})
    with pytest.raises(ValidationError, match=r"conversion_cost must be >= 0 for every arm; got \{'coupon': nan\}"):
        Economics(margin_per_conversion=30, conversion_cost={"coupon": float("nan")})
    for field, value in (("margin_per_conversion", 0), ("budget", -1), ("max_contacts", -1)):
        with pytest.raises(ValidationError, match=field):
            Economics(**{"margin_per_conversion": 30, field: value})


def test_check_arms_refuses_costs_of_an_unknown_arm() -> None:
    DEFAULT.check_arms(ARMS)
    typo = Economics(margin_per_conversion=30, contact_cost={"emial": 0.1})
    with pytest.raises(
        ValueError,
        match=r"contact_cost names arm\(s\) \['emial'\] that are not in the experiment; its treated arms are "
        r"\['coupon', 'email'\]\. Rename the key\(s\)",
    ):
        typo.check_arms(ARMS)
    with pytest.raises(ValueError, match=r"conversion_cost names arm\(s\) \['sms'\]"):
        Economics(margin_per_conversion=30, conversion_cost={"sms": 1.0}).check_arms(ARMS)


# --------------------------------------------------------------------------- expected profit and the policy

#: Three customers: e-mail pays for the first, nothing for the second, the coupon for the third.
UPLIFT3 = pd.DataFrame(
    {"email": [0.05, -0.01, 0.0], "coupon": [0.10, 0.02, 0.30]}, index=pd.Index(["a", "b", "c"], name="customer")
)
BASE3 = np.array([0.10, 0.50, 0.0])
ECON3 = Economics(margin_per_conversion=30, contact_cost={"email": 0.1, "coupon": 0.2}, conversion_cost={"coupon": 12})


def test_expected_profit_by_hand() -> None:
    profit = expected_profit(UPLIFT3, BASE3, ECON3)
    # margin * uplift - contact - conversion cost * (base + uplift)
    expected = pd.DataFrame(
        {
            "email": [30 * 0.05 - 0.1, 30 * -0.01 - 0.1, -0.1],  # 1.4, -0.4, -0.1
            "coupon": [3.0 - 0.2 - 12 * 0.20, 0.6 - 0.2 - 12 * 0.52, 9.0 - 0.2 - 12 * 0.30],  # 0.4, -5.84, 5.2
        },
        index=UPLIFT3.index,
    )
    pd.testing.assert_frame_equal(profit, expected)


def test_assign_policy_by_hand() -> None:
    policy = assign_policy(UPLIFT3, BASE3, ECON3)
    assert policy.index.equals(UPLIFT3.index)
    assert policy["arm"].tolist() == ["email", NO_CONTACT, "coupon"]
    np.testing.assert_allclose(policy["uplift"], [0.05, 0.0, 0.30])
    np.testing.assert_allclose(policy["profit"], [1.4, 0.0, 5.2])


def test_no_contact_where_every_arm_loses_money() -> None:
    costly = Economics(margin_per_conversion=30, contact_cost={"email": 10.0, "coupon": 10.0})
    policy = assign_policy(UPLIFT3, BASE3, costly)
    assert (policy["arm"] == NO_CONTACT).all()
    assert (policy["uplift"] == 0).all() and (policy["profit"] == 0).all()


#: Six customers, e-mail only; profit 30 * uplift - 1 and spend 1 + 2 * (base + uplift).
UPLIFT6 = pd.DataFrame({"email": [0.10, 0.30, 0.06, 0.20, 0.40, 0.01]})
BASE6 = np.array([0.5, 0.0, 0.2, 0.1, 0.3, 0.9])


def _limited(**limits: float) -> Economics:
    return Economics(margin_per_conversion=30, contact_cost={"email": 1.0}, conversion_cost={"email": 2.0}, **limits)


def test_max_contacts_keeps_the_most_profitable() -> None:
    everyone = assign_policy(UPLIFT6, BASE6, _limited())
    assert everyone["arm"].tolist() == ["email"] * 5 + [NO_CONTACT]  # 30 * 0.01 - 1 - 2 * 0.91 < 0
    policy = assign_policy(UPLIFT6, BASE6, _limited(max_contacts=2))
    assert policy.index[policy["arm"] == "email"].tolist() == [1, 4]  # uplift 0.30 and 0.40
    assert (policy["arm"] != NO_CONTACT).sum() == 2


def test_budget_keeps_the_most_profitable_within_the_spend() -> None:
    economics = _limited(budget=4.5)
    profit = expected_profit(UPLIFT6, BASE6, economics)["email"]
    spend = 1.0 + 2.0 * (BASE6 + UPLIFT6["email"].to_numpy())  # contact + conversion cost * (base + uplift)
    order = profit.sort_values(ascending=False, kind="stable").index
    assert order.tolist()[:3] == [4, 1, 3]
    assert spend[4] + spend[1] <= 4.5 < spend[4] + spend[1] + spend[3]  # 2.4 + 1.6 = 4.0, then 1.6 more
    policy = assign_policy(UPLIFT6, BASE6, economics)
    assert policy.index[policy["arm"] == "email"].tolist() == [1, 4]
    assert spend[policy["arm"].to_numpy() == "email"].sum() <= 4.5
    both = assign_policy(UPLIFT6, BASE6, _limited(budget=100.0, max_contacts=3))
    assert both.index[both["arm"] == "email"].tolist() == [1, 3, 4]


def test_candidate_policies() -> None:
    economics = _limited()
    policy = assign_policy(UPLIFT6, BASE6, economics)
    candidates = candidate_policies(policy, BASE6, ("email",), economics)
    assert list(candidates) == ["uplift targeting", "everyone: email", "propensity: email", NO_CONTACT]
    assert np.array_equal(candidates["uplift targeting"], policy["arm"].to_numpy())
    assert (candidates["everyone: email"] == "email").all()
    assert (candidates[NO_CONTACT] == NO_CONTACT).all()
    # as many contacts as the uplift policy (5), to the highest base: everyone but the lowest base (row 1)
    propensity = candidates["propensity: email"]
    assert (propensity != NO_CONTACT).sum() == (policy["arm"] != NO_CONTACT).sum() == 5
    assert np.flatnonzero(propensity == NO_CONTACT).tolist() == [1]
    limited = _limited(max_contacts=2)
    candidates = candidate_policies(assign_policy(UPLIFT6, BASE6, limited), BASE6, ("email",), limited)
    assert np.flatnonzero(candidates["propensity: email"] == "email").tolist() == [0, 5]  # base 0.5 and 0.9
    assert np.flatnonzero(candidates["everyone: email"] == "email").tolist() == [0, 5]  # within the contact limit


def test_propensity_targeting_contacts_nobody_when_the_uplift_policy_does_not() -> None:
    economics = Economics(margin_per_conversion=30, contact_cost={"email": 100.0}, max_contacts=2)
    policy = assign_policy(UPLIFT6, BASE6, economics)
    assert (policy["arm"] == NO_CONTACT).all()
    candidates = candidate_policies(policy, BASE6, ("email",), economics)
    assert (candidates["propensity: email"] != NO_CONTACT).sum() <= economics.max_contacts


# --------------------------------------------------------------------------- the measured value against the truth


@pytest.fixture(scope="module")
def measured() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The candidate policies of the true uplift measured on a 60,000-customer experiment, and their true value."""
    table, uplift, base = _truth(60_000, seed=5)
    policy = assign_policy(uplift, base, DEFAULT)
    candidates = candidate_policies(policy, base, ARMS, DEFAULT)
    estimate = estimate_policies(
        candidates,
        table["treatment"].to_numpy(),
        table["converted"].to_numpy(),
        "control",
        DEFAULT,
        n_bootstrap=200,
        level=0.9,
        seed=0,
    )
    return estimate.table, true_policy_value(candidates, base, uplift, DEFAULT)


def test_the_true_value_is_inside_the_measured_interval(measured: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table, true = measured
    for name in ("uplift targeting", "everyone: email", "everyone: coupon", "propensity: email"):
        row = table.loc[name]
        assert row["profit_low"] <= row["profit"] <= row["profit_high"], name
        assert row["profit_low"] <= true[name] <= row["profit_high"], (name, true[name], row.to_dict())
    assert table.loc["uplift targeting", "profit_low"] > 0  # it pays, and the experiment shows it


def test_uplift_targeting_beats_propensity_targeting(measured: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table, true = measured
    for arm in ARMS:
        assert true["uplift targeting"] > true[f"propensity: {arm}"], arm
        assert table.loc["uplift targeting", "contacts"] == table.loc[f"propensity: {arm}", "contacts"]
    assert true["uplift targeting"] > true["everyone: email"] > 0 > true["everyone: coupon"]


def test_no_contact_is_worth_exactly_nothing(measured: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table, true = measured
    row = table.loc[NO_CONTACT]
    cols = ["contacts", "conversions", "conversions_low", "conversions_high", "profit", "profit_low", "profit_high"]
    assert (row[cols] == 0).all(), row
    assert true[NO_CONTACT] == 0


def test_true_policy_value_by_hand() -> None:
    value = true_policy_value({"p": np.array(["email", NO_CONTACT, "coupon"], dtype=object)}, BASE3, UPLIFT3, ECON3)
    assert value["p"] == pytest.approx((1.4 + 0.0 + 5.2) / 3)


def test_the_interval_covers_the_true_value_in_repeated_experiments() -> None:
    """20 experiments of 10,000 customers (about 4 s): the 90% interval misses the true value in at most 5."""
    covered, errors = 0, []
    for rep in range(20):
        table, uplift, base = _truth(10_000, seed=100 + rep)
        candidates = {"uplift targeting": assign_policy(uplift, base, DEFAULT)["arm"].to_numpy(dtype=object)}
        estimate = estimate_policies(
            candidates,
            table["treatment"].to_numpy(),
            table["converted"].to_numpy(),
            "control",
            DEFAULT,
            n_bootstrap=100,
            level=0.9,
            seed=rep,
        )
        row = estimate.table.loc["uplift targeting"]
        true = true_policy_value(candidates, base, uplift, DEFAULT)["uplift targeting"]
        covered += bool(row["profit_low"] <= true <= row["profit_high"])
        errors.append(row["profit"] - true)
    assert covered >= 15, f"the 90% interval covered the true value in {covered} of 20 experiments"
    # and the estimate is unbiased: its mean error is within three standard errors of 0
    assert abs(np.mean(errors)) < 3 * np.std(errors, ddof=1) / np.sqrt(len(errors)), errors
