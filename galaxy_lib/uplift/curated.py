"""The uplift workflow's curated table: the randomised e-mail experiment with customer features.

The uplift workflow's models and notebook come next; the table is built by
every staging run already (registered in ``pyproject.toml`` under
``galaxy_workbench.curated_tables``), so the data inventory profiles it.

It is a model input, so it holds only customers whose consent covers
:data:`UPLIFT_PURPOSE` at the staging ``as_of`` and still does now: the
experiment read-out and the uplift models measure campaign performance
(``measurement``, like the MMM and the MTA). Targeting customers with the
model's scores is personalisation and needs that consent where a target list is
made.
"""

from __future__ import annotations

import pandas as pd

from galaxy_lib.core.store import DataStore
from galaxy_lib.pipeline.curated import CuratedBuild, CuratedTable, consented_customers

__all__ = ["UPLIFT_FEATURES", "UPLIFT_PURPOSE", "build_uplift_features"]

#: Consent purpose a customer needs to be in ``uplift_features``.
UPLIFT_PURPOSE = "measurement"


def build_uplift_features(store: DataStore, as_of: pd.Timestamp | None) -> CuratedBuild:
    """Build ``curated/uplift_features``: the e-mail experiment with customer features, consented customers only.

    Columns: ``customer_key, treatment, converted, revenue, pre_orders,
    pre_revenue, sent_at`` (from ``staged.email_experiment``; the pre-period and send
    columns are null when the experiment file had none) and ``age, segment, past_purchases,
    avg_order_value, email_engagement, geo, tenure_days`` (from ``staged.customers``;
    ``tenure_days`` = whole days from ``signup_date`` to ``as_of``, negative for a
    signup after ``as_of``). Experiment rows whose customer is not staged (e.g. the
    customer row was quarantined) cannot get features and are left out; so are rows
    of customers without :data:`UPLIFT_PURPOSE` consent at ``as_of`` or who have
    withdrawn it since (:func:`galaxy_lib.pipeline.curated.consented_customers`).
    Both numbers are returned so the report can say so.

    Returns
    -------
    CuratedBuild
        Rows written, and notes counting the experiment rows left out and why.
    """
    if as_of is None:
        raise ValueError("uplift_features needs a reference time (as_of) for tenure_days; the store has no timed data.")
    as_of_sql = f"TIMESTAMP '{pd.Timestamp(as_of).isoformat(sep=' ')}'"
    sql = f"""
        SELECT e.customer_key, e.treatment, e.converted, e.revenue, e.pre_orders, e.pre_revenue, e.sent_at,
               c.age, c.segment, c.past_purchases, c.avg_order_value, c.email_engagement, c.geo,
               date_diff('day', c.signup_date, {as_of_sql}) AS tenure_days
        FROM staged.email_experiment e JOIN staged.customers c USING (customer_key)
        WHERE e.customer_key IN (SELECT customer_key FROM consented)
        ORDER BY e.customer_key
    """
    consented = consented_customers(store, UPLIFT_PURPOSE, as_of)
    with store.connect() as con:
        con.register("consented", consented)
        result = con.sql(sql).to_arrow_table()
        n_exp, n_known = con.sql(
            "SELECT count(*), count(c.customer_key) FROM staged.email_experiment e "
            "LEFT JOIN (SELECT DISTINCT customer_key FROM staged.customers) c USING (customer_key)"
        ).fetchall()[0]
    store.write("curated", "uplift_features", result)
    no_customer = int(n_exp - n_known)
    no_consent = int(n_known - result.num_rows)
    notes = []
    if no_customer:
        notes.append(f"uplift_features: {no_customer:,} experiment row(s) have no staged customer and were left out")
    if no_consent:
        notes.append(
            f"uplift_features: {no_consent:,} experiment row(s) of customers without {UPLIFT_PURPOSE} consent "
            f"at {pd.Timestamp(as_of):%Y-%m-%d} (or withdrawn since) were left out"
        )
    return CuratedBuild(rows=result.num_rows, notes=tuple(notes))


#: ``curated/uplift_features``: ``staged.email_experiment`` joined with customer features, consented customers only.
UPLIFT_FEATURES = CuratedTable(
    name="uplift_features",
    requires=("email_experiment", "customers", "consent"),
    build=build_uplift_features,
    owner="uplift",
    purpose=UPLIFT_PURPOSE,
)
