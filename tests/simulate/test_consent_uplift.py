"""Consent coverage and the e-mail experiment's known uplift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.core.contracts import CONSENT_PURPOSES
from galaxy_lib.simulate.customers import SEGMENTS, TCF_MAP
from galaxy_lib.simulate.uplift import BASE_COEFS, TAU_COEFS


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
    seg_b = df["segment"].map({s: BASE_COEFS[f"segment:{s}"] for s in SEGMENTS})
    seg_t = df["segment"].map({s: TAU_COEFS[f"segment:{s}"] for s in SEGMENTS})

    def lin(c, seg):
        return (
            c["intercept"]
            + c["email_engagement"] * df["email_engagement"]
            + c["log1p_past_purchases"] * np.log1p(df["past_purchases"])
            + c["age_per_decade"] * (df["age"] - 45) / 10
            + seg
        )

    base = 1 / (1 + np.exp(-lin(BASE_COEFS, seg_b)))
    tau = np.clip(lin(TAU_COEFS, seg_t), -0.9 * base, 0.5)
    np.testing.assert_allclose(df["base"], base, rtol=1e-9)
    np.testing.assert_allclose(df["tau"], tau, rtol=1e-9, atol=1e-12)
    assert ci_world.truth["uplift"]["ate"] == pytest.approx(df["tau"].mean(), abs=1e-12)
    assert ci_world.truth["uplift"]["coefficients"] == {"base": BASE_COEFS, "tau": TAU_COEFS}


def test_randomised_difference_in_means_estimates_the_true_ate(ci_world, experiment):
    df = experiment
    assert 0.45 < df["treatment"].mean() < 0.55
    t, c = df[df.treatment == 1]["converted"], df[df.treatment == 0]["converted"]
    diff = t.mean() - c.mean()
    se = np.sqrt(t.var() / len(t) + c.var() / len(c))
    ate = ci_world.truth["uplift"]["ate"]
    assert 0.015 < ate < 0.05
    assert abs(diff - ate) < 4 * se
    assert (df.loc[df.converted == 0, "revenue"] == 0).all() and (df.loc[df.converted == 1, "revenue"] > 0).all()


def test_sleeping_dogs_exist_and_are_loyal_customers(ci_world, experiment):
    df = experiment
    neg = df["tau"] < 0
    assert 0.05 < neg.mean() < 0.4
    assert ci_world.truth["uplift"]["share_negative"] == pytest.approx(neg.mean(), abs=1e-12)
    by_seg = df.groupby("segment")["tau"].mean()
    assert by_seg["loyal"] < 0 < by_seg["lapsed"]
    assert np.corrcoef(df["email_engagement"], df["tau"])[0, 1] > 0.3
    assert (df["base"] + df["tau"]).between(0, 1).all()
