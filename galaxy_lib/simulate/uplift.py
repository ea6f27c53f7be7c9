"""The randomised campaign experiment: control, an e-mail and a coupon, with known individual uplift.

Mechanism (``ground_truth["uplift"]``)
-------------------------------------
Every customer is assigned to one of :data:`ARMS` with probability 1/3 each,
independently. The outcome is a purchase within 14 days::

    z ~ Normal(0, LATENT_SD)                         # persistent purchase propensity, not stored
    base(x) = sigmoid(b0 + b_eng * email_engagement + b_pp * log1p(past_purchases)
                      + b_age * (age - 45) / 10 + b_seg[segment] + z)
    tau_a(x) = clip(t0 + t_eng * email_engagement + t_pp * log1p(past_purchases)
                    + t_age * (age - 45) / 10 + t_aov * log(avg_order_value / 80)
                    + t_seg[segment], -0.9 * base(x), 0.5)          for a in (email, coupon)
    converted ~ Bernoulli(base(x) + tau_arm(x))      # tau_control = 0
    revenue = converted * Gamma(shape 4, mean avg_order_value)      # the coupon's discount not deducted

The **e-mail** works on engaged readers and lapsed customers; loyal customers
with many past purchases are *sleeping dogs* (negative uplift: the e-mail annoys
them or only shifts a purchase they would have made anyway). The **coupon**
(:data:`COUPON_DISCOUNT` of the order value on every redeemed order) works on
price-sensitive customers (low average order value), lapsed and new ones,
whatever their e-mail engagement; loyal customers redeem it on purchases they
would have made anyway, so it costs more than it earns there.

The campaign went out in daily waves over :data:`SEND_DAYS` days, starting
:data:`SEND_START_BEFORE_END_DAYS` days before the end of the world's period: each
customer's ``sent_at`` is 09:00 on a uniformly drawn day of that window, and the
outcome is known 14 days later (what a daily sequential monitor looks at).

The pre-period (:data:`PRE_PERIOD_DAYS` days before the send) is drawn from the
same propensity: ``pre_orders ~ Poisson(PRE_WINDOWS * base(x))`` and
``pre_revenue`` is their total value. It is what CUPED uses as a covariate.

``truth/uplift.parquet`` holds, per customer, ``customer_id, base, tau_email,
tau_coupon, latent``: exactly the purchase probability without contact and the
change each arm causes. The ATE of each arm is the mean of its ``tau``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from galaxy_lib.simulate._util import rng_for
from galaxy_lib.simulate.customers import SEGMENTS, CustomerBlock

__all__ = [
    "ARMS",
    "BASE_COEFS",
    "CONTROL_ARM",
    "COUPON_DISCOUNT",
    "FORMULA",
    "LATENT_SD",
    "PRE_PERIOD_DAYS",
    "SEND_DAYS",
    "TAU_COEFS",
    "simulate_campaign",
    "simulate_experiment",
]

#: Arm labels of ``email_experiment.treatment``; the first is the control.
ARMS: tuple[str, ...] = ("control", "email", "coupon")
CONTROL_ARM = ARMS[0]
#: Share of the order value the coupon takes off every redeemed order.
COUPON_DISCOUNT = 0.15
#: Standard deviation of the latent purchase propensity (on the logit scale).
LATENT_SD = 1.2
#: Length of the pre-period behind ``pre_orders`` and ``pre_revenue``.
PRE_PERIOD_DAYS = 365
PRE_WINDOWS = PRE_PERIOD_DAYS / 14
#: Days over which the campaign was sent (one wave a day).
SEND_DAYS = 14
#: The first wave went out this many days before the end of the world's period.
SEND_START_BEFORE_END_DAYS = 28

BASE_COEFS: dict[str, float] = {
    "intercept": -3.4,
    "email_engagement": 1.2,
    "log1p_past_purchases": 0.25,
    "age_per_decade": -0.04,
    "segment:new": 0.2,
    "segment:regular": 0.0,
    "segment:loyal": 0.5,
    "segment:lapsed": -0.4,
}
#: Uplift coefficients per treated arm (``log_aov_ratio`` = log(avg_order_value / 80)).
TAU_COEFS: dict[str, dict[str, float]] = {
    "email": {
        "intercept": 0.015,
        "email_engagement": 0.09,
        "log1p_past_purchases": -0.012,
        "age_per_decade": -0.004,
        "log_aov_ratio": 0.0,
        "segment:new": 0.015,
        "segment:regular": 0.0,
        "segment:loyal": -0.035,
        "segment:lapsed": 0.02,
    },
    "coupon": {
        "intercept": 0.035,
        "email_engagement": 0.02,
        "log1p_past_purchases": -0.004,
        "age_per_decade": 0.0,
        "log_aov_ratio": -0.06,
        "segment:new": 0.025,
        "segment:regular": 0.0,
        "segment:loyal": -0.02,
        "segment:lapsed": 0.04,
    },
}
FORMULA = (
    "base = sigmoid(b.intercept + b.email_engagement*email_engagement + b.log1p_past_purchases*log1p(past_purchases) "
    "+ b.age_per_decade*(age-45)/10 + b.segment:<segment> + latent), latent ~ Normal(0, latent_sd); "
    "tau_<arm> = clip(t[arm].intercept + t[arm].email_engagement*email_engagement "
    "+ t[arm].log1p_past_purchases*log1p(past_purchases) + t[arm].age_per_decade*(age-45)/10 "
    "+ t[arm].log_aov_ratio*log(avg_order_value/80) + t[arm].segment:<segment>, -0.9*base, 0.5); "
    "treatment ~ Uniform(arms); converted ~ Bernoulli(base + tau_<treatment>) (tau_control = 0); "
    "pre_orders ~ Poisson(pre_period_days/14 * base); coupon cost = discount * revenue of redeemed orders"
)


def _linear(coefs: dict[str, float], block: CustomerBlock) -> np.ndarray:
    seg = np.array([coefs[f"segment:{s}"] for s in SEGMENTS])[block.segment]
    return (
        coefs["intercept"]
        + coefs["email_engagement"] * block.email_engagement
        + coefs["log1p_past_purchases"] * np.log1p(block.past_purchases)
        + coefs["age_per_decade"] * (block.age - 45) / 10
        + coefs.get("log_aov_ratio", 0.0) * np.log(block.avg_order_value / 80.0)
        + seg
    )


def _order_values(rng: np.random.Generator, orders: np.ndarray, aov: np.ndarray) -> np.ndarray:
    """Total value of ``orders`` orders, each Gamma(4, mean ``aov``): a sum of Gammas is Gamma(4 * orders)."""
    total = np.zeros(len(orders))
    some = orders > 0
    total[some] = rng.gamma(4.0 * orders[some], aov[some] / 4.0)
    return np.round(total, 2)


def simulate_experiment(
    rng: np.random.Generator, block: CustomerBlock, period_end: pd.Timestamp
) -> tuple[pa.Table, pa.Table]:
    """``email_experiment`` rows and ``truth/uplift`` rows of one customer block (period ending ``period_end``)."""
    n = len(block.number)
    latent = rng.normal(0.0, LATENT_SD, n)
    base = 1 / (1 + np.exp(-(_linear(BASE_COEFS, block) + latent)))
    tau = {arm: np.clip(_linear(TAU_COEFS[arm], block), -0.9 * base, 0.5) for arm in ARMS[1:]}
    arm_index = rng.integers(0, len(ARMS), n)
    effect = np.zeros(n)
    for i, arm in enumerate(ARMS[1:], start=1):
        effect[arm_index == i] = tau[arm][arm_index == i]
    converted = (rng.random(n) < base + effect).astype(np.int64)
    revenue = _order_values(rng, converted, block.avg_order_value)
    pre_orders = rng.poisson(PRE_WINDOWS * base).astype(np.int64)
    pre_revenue = _order_values(rng, pre_orders, block.avg_order_value)
    first_wave = (pd.Timestamp(period_end).normalize() - pd.Timedelta(days=SEND_START_BEFORE_END_DAYS)).value
    sent_at = first_wave + (rng.integers(0, SEND_DAYS, n) * 24 + 9) * 3_600_000_000_000
    cid = block.customer_id
    table = pa.table(
        {
            "customer_id": cid,
            "treatment": pa.array(np.asarray(ARMS, dtype=object)[arm_index], pa.string()),
            "converted": pa.array(converted, pa.int64()),
            "revenue": pa.array(revenue, pa.float64()),
            "pre_orders": pa.array(pre_orders, pa.int64()),
            "pre_revenue": pa.array(pre_revenue, pa.float64()),
            "sent_at": pa.array(sent_at, pa.timestamp("ns")),
        }
    )
    truth = pa.table(
        {
            "customer_id": cid,
            "base": pa.array(base),
            **{f"tau_{arm}": pa.array(tau[arm]) for arm in ARMS[1:]},
            "latent": pa.array(latent),
        }
    )
    return table, truth


def simulate_campaign(n_customers: int, seed: int = 0, block_size: int = 50_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate the campaign experiment alone, for ``n_customers`` customers, without building a world.

    Customers are drawn exactly as in a world (:func:`galaxy_lib.simulate.customers.simulate_customers`,
    the default four geos), so learners can be checked and benchmarked at any size in seconds.

    Parameters
    ----------
    n_customers
        Rows of the experiment.
    seed
        Seed of the random streams.
    block_size
        Customers drawn per block (memory stays flat at large sizes).

    Returns
    -------
    table, truth
        ``table``: ``customer_id, treatment, converted, revenue, pre_orders, pre_revenue, sent_at`` and the
        features of ``curated/uplift_features`` (``age, segment, past_purchases, avg_order_value,
        email_engagement, geo, tenure_days``); ``truth``: ``customer_id, base, tau_email,
        tau_coupon, latent`` in the same row order.
    """
    from galaxy_lib.simulate.config import WorldConfig
    from galaxy_lib.simulate.customers import simulate_customers

    if n_customers < 1:
        raise ValueError(f"n_customers must be at least 1; got {n_customers}.")
    cfg = WorldConfig()
    start = pd.Timestamp(cfg.start_week)
    as_of = start + pd.Timedelta(weeks=cfg.n_weeks)
    tables, truths = [], []
    for b, first in enumerate(range(0, n_customers, block_size)):
        n = min(block_size, n_customers - first)
        block = simulate_customers(
            rng_for(seed, "customers", b), first + 1, n, cfg.geo_shares, cfg.geos, start, cfg.n_weeks
        )
        exp, truth = simulate_experiment(rng_for(seed, "experiment", b), block, as_of)
        features = block.table.select(
            ["customer_id", "age", "segment", "past_purchases", "avg_order_value", "email_engagement", "geo"]
        ).to_pandas()
        features["tenure_days"] = (as_of - block.table.column("signup_date").to_pandas()).dt.days
        tables.append(exp.to_pandas().merge(features, on="customer_id", validate="one_to_one"))
        truths.append(truth.to_pandas())
    return pd.concat(tables, ignore_index=True), pd.concat(truths, ignore_index=True)
