"""Customers (with fake but well-formed PII) and their TCF 2.2 consent records.

Customers
---------
``customer_id`` is ``C`` + 8 digits (the customer's 1-based number). 60 % are
existing customers who signed up between 2018-01-01 and the start of the
period; 40 % sign up during the period. A customer is *active* (can be touched
and can convert) from their signup instant (or the period start, if later) to
the end of the period. Features:

* ``age``: 18 + Gamma(4, 7), capped at 90;
* ``past_purchases`` (before the period): Poisson with a Gamma-distributed mean
  growing with tenure (new customers: 0);
* ``segment``: ``new`` (signed up in the period), ``loyal`` (6+ past purchases),
  ``lapsed`` (a quarter of the rest), ``regular``;
* ``avg_order_value``: log-normal around 80;
* ``email_engagement``: Beta(2, 5) (``lapsed``: Beta(1, 6));
* ``email`` ``firstname.lastname<n>@example.com`` and ``phone`` ``+44 7700 900nnn``
  (Ofcom's drama range: well-formed, never a real subscriber).

A latent touch propensity (Gamma, mean 1, not stored) scales every channel's
touch intensity for that customer.

Consent (TCF 2.2)
-----------------
One row per customer and *granted* purpose; ``tcf_purposes`` lists the TCF 2.2
purpose ids behind our purpose (:data:`TCF_MAP`). Definitions:

* **no row** = the customer never granted that purpose (the consent platform only
  stores positive choices);
* ``granted_at`` is shortly after signup (85 %) or later, uniformly between signup
  and the end of the period (15 %, a re-consent prompt);
* ``withdrawn_at`` is set for :data:`WITHDRAW_PROB` of grants, uniformly between
  ``granted_at`` and the period end. For customers who signed up years ago this
  can fall *before* the period start: such a row exists but never covers the
  period.

Consent counts at time ``t`` when ``granted_at <= t`` and (``withdrawn_at`` is null
or ``withdrawn_at > t``). 12 % of customers are privacy-conscious and grant each
purpose with 0.3 times the usual probability. With :data:`GRANT_PROB` this gives
about 85 % coverage for measurement and 60 % for personalisation at the period end.
Consent is independent of behaviour, so the consented subset of any table is a
random sample of it (the truth carries over to consent-filtered analyses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from galaxy_lib.core.contracts import CONSENT_PURPOSES
from galaxy_lib.governance.consent import TCF_PURPOSES
from galaxy_lib.simulate._util import NS_PER_DAY, NS_PER_HOUR, NS_PER_WEEK, format_ids

__all__ = ["GRANT_PROB", "TCF_MAP", "WITHDRAW_PROB", "CustomerBlock", "consent_table", "simulate_customers"]

#: Our purpose -> TCF 2.2 purpose ids, as written to ``consent.tcf_purposes`` (one mapping,
#: owned by governance, so the world's consent strings and the consent filter agree).
TCF_MAP: dict[str, str] = {purpose: ",".join(map(str, ids)) for purpose, ids in TCF_PURPOSES.items()}
#: Probability of granting each purpose (not privacy-conscious customers).
GRANT_PROB: dict[str, float] = {"measurement": 0.985, "personalisation": 0.70, "advertising": 0.66, "content": 0.82}
#: Share of grants later withdrawn.
WITHDRAW_PROB: float = 0.06
PRIVACY_CONSCIOUS: float = 0.12
EXISTING_SHARE: float = 0.60
SEGMENTS: tuple[str, ...] = ("new", "regular", "loyal", "lapsed")
FIRST_SIGNUP = pd.Timestamp("2018-01-01")

_FIRST = (
    "oliver george harry noah jack leo arthur muhammad oscar charlie jacob thomas henry william "
    "olivia amelia isla ava ivy freya lily florence mia willow rosie sophia isabella grace evie "
    "aisha priya sanjay ravi wei mei kofi ama fatima omar liam emma lucas chloe hannah daniel "
    "samuel ella ruby poppy alfie archie theo finley jasmine zara maya nina erin ruth"
).split()
_LAST = (
    "smith jones taylor brown williams wilson johnson davies patel wright robinson thompson evans "
    "walker white roberts green hall wood jackson clarke khan lewis harris martin cooper hill ward "
    "hughes turner morgan baker edwards begum shah ali hussain campbell stewart murray kelly price "
    "bennett gray cox richardson mitchell scott adams palmer fox ellis chen nguyen okafor mensah"
).split()


@dataclass(frozen=True)
class CustomerBlock:
    """One block of customers: the stored table plus the latent arrays the journeys need."""

    table: pa.Table
    number: np.ndarray  # 1-based customer numbers
    geo: np.ndarray  # geo index
    active_start: np.ndarray  # weeks since period start (float, >= 0)
    signup_ns: np.ndarray
    propensity: np.ndarray
    age: np.ndarray
    segment: np.ndarray  # index into SEGMENTS
    past_purchases: np.ndarray
    avg_order_value: np.ndarray
    email_engagement: np.ndarray

    @property
    def customer_id(self) -> pa.Array:
        """The customer ids as one Arrow array."""
        return self.table.column("customer_id").combine_chunks()


def simulate_customers(
    rng: np.random.Generator,
    first_number: int,
    n: int,
    geo_shares: tuple[float, ...],
    geos: tuple[str, ...],
    start: pd.Timestamp,
    n_weeks: int,
) -> CustomerBlock:
    """Draw ``n`` customers numbered from ``first_number`` (see the module docstring)."""
    number = np.arange(first_number, first_number + n, dtype=np.int64)
    geo = rng.choice(len(geo_shares), size=n, p=np.asarray(geo_shares))
    start_ns = start.value
    end_ns = start_ns + n_weeks * NS_PER_WEEK
    existing = rng.random(n) < EXISTING_SHARE
    old = rng.integers(FIRST_SIGNUP.value, start_ns, n)
    new = rng.integers(start_ns, end_ns - NS_PER_WEEK, n)
    signup_ns = np.where(existing, old, new)
    active_start = np.maximum(signup_ns - start_ns, 0) / NS_PER_WEEK

    age = np.minimum(18 + rng.gamma(4.0, 7.0, n), 90).astype(np.int64)
    tenure_years = np.where(existing, (start_ns - signup_ns) / (365.25 * NS_PER_DAY), 0.0)
    pp_mean = rng.gamma(1.5, (1 + 1.2 * tenure_years) / 1.5)
    past_purchases = np.where(existing, rng.poisson(pp_mean), 0).astype(np.int64)
    lapsed = existing & (past_purchases < 6) & (rng.random(n) < 0.25)
    segment = np.where(~existing, 0, np.where(past_purchases >= 6, 2, np.where(lapsed, 3, 1)))
    aov = np.round(rng.lognormal(np.log(80.0), 0.35, n), 2)
    engagement = np.round(np.where(segment == 3, rng.beta(1, 6, n), rng.beta(2, 5, n)), 3)
    propensity = rng.gamma(2.0, 0.5, n)

    first = rng.integers(0, len(_FIRST), n)
    last = rng.integers(0, len(_LAST), n)
    suffix = rng.integers(1, 1000, n)
    phone = rng.integers(0, 1000, n)
    # Vectorised string building (pyarrow), as the bench world has a million customers.
    emails = pc.binary_join_element_wise(
        pa.array(_FIRST).take(pa.array(first)),
        ".",
        pa.array(_LAST).take(pa.array(last)),
        pc.cast(pa.array(suffix), pa.string()),
        "@example.com",
        "",
    )
    phones = format_ids("+44 7700 900", phone, 3)
    signup_date = (signup_ns // NS_PER_DAY) * NS_PER_DAY

    table = pa.table(
        {
            "customer_id": format_ids("C", number, 8),
            "email": emails,
            "phone": phones,
            "geo": pa.array(np.asarray(geos, dtype=object)[geo], pa.string()),
            "signup_date": pa.array(signup_date, pa.timestamp("ns")),
            "age": pa.array(age, pa.int64()),
            "segment": pa.array(np.asarray(SEGMENTS, dtype=object)[segment], pa.string()),
            "past_purchases": pa.array(past_purchases, pa.int64()),
            "avg_order_value": pa.array(aov, pa.float64()),
            "email_engagement": pa.array(engagement, pa.float64()),
        }
    )
    return CustomerBlock(
        table=table,
        number=number,
        geo=geo,
        active_start=active_start,
        signup_ns=signup_ns,
        propensity=propensity,
        age=age,
        segment=segment,
        past_purchases=past_purchases,
        avg_order_value=aov,
        email_engagement=engagement,
    )


def consent_table(rng: np.random.Generator, block: CustomerBlock, end_ns: int) -> pa.Table:
    """Consent rows of one customer block (see the module docstring for the definitions)."""
    n = len(block.number)
    conscious = rng.random(n) < PRIVACY_CONSCIOUS
    rows, purpose_idx, granted, withdrawn, has_withdrawn = [], [], [], [], []
    for k, purpose in enumerate(CONSENT_PURPOSES):
        p = GRANT_PROB[purpose] * np.where(conscious, 0.3, 1.0)
        grant = rng.random(n) < p
        late = rng.random(n) < 0.15
        soon = block.signup_ns + (rng.exponential(2.0, n) * NS_PER_HOUR).astype(np.int64)
        later = block.signup_ns + (rng.random(n) * (end_ns - block.signup_ns)).astype(np.int64)
        g_at = np.where(late, later, soon)
        w = rng.random(n) < WITHDRAW_PROB
        w_at = g_at + (rng.random(n) * (end_ns - g_at)).astype(np.int64)
        idx = np.flatnonzero(grant)
        rows.append(idx)
        purpose_idx.append(np.full(idx.size, k))
        granted.append(g_at[idx])
        withdrawn.append(w_at[idx])
        has_withdrawn.append(w[idx])
    row = np.concatenate(rows)
    pidx = np.concatenate(purpose_idx)
    order = np.lexsort((pidx, row))
    row, pidx = row[order], pidx[order]
    purposes = np.asarray(CONSENT_PURPOSES, dtype=object)
    tcf = np.asarray([TCF_MAP[p] for p in CONSENT_PURPOSES], dtype=object)
    return pa.table(
        {
            "customer_id": block.customer_id.take(pa.array(row)),
            "purpose": pa.array(purposes[pidx], pa.string()),
            "tcf_purposes": pa.array(tcf[pidx], pa.string()),
            "granted_at": pa.array(np.concatenate(granted)[order], pa.timestamp("ns")),
            "withdrawn_at": pa.array(
                np.concatenate(withdrawn)[order], pa.timestamp("ns"), mask=~np.concatenate(has_withdrawn)[order]
            ),
        }
    )
