"""Inventory gates catch the problems they exist for, and pass a clean world.

Each planted problem of the ``dirty_store`` fixture (conftest.py) must be named by
its gate; the ci Galaxy world, which is clean by construction, must pass every gate.
"""

from __future__ import annotations

import pandas as pd
import pytest

from galaxy_lib import inventory
from galaxy_lib.core.gates import Gate
from galaxy_lib.core.store import DataStore
from galaxy_lib.inventory import analysis
from galaxy_lib.simulate import ensure_world

from .conftest import AS_OF


def _by(gates: list[Gate], gate: str, column: str | None = None, table: str | None = None) -> list[Gate]:
    return [
        g
        for g in gates
        if g.gate == gate and (column is None or g.column == column) and (table is None or g.table == table)
    ]


def test_each_planted_problem_is_caught(dirty_store: DataStore) -> None:
    params = inventory.InventoryParams(data_dir=str(dirty_store.root))
    gates = analysis.row_level_gates(dirty_store, params)
    assert all(isinstance(g, Gate) for g in gates)

    null = _by(gates, "null_rate", "campaign_id", "touchpoints")[0]
    assert null.status == "warn" and null.value == pytest.approx(31 / 200)
    assert _by(gates, "latency_p95_hours", table="touchpoints")[0].status == "fail"
    spend_gate = _by(gates, "outlier_share", "log_spend[search]")[0]
    assert spend_gate.status == "fail" and spend_gate.value == pytest.approx(2 / 30)
    assert _by(gates, "outlier_share", "log_spend[tv]")[0].status == "pass"
    assert not _by(gates, "outlier_share", "log_cpc[tv]"), "TV reports no clicks: no CPC gate"

    dup = _by(analysis.duplicate_gates(dirty_store, params), "duplicate_rate", table="touchpoints")[0]
    assert dup.status == "fail" and dup.value == pytest.approx(5 / 205)  # 2.4% > 1%
    assert dup.column == "event_id" and (dup.warn_at, dup.fail_at) == (0.0, 0.01)

    profiles = inventory.profile_store(dirty_store)
    stale = {g.table: g for g in analysis.freshness_gates(profiles, params, AS_OF)}
    assert stale["touchpoints"].status == "fail"  # newest event 2025-07-09, 54 days before as_of
    assert stale["spend"].status == "fail"
    assert "customers" not in stale, "the customer list is not a feed"

    coverage = analysis.consent_table(dirty_store, AS_OF)
    consent = {g.column: g for g in analysis.consent_gates(coverage, params)}
    assert consent["measurement"].status == "warn" and consent["measurement"].value == pytest.approx(0.3)
    assert consent["personalisation"].status == "fail"
    assert (consent["personalisation"].warn_at, consent["personalisation"].fail_at) == (0.5, 0.0)

    pii = analysis.pii_gates(inventory.scan_store_tables(dirty_store))
    assert [(g.table, g.column, g.status, g.value) for g in pii] == [("staged.customers", "note", "fail", 1.0)]

    q = analysis.quarantine_table(dirty_store)
    qgate = _by(analysis.quarantine_gates(q, dirty_store, params), "quarantine_share", table="spend")[0]
    assert qgate.status == "fail" and qgate.value == pytest.approx(4 / 60)


def _coverage(shares: list[float]) -> pd.DataFrame:
    """Coverage rows of 100 customers each; a NaN share stands for a purpose with no customers."""
    customers = [0 if pd.isna(s) else 100 for s in shares]
    consented = [0 if pd.isna(s) else round(s * 100) for s in shares]
    return pd.DataFrame(
        {
            "purpose": [f"p{i}" for i in range(len(shares))],
            "tcf_purposes": "1",
            "customers": customers,
            "consented": consented,
            "share": shares,
        }
    )


def test_consent_gate_fails_only_when_nobody_consented() -> None:
    params = inventory.InventoryParams(min_consent_share=0.5)
    statuses = [g.status for g in analysis.consent_gates(_coverage([0.0, 0.01, 0.49, 0.5, 0.9, float("nan")]), params)]
    assert statuses == ["fail", "warn", "warn", "pass", "pass", "fail"]


def test_pii_gate_passes_when_personal_data_stays_in_raw() -> None:
    findings = pd.DataFrame(
        [
            dict(
                zone="raw",
                table="customers",
                column="email",
                kind="email",
                values_with_pii=10,
                complete=True,
                allowed=True,
            )
        ]
    )
    (gate,) = analysis.pii_gates(findings)
    assert (gate.gate, gate.table, gate.column, gate.value, gate.status) == (
        "pii_leak",
        "staged+curated",
        "",
        0.0,
        "pass",
    )


def test_gates_frame_lists_the_worst_first() -> None:
    gates = [
        Gate("b", "t", "c", 0.0, "pass", 1.0, 2.0, "ok"),
        Gate("a", "t", "c", 3.0, "fail", 1.0, 2.0, "bad"),
        Gate("a", "t", "c", 1.5, "warn", 1.0, 2.0, "meh"),
        Gate("a", "s", "c", 0.0, "pass", 1.0, 2.0, "ok"),
    ]
    frame = analysis.gates_frame(gates)
    assert list(frame.columns) == ["gate", "table", "column", "value", "status", "warn_at", "fail_at", "detail"]
    assert frame[["status", "gate", "table"]].values.tolist() == [
        ["fail", "a", "t"],
        ["warn", "a", "t"],
        ["pass", "a", "s"],
        ["pass", "b", "t"],
    ]


def test_clean_ci_world_passes_every_gate() -> None:
    store = ensure_world("data/ci", size="ci", progress=False)
    params = inventory.InventoryParams()
    as_of = inventory.store_as_of(store)
    profiles = inventory.profile_store(store)
    coverage = analysis.consent_table(store, as_of)
    gates = (
        analysis.row_level_gates(store, params)
        + analysis.duplicate_gates(store, params)
        + analysis.freshness_gates(profiles, params, as_of)
        + analysis.consent_gates(coverage, params)
        + analysis.pii_gates(inventory.scan_store_tables(store))
        + analysis.quarantine_gates(analysis.quarantine_table(store), store, params)
    )
    bad = [(g.gate, g.table, g.column, g.detail) for g in gates if g.status != "pass"]
    assert not bad, bad
    assert len(gates) > 60
