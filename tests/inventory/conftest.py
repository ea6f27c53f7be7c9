"""A small store written by hand with one planted problem per inventory gate.

A null in a required column, a duplicate raw event, slow ingestion, a x100 spend
typo, a stalled feed, an e-mail in a staged table, low consent and quarantined
rows: each gate must name its problem (``test_analysis.py``) and the published run
must fail on them (``test_report.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.core.quarantine import quarantine_rows
from galaxy_lib.core.store import DataStore

WEEKS = pd.date_range("2025-01-06", periods=30, freq="W-MON")
#: The reference date the dirty store is judged at.
AS_OF = pd.Timestamp("2025-09-01")


def spend_table(typo: bool) -> pd.DataFrame:
    """30 weeks of national spend for search and TV; ``typo`` multiplies two search weeks by 100."""
    rng = np.random.default_rng(0)
    rows = []
    for w in WEEKS:
        for ch in ("search", "tv"):
            spend = float(rng.uniform(900, 1100))
            rows.append(
                dict(
                    week=w,
                    geo="North",
                    channel=ch,
                    spend=spend,
                    impressions=spend * 100,
                    clicks=0.0 if ch == "tv" else spend / 2,
                )
            )
    df = pd.DataFrame(rows)
    if typo:
        df.loc[(df["channel"] == "search") & (df["week"] == WEEKS[5]), "spend"] *= 100
        df.loc[(df["channel"] == "search") & (df["week"] == WEEKS[9]), "spend"] *= 100
    return df


def _touchpoints(n: int, late_hours: float) -> pd.DataFrame:
    ts = pd.Timestamp("2025-07-01") + pd.to_timedelta(np.arange(n), unit="h")
    return pd.DataFrame(
        {
            "event_id": [f"E{i}" for i in range(n)],
            "customer_key": [f"k_{i % 7:016x}" for i in range(n)],
            "ts": ts,
            "channel": np.where(np.arange(n) % 2, "search", "social"),
            "campaign_id": "camp1",
            "creative_id": None,
            "ingested_at": ts + pd.Timedelta(hours=late_hours),
        }
    )


@pytest.fixture()
def dirty_store(tmp_path: Path) -> DataStore:
    store = DataStore(tmp_path / "store")
    tp = _touchpoints(200, late_hours=80)
    raw_tp = pd.concat(
        [tp.rename(columns={"customer_key": "customer_id"}), tp.head(5).rename(columns={"customer_key": "customer_id"})]
    )
    store.write("raw", "touchpoints", raw_tp)
    tp.loc[:30, "campaign_id"] = None  # 15% nulls in a required column
    store.write("staged", "touchpoints", tp)
    store.write("raw", "spend", spend_table(typo=True))
    store.write("staged", "spend", spend_table(typo=True))
    customers = pd.DataFrame(
        {
            "customer_key": [f"k_{i:016x}" for i in range(10)],
            "geo": "North",
            "segment": ["a", "b"] * 5,
            "note": ["call me at jane.doe@example.com"] + [""] * 9,
        }
    )
    store.write("staged", "customers", customers)
    consent = pd.DataFrame(
        {
            "customer_key": customers["customer_key"].head(3),
            "purpose": "measurement",
            "tcf_purposes": "1,7,9",
            "granted_at": pd.Timestamp("2024-01-01"),
            "withdrawn_at": pd.NaT,
        }
    )
    store.write("staged", "consent", consent)
    quarantine_rows(
        store,
        "spend",
        spend_table(False).head(4),
        rule="greater_than_or_equal_to(0)",
        reason="spend is negative",
        source="test",
    )
    return store
