"""Consent coverage and the e-mail experiment's known uplift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.core.contracts import CONSENT_PURPOSES
from galaxy_lib.simulate.customers import SEGMENTS, TCF_MAP
from galaxy_lib.simulate.uplift import ARMS, BASE_COEFS, LATENT_SD, PRE_PERIOD_DAYS, SEND_DAYS, TAU_COEFS


def _coverage(consent: pd.DataFrame, as_of: pd.Timestamp, n: int) -> dict[str, float]:
    active = (consent["granted_at"] <= as_of) & (consent["withdrawn_at"].isna() | (consent["withdrawn_at"] > as_of))
    return (consent[active].groupby("purpose")["customer_id"].nunique() / n).to_dict()


def test_consent_coverage_rates(ci_world):
    consent = ci_world.table("consent")
    end = pd.Timestamp(ci_world.truth["world"]["end"])
    cov = _coverage(consent, end, 2000)
    assert cov == pytest.approx(ci_world.truth["consent"]["coverage_at_end"], abs=1e-12)
    assert 0.80 <= cov["measurement"] <= 0.90
    assert 0.54 <= cov["personalisation"] <= 0.66
    assert cov["measurement"] > cov["content"] > cov["personalisation"] > cov["advertising"] > 0.4


def test_consent_rows_are_coherent(ci_world):
    consent = ci_world.table("consent")
    customers = ci_world.table("customers").set_index("customer_id")
    start = pd.Timestamp(ci_world.truth["world"]["start_week"])
    end = pd.Timestamp(ci_world.truth["world"]["end"])
    assert set(consent["purpose"]) == set(CONSENT_PURPOSES)
    assert (consent["tcf_purposes"] == consent["purpose"].map(TCF_MAP)).all()
    assert (consent["granted_at"] >= customers.loc[consent["customer_id"], "signup_date"].to_numpy()).all()
    w = consent.dropna(subset=["withdrawn_at"])
    assert (w["withdrawn_at"] > w["granted_at"]).all() and (w["withdrawn_at"] < end).all()
    assert (w["withdrawn_at"] < start).sum() > 0  # a row that never covers the period
    assert w["withdrawn_at"].between(start, end).sum() > 20  # withdrawals mid-period
    # customers without any measurement row (never granted) exist
    has_measurement = set(consent.loc[consent.purpose == "measurement", "customer_id"])
    assert 0 < 2000 - len(has_measurement) < 400
    assert not consent.duplicated(["customer_id", "purpose"]).any()


@pytest.fixture(scope="module")
def experiment(ci_world):
    exp = ci_world.table("email_experiment")
    truth = ci_world.truth_table("uplift")
    cust = ci_world.table("customers")
    return exp.merge(truth, on="customer_id", validate="one_to_one").merge(cust, on="customer_id")


def test_uplift_truth_recomputes_from_customer_features(ci_world, experiment):
    df = experiment

    def lin(c):
        return (
            c["intercept"]
            + c["email_engagement"] * df["email_engagement"]
            + c["log1p_past_purchases"] * np.log1p(df["past_purchases"])
            + c["age_per_decade"] * (df["age"] - 45) / 10
            + c.get("log_aov_ratio", 0.0) * np.log(df["avg_order_value"] / 80)
            + df["segment"].map({s: c[f"segment:{s}"] for s in SEGMENTS})
        )

    base = 1 / (1 + np.exp(-(lin(BASE_COEFS) + df["latent"])))
    np.testing.assert_allclose(df["base"], base, rtol=1e-9)
    truth = ci_world.truth["uplift"]
    assert truth["arms"] == list(ARMS) and truth["control"] == ARMS[0] == "control"
    for arm in ARMS[1:]:
        tau = np.clip(lin(TAU_COEFS[arm]), -0.9 * base, 0.5)
        np.testing.assert_allclose(df[f"tau_{arm}"], tau, rtol=1e-9, atol=1e-12)
        assert truth["ate"][arm] == pytest.approx(df[f"tau_{arm}"].mean(), abs=1e-12)
    assert truth["coefficients"] == {"base": BASE_COEFS, "tau": TAU_COEFS}
    assert 0.6 < df["latent"].std() / LATENT_SD < 1.4


def test_randomised_difference_in_means_estimates_each_arms_true_ate(ci_world, experiment):
    df = experiment
    shares = df["treatment"].value_counts(normalize=True)
    assert set(shares.index) == set(ARMS) and shares.between(0.28, 0.39).all()
    c = df.loc[df.treatment == "control", "converted"]
    for arm in ARMS[1:]:
        t = df.loc[df.treatment == arm, "converted"]
        diff = t.mean() - c.mean()
        se = np.sqrt(t.var() / len(t) + c.var() / len(c))
        ate = ci_world.truth["uplift"]["ate"][arm]
        assert 0.01 < ate < 0.06, arm
        assert abs(diff - ate) < 4 * se, arm
    assert (df.loc[df.converted == 0, "revenue"] == 0).all() and (df.loc[df.converted == 1, "revenue"] > 0).all()


def test_pre_period_purchases_follow_the_same_propensity(experiment):
    df = experiment
    assert ((df["pre_orders"] == 0) == (df["pre_revenue"] == 0)).all()
    # the persistent propensity makes the pre-period predictive of the outcome: CUPED has something to use
    assert np.corrcoef(df["pre_orders"], df["base"])[0, 1] > 0.4
    assert np.corrcoef(df["pre_orders"], df["converted"])[0, 1] > 0.1
    assert df["pre_orders"].mean() == pytest.approx((df["base"] * PRE_PERIOD_DAYS / 14).mean(), rel=0.15)


def test_sleeping_dogs_exist_and_are_loyal_customers(ci_world, experiment):
    df = experiment
    neg = df["tau_email"] < 0
    assert 0.05 < neg.mean() < 0.4
    assert ci_world.truth["uplift"]["share_negative"]["email"] == pytest.approx(neg.mean(), abs=1e-12)
    by_seg = df.groupby("segment")["tau_email"].mean()
    assert by_seg["loyal"] < 0 < by_seg["lapsed"]
    assert np.corrcoef(df["email_engagement"], df["tau_email"])[0, 1] > 0.3
    for arm in ARMS[1:]:
        assert (df["base"] + df[f"tau_{arm}"]).between(0, 1).all()


def test_the_coupon_works_on_price_sensitive_customers_not_on_email_readers(experiment):
    df = experiment
    assert np.corrcoef(np.log(df["avg_order_value"]), df["tau_coupon"])[0, 1] < -0.3
    assert abs(np.corrcoef(df["email_engagement"], df["tau_coupon"])[0, 1]) < 0.3
    # the arms disagree about who to contact, so a multi-arm policy has something to choose
    assert np.corrcoef(df["tau_email"], df["tau_coupon"])[0, 1] < 0.6
    assert 0.2 < (df["tau_coupon"] > df["tau_email"]).mean() < 0.8


def test_the_campaign_went_out_in_daily_waves_before_the_period_end(ci_world, experiment):
    sent = pd.to_datetime(experiment["sent_at"])
    end = pd.Timestamp(ci_world.truth["world"]["end"])
    assert sent.dt.normalize().nunique() == SEND_DAYS and (sent.dt.hour == 9).all()
    assert sent.min().normalize() == end.normalize() - pd.Timedelta(days=28)
    assert (sent + pd.Timedelta(days=14) <= end).all()  # every outcome window closed by the period end
