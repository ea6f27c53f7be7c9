"""Columns outside the contract stay in raw (issue 15, finding 5).

Before the fix every extra column of an ingested file (a full name, a mobile number,
a second e-mail) was carried into ``staged/<table>``, next to the pseudonymised key
that was supposed to make the table safe to model on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from galaxy_lib.core.contracts import CUSTOMER_KEY, DROPPED_AT_STAGING, contract_for
from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.pii import redact_pii, scan_text
from galaxy_lib.pipeline.ingest import ingest_file
from galaxy_lib.pipeline.staging import STAGING_MARKER, stage_world
from tests.fixtures.raw_world import SALT

EXTRAS = ["full_name", "mobile", "email_2"]


def _customers_with_extras(tmp_path: Path) -> Path:
    csv = tmp_path / "crm_export.csv"
    pd.DataFrame(
        {
            "customer_id": ["C00000001", "C00000002", "C00000003"],
            "email": ["ann@example.com", "bob@example.com", "no-at-sign"],  # the last row is quarantined
            "phone": ["+44 7700 900121", "+44 7700 900122", "+44 7700 900123"],
            "geo": "north",
            "signup_date": "2023-06-01",
            "age": [30, 40, 50],
            "segment": "regular",
            "past_purchases": [1, 2, 3],
            "avg_order_value": [20.0, 30.0, 40.0],
            "email_engagement": [0.2, 0.4, 0.6],
            "full_name": ["Ann Example", "Bob Example", "Cy Example"],
            "mobile": ["+44 7911 123456", "+44 7911 123457", "+44 7911 123458"],
            "email_2": ["ann.private@example.org", "bob.private@example.org", "cy.private@example.org"],
        }
    ).to_csv(csv, index=False)
    return csv


def test_extra_columns_stay_in_raw_and_the_report_names_them(tmp_path: Path) -> None:
    store = DataStore(tmp_path / "store")
    ingest_file(_customers_with_extras(tmp_path), "customers", store)
    assert set(EXTRAS) <= set(store.read("raw", "customers").columns)  # raw keeps what arrived

    report = stage_world(store, SALT, progress=False)
    staged = store.read("staged", "customers")
    contract = contract_for("customers")
    expected = [CUSTOMER_KEY if c == "customer_id" else c for c in contract.required_columns]
    assert list(staged.columns) == [c for c in expected if c not in DROPPED_AT_STAGING]
    text = "\n".join(staged.astype(str).stack())
    assert scan_text(text) == [] and "Example" not in text

    assert report.tables["customers"].raw_only_columns == tuple(EXTRAS)
    assert report.to_frame().set_index("table").loc["customers", "raw_only_columns"] == ", ".join(EXTRAS)
    assert "customers: column(s) full_name, mobile, email_2 are not in the contract and were left in raw" in (
        " ".join(report.notes)
    )
    marker = json.loads((store.root / STAGING_MARKER).read_text())
    assert marker["tables"]["customers"]["raw_only_columns"] == EXTRAS
    # the row staging quarantined does not carry them out of raw either
    quarantined = store.read("quarantine", "customers")
    staging_rows = quarantined[quarantined["_source"].str.startswith("raw/")]
    assert staging_rows.empty or not set(EXTRAS) & set(staging_rows.dropna(axis=1, how="all").columns)


def test_a_column_name_holding_personal_data_is_reported_masked(tmp_path: Path) -> None:
    store = DataStore(tmp_path / "store")
    spend = pd.DataFrame(
        {
            "week": pd.to_datetime(["2031-01-06"]),
            "geo": ["north"],
            "channel": ["tv"],
            "spend": [10.0],
            "impressions": [None],
            "clicks": [None],
            "jane.doe@example.com": ["x"],
        }
    )
    store.write("raw", "spend", spend)
    report = stage_world(store, SALT, progress=False)
    assert list(store.read("staged", "spend").columns) == list(contract_for("spend").required_columns)
    (shown,) = report.tables["spend"].raw_only_columns
    assert shown == redact_pii("jane.doe@example.com") and scan_text(shown) == []
    assert "jane.doe@example.com" not in (store.root / STAGING_MARKER).read_text()
