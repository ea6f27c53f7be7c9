"""The randomised e-mail experiment with a known individual uplift.

Mechanism (``ground_truth["uplift"]``)
-------------------------------------
Every customer is assigned to treatment (receives the campaign e-mail) with
probability 1/2, independently. The outcome is a purchase within 14 days::

    base(x) = sigmoid(b0 + b_eng * email_engagement + b_pp * log1p(past_purchases)
                      + b_age * (age - 45) / 10 + b_seg[segment])
    tau_raw(x) = t0 + t_eng * email_engagement + t_pp * log1p(past_purchases)
                 + t_age * (age - 45) / 10 + t_seg[segment]
    tau(x) = clip(tau_raw(x), -0.9 * base(x), 0.5)
    converted ~ Bernoulli(base(x) + treatment * tau(x))
    revenue = converted * Gamma(shape 4, mean avg_order_value)

Engaged e-mail readers and lapsed customers respond; loyal customers with many
past purchases are *sleeping dogs* (negative uplift: the e-mail annoys them or
only shifts a purchase they would have made anyway). ``tau`` is exactly the
change in purchase probability caused by the e-mail; ``truth/uplift.parquet``
holds it per customer (``customer_id, tau, base``) and the ATE is its mean.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from galaxy_lib.simulate.customers import SEGMENTS, CustomerBlock

__all__ = ["BASE_COEFS", "FORMULA", "TAU_COEFS", "simulate_experiment"]

BASE_COEFS: dict[str, float] = {
    "intercept": -3.2,
    "email_engagement": 1.2,
    "log1p_past_purchases": 0.25,
    "age_per_decade": -0.04,
    "segment:new": 0.2,
    "segment:regular": 0.0,
    "segment:loyal": 0.5,
    "segment:lapsed": -0.4,
}
TAU_COEFS: dict[str, float] = {
    "intercept": 0.015,
    "email_engagement": 0.09,
    "log1p_past_purchases": -0.012,
    "age_per_decade": -0.004,
    "segment:new": 0.015,
    "segment:regular": 0.0,
    "segment:loyal": -0.035,
    "segment:lapsed": 0.02,
}
FORMULA = (
    "base = sigmoid(b.intercept + b.email_engagement*email_engagement + b.log1p_past_purchases*log1p(past_purchases) "
    "+ b.age_per_decade*(age-45)/10 + b.segment:<segment>); "
    "tau = clip(t.intercept + t.email_engagement*email_engagement + t.log1p_past_purchases*log1p(past_purchases) "
    "+ t.age_per_decade*(age-45)/10 + t.segment:<segment>, -0.9*base, 0.5); "
    "converted ~ Bernoulli(base + treatment*tau); treatment ~ Bernoulli(0.5)"
)


def _linear(coefs: dict[str, float], block: CustomerBlock) -> np.ndarray:
    seg = np.array([coefs[f"segment:{s}"] for s in SEGMENTS])[block.segment]
    return (
        coefs["intercept"]
        + coefs["email_engagement"] * block.email_engagement
        + coefs["log1p_past_purchases"] * np.log1p(block.past_purchases)
        + coefs["age_per_decade"] * (block.age - 45) / 10
        + seg
    )


def simulate_experiment(rng: np.random.Generator, block: CustomerBlock) -> tuple[pa.Table, pa.Table]:
    """``email_experiment`` rows and ``truth/uplift`` rows of one customer block."""
    n = len(block.number)
    base = 1 / (1 + np.exp(-_linear(BASE_COEFS, block)))
    tau = np.clip(_linear(TAU_COEFS, block), -0.9 * base, 0.5)
    treatment = (rng.random(n) < 0.5).astype(np.int64)
    converted = (rng.random(n) < base + treatment * tau).astype(np.int64)
    revenue = np.round(converted * rng.gamma(4.0, block.avg_order_value / 4.0), 2)
    cid = block.customer_id
    table = pa.table(
        {
            "customer_id": cid,
            "treatment": pa.array(treatment, pa.int64()),
            "converted": pa.array(converted, pa.int64()),
            "revenue": pa.array(revenue, pa.float64()),
        }
    )
    truth = pa.table({"customer_id": cid, "tau": pa.array(tau), "base": pa.array(base)})
    return table, truth
