"""Inventory gates catch the problems they exist for, and pass a clean world.

A small store is written by hand with one planted problem per gate (a null in a
required column, a duplicate raw event, slow ingestion, a x100 spend typo, a stalled
feed, an e-mail in a staged table, low consent, quarantined rows); each gate must
name it. The ci Galaxy world, which is clean by construction, must pass every gate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_lib import inventory
from galaxy_lib.core.quarantine import quarantine_rows
from galaxy_lib.simulate import ensure_world
from galaxy_lib.core.store import DataStore
from galaxy_lib.inventory import analysis

WEEKS = pd.date_range("2025-01-06", periods=30, freq="W-MON")


def _spend(typo: bool) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for w in WEEKS:
        for ch in ("search", "tv"):
            spend = float(rng.uniform(900, 1100))
            rows.append(dict(week=w, geo="North", channel=ch, spend=spend, impressions=spend * 100,
                             clicks=0.0 if ch == "tv" else spend / 2))
    df = pd.DataFrame(rows)
    if typo:
        df.loc[(df["channel"] == "search") & (df["week"] == WEEKS[5]), "spend"] *= 100
        df.loc[(df["channel"] == "search") & (df["week"] == WEEKS[9]), "spend"] *= 100
    return df


def _touchpoints(n: int, late_hours: float) -> pd.DataFrame:
    ts = pd.Timestamp("2025-07-01") + pd.to_timedelta(np.arange(n), unit="h")
    return pd.DataFrame({
        "event_id": [f"E{i}" for i in range(n)], "customer_key": [f"k_{i % 7:016x}" for i in range(n)],
        "ts": ts, "channel": np.where(np.arange(n) % 2, "search", "social"), "campaign_id": "camp1",
        "creative_id": None, "ingested_at": ts + pd.Timedelta(hours=late_hours),
    })


@pytest.fixture()
def dirty_store(tmp_path: Path) -> DataStore:
    store = DataStore(tmp_path)
    tp = _touchpoints(200, late_hours=80)
    raw_tp = pd.concat([tp.rename(columns={"customer_key": "customer_id"}), tp.head(5).rename(columns={"customer_key": "customer_id"})])
    store.write("raw", "touchpoints", raw_tp)
    tp.loc[:30, "campaign_id"] = None  # 15% nulls in a required column
    store.write("staged", "touchpoints", tp)
    store.write("raw", "spend", _spend(typo=True))
    store.write("staged", "spend", _spend(typo=True))
    customers = pd.DataFrame({"customer_key": [f"k_{i:016x}" for i in range(10)], "geo": "North",
                              "segment": ["a", "b"] * 5, "note": ["call me at jane.doe@example.com"] + [""] * 9})
    store.write("staged", "customers", customers)
    consent = pd.DataFrame({"customer_key": customers["customer_key"].head(3), "purpose": "measurement",
                            "tcf_purposes": "1,7,9", "granted_at": pd.Timestamp("2024-01-01"), "withdrawn_at": pd.NaT})
    store.write("staged", "consent", consent)
    quarantine_rows(store, "spend", _spend(False).head(4), rule="greater_than_or_equal_to(0)",
                    reason="spend is negative", source="test")
    return store


def _by(gates: list, gate: str, column: str | None = None, table: str | None = None) -> list:
    return [g for g in gates if g.gate == gate and (column is None or g.column == column)
            and (table is None or g.table == table)]


def test_each_planted_problem_is_caught(dirty_store: DataStore) -> None:
    params = inventory.InventoryParams(data_dir=str(dirty_store.root))
    as_of = pd.Timestamp("2025-09-01")
    gates = analysis.row_level_gates(dirty_store, params)

    null = _by(gates, "null_rate", "campaign_id", "touchpoints")[0]
    assert null.status == "warn" and null.value == pytest.approx(31 / 200)
    assert _by(gates, "latency_p95_hours", table="touchpoints")[0].status == "fail"
    spend_gate = _by(gates, "outlier_share", "log_spend[search]")[0]
    assert spend_gate.status == "fail" and spend_gate.value == pytest.approx(2 / 30)
    assert _by(gates, "outlier_share", "log_spend[tv]")[0].status == "pass"
    assert not _by(gates, "outlier_share", "log_cpc[tv]"), "TV reports no clicks: no CPC gate"

    dup = _by(analysis.duplicate_gates(dirty_store, params), "duplicate_rate", table="touchpoints")[0]
    assert dup.status == "fail" and dup.value == pytest.approx(5 / 205)  # 2.4% > 1%

    profiles = inventory.profile_store(dirty_store)
    stale = {g.table: g for g in analysis.freshness_gates(profiles, params, as_of)}
    assert stale["touchpoints"].status == "fail"  # newest event 2025-07-09, 54 days before as_of
    assert stale["spend"].status == "fail"
    assert "customers" not in stale, "the customer list is not a feed"

    coverage = analysis.consent_table(dirty_store, as_of)
    consent = {g.column: g for g in analysis.consent_gates(coverage, params)}
    assert consent["measurement"].status == "warn" and consent["measurement"].value == pytest.approx(0.3)
    assert consent["personalisation"].status == "fail"

    pii = analysis.pii_gates(inventory.scan_store_tables(dirty_store))
    assert [(g.table, g.column, g.status) for g in pii] == [("staged.customers", "note", "fail")]

    q = analysis.quarantine_table(dirty_store)
    qgate = _by(analysis.quarantine_gates(q, dirty_store, params), "quarantine_share", table="spend")[0]
    assert qgate.status == "fail" and qgate.value == pytest.approx(4 / 60)


def test_profile_reports_contract_and_schema_changes(dirty_store: DataStore) -> None:
    profiles = inventory.profile_store(dirty_store).set_index(["zone", "table"])
    assert profiles.loc[("raw", "touchpoints"), "rows"] == 205
    assert profiles.loc[("staged", "customers"), "contract"].startswith("missing:")
    before = profiles.loc[("staged", "spend"), "schema_version"]
    dirty_store.write("staged", "spend", _spend(False).assign(spend=lambda d: d["spend"].astype("float32")))
    after = inventory.profile_store(dirty_store).set_index(["zone", "table"]).loc[("staged", "spend"), "schema_version"]
    assert before != after


def test_params_reject_unknown_and_inconsistent_values() -> None:
    from galaxy_lib.core.config import ConfigError, validate_params

    with pytest.raises(ConfigError, match="null_rate_wran"):
        validate_params(inventory.InventoryParams, {"null_rate_wran": 0.1})
    with pytest.raises(ConfigError, match="must not exceed"):
        validate_params(inventory.InventoryParams, {"null_rate_warn": 0.5, "null_rate_fail": 0.1})


def test_clean_ci_world_passes_every_gate() -> None:
    store = ensure_world("data/ci", size="ci", progress=False)
    params = inventory.InventoryParams()
    as_of = inventory.store_as_of(store)
    profiles = inventory.profile_store(store)
    coverage = analysis.consent_table(store, as_of)
    gates = (analysis.row_level_gates(store, params) + analysis.duplicate_gates(store, params)
             + analysis.freshness_gates(profiles, params, as_of) + analysis.consent_gates(coverage, params)
             + analysis.pii_gates(inventory.scan_store_tables(store))
             + analysis.quarantine_gates(analysis.quarantine_table(store), store, params))
    bad = [(g.gate, g.table, g.column, g.detail) for g in gates if g.status != "pass"]
    assert not bad, bad
    assert len(gates) > 60
