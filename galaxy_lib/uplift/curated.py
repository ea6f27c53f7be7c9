"""The uplift workflow's curated table: the randomised e-mail experiment with customer features.

The uplift workflow's models and notebook come next; the table is built by
every staging run already (registered in ``pyproject.toml`` under
``galaxy_workbench.curated_tables``), so the data inventory profiles it.
"""

from __future__ import annotations

import pandas as pd

from galaxy_lib.core.store import DataStore
from galaxy_lib.pipeline.curated import CuratedBuild, CuratedTable

__all__ = ["UPLIFT_FEATURES", "build_uplift_features"]


def build_uplift_features(store: DataStore, as_of: pd.Timestamp | None) -> CuratedBuild:
    """Build ``curated/uplift_features``: the e-mail experiment with customer features.

    Columns: ``customer_key, treatment, converted, revenue`` (from
    ``staged.email_experiment``) and ``age, segment, past_purchases,
    avg_order_value, email_engagement, geo, tenure_days`` (from ``staged.customers``;
    ``tenure_days`` = whole days from ``signup_date`` to ``as_of``, negative for a
    signup after ``as_of``). Experiment rows whose customer is not staged (e.g. the
    customer row was quarantined) cannot get features and are left out; their
    number is returned so the report can say so.

    Returns
    -------
    CuratedBuild
        Rows written, and a note counting the experiment rows left out.
    """
    if as_of is None:
        raise ValueError("uplift_features needs a reference time (as_of) for tenure_days; the store has no timed data.")
    as_of_sql = f"TIMESTAMP '{pd.Timestamp(as_of).isoformat(sep=' ')}'"
    sql = f"""
        SELECT e.customer_key, e.treatment, e.converted, e.revenue,
               c.age, c.segment, c.past_purchases, c.avg_order_value, c.email_engagement, c.geo,
               date_diff('day', c.signup_date, {as_of_sql}) AS tenure_days
        FROM staged.email_experiment e JOIN staged.customers c USING (customer_key)
        ORDER BY e.customer_key
    """
    with store.connect() as con:
        result = con.sql(sql).to_arrow_table()
        n_exp = con.sql("SELECT count(*) FROM staged.email_experiment").fetchall()[0][0]
    store.write("curated", "uplift_features", result)
    left_out = int(n_exp - result.num_rows)
    notes = (
        (f"uplift_features: {left_out:,} experiment row(s) have no staged customer and were left out",)
        if left_out
        else ()
    )
    return CuratedBuild(rows=result.num_rows, notes=notes)


#: ``curated/uplift_features``: ``staged.email_experiment`` joined with customer features.
UPLIFT_FEATURES = CuratedTable(
    name="uplift_features", requires=("email_experiment", "customers"), build=build_uplift_features, owner="uplift"
)
