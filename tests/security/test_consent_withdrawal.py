"""A withdrawal takes the customer out of every model input (issue 15, findings 4 and 6).

Before the fix the consent table was keyed on (customer_id, purpose): an updated export
carrying ``withdrawn_at`` was quarantined as a duplicate and the customer stayed
consented. A past ``as_of`` brought back customers who had withdrawn since, and a
record's TCF purposes were never checked against the purpose it claimed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from galaxy_lib.core.quarantine import read_quarantine
from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.consent import consent_coverage, consent_valid_at, filter_by_consent
from galaxy_lib.governance.pseudonyms import pseudonymise
from galaxy_lib.pipeline.curated import consented_customers
from galaxy_lib.pipeline.ingest import ingest_file
from galaxy_lib.pipeline.rowchecks import RULE_TCF_MISMATCH
from galaxy_lib.pipeline.staging import stage_world
from tests.fixtures.raw_world import SALT

IDS = ["C00000001", "C00000002", "C00000003"]
WITHDRAWN = "2024-03-10 09:30:00"
AFTER = "2024-04-01"
BEFORE = "2024-02-01"  # a past as_of: the customer had not withdrawn yet


def _key(customer_id: str) -> str:
    return pseudonymise(pd.Series([customer_id]), SALT).item()


def _csv(path: Path, rows: dict) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _first_export(tmp_path: Path) -> Path:
    return _csv(
        tmp_path / "consent_2024-02.csv",
        {
            "customer_id": IDS,
            "purpose": "measurement",
            "tcf_purposes": "1,7,9",
            "granted_at": "2024-01-05 10:00:00",
            "withdrawn_at": "",
        },
    )


def _updated_export(tmp_path: Path) -> Path:
    """The consent platform's next export: the same grants, C00000002's now withdrawn."""
    return _csv(
        tmp_path / "consent_2024-03.csv",
        {
            "customer_id": IDS,
            "purpose": "measurement",
            "tcf_purposes": "1,7,9",
            "granted_at": "2024-01-05 10:00:00",
            "withdrawn_at": ["", WITHDRAWN, ""],
        },
    )


@pytest.fixture()
def store(tmp_path: Path) -> DataStore:
    """A user's store: customers, an e-mail experiment and touchpoints, then two consent exports."""
    s = DataStore(tmp_path / "store")
    n = len(IDS)
    customers = {
        "customer_id": IDS,
        "email": [f"user{i}@example.com" for i in range(n)],
        "phone": [f"+44 7700 90012{i}" for i in range(n)],
        "geo": "north",
        "signup_date": "2023-06-01",
        "age": [30, 40, 50],
        "segment": "regular",
        "past_purchases": [1, 2, 3],
        "avg_order_value": [20.0, 30.0, 40.0],
        "email_engagement": [0.2, 0.4, 0.6],
    }
    ingest_file(_csv(tmp_path / "customers.csv", customers), "customers", s)
    experiment = {
        "customer_id": IDS,
        "treatment": ["email", "control", "email"],
        "converted": [0, 1, 1],
        "revenue": [0.0, 9.0, 12.0],
    }
    ingest_file(_csv(tmp_path / "experiment.csv", experiment), "email_experiment", s)
    touch = {
        "event_id": ["E1", "E2", "E3", "E4"],
        "customer_id": [IDS[0], IDS[1], IDS[1], IDS[2]],
        "ts": ["2024-01-20", "2024-01-21", "2024-03-20", "2024-01-22"],
        "channel": ["search", "email", "social", "display"],
        "campaign_id": "c1",
        "creative_id": "",
        "ingested_at": "2024-03-25",
    }
    ingest_file(_csv(tmp_path / "touchpoints.csv", touch), "touchpoints", s)
    ingest_file(_first_export(tmp_path), "consent", s)
    return s


def test_an_updated_export_with_a_withdrawal_is_not_a_duplicate(store: DataStore, tmp_path: Path) -> None:
    result = ingest_file(_updated_export(tmp_path), "consent", store)
    assert result.rows_accepted >= 1  # the withdrawal reached raw
    withdrawn = store.read("raw", "consent").dropna(subset=["withdrawn_at"])
    assert withdrawn["customer_id"].tolist() == [IDS[1]]

    report = stage_world(store, SALT, as_of=AFTER, progress=False)
    staged = store.read("staged", "consent")
    gone = _key(IDS[1])
    assert staged.loc[staged["customer_key"] == gone, "withdrawn_at"].notna().any()
    # the unchanged grants of the second export repeat the first one's exactly: duplicates
    # (quarantined at ingestion or at staging), so each grant is staged once
    assert staged.drop_duplicates().shape[0] == staged.shape[0] == 4
    assert report.tables["consent"].reasons.keys() <= {"duplicate_key"}

    kept = {_key(IDS[0]), _key(IDS[2])}
    assert set(consent_valid_at(staged, "measurement", AFTER)) == kept
    assert set(consented_customers(store, "measurement", pd.Timestamp(AFTER))["customer_key"]) == kept
    # every model input built at staging drops the customer
    up = store.read("curated", "uplift_features")
    assert set(up["customer_key"]) == kept
    assert any("1 experiment row(s) of customers without measurement consent" in n for n in report.notes)
    # ... and so does every consent-filtered read (the MTA's journeys use filter_by_consent)
    tp = store.read("staged", "touchpoints")
    journeys_in = filter_by_consent(tp, staged, "measurement", as_of=AFTER, time_col="ts")
    assert gone not in set(journeys_in.kept["customer_key"]) and journeys_in.excluded_customers == 1


def test_the_withdrawal_wins_whatever_the_order_of_the_exports(store: DataStore, tmp_path: Path) -> None:
    """The withdrawal is newer by its timestamps, not by the order the files arrived in."""
    fresh = DataStore(tmp_path / "reversed")
    ingest_file(_updated_export(tmp_path), "consent", fresh)
    ingest_file(_first_export(tmp_path), "consent", fresh)
    raw = fresh.read("raw", "consent")
    raw["customer_key"] = pseudonymise(raw["customer_id"], SALT)
    assert set(consent_valid_at(raw, "measurement", AFTER)) == {_key(IDS[0]), _key(IDS[2])}


def test_a_past_as_of_does_not_resurrect_a_withdrawn_customer(store: DataStore, tmp_path: Path) -> None:
    ingest_file(_updated_export(tmp_path), "consent", store)
    stage_world(store, SALT, as_of=BEFORE, progress=False)  # a re-run of February, after the withdrawal
    staged = store.read("staged", "consent")
    gone = _key(IDS[1])
    assert gone not in set(consent_valid_at(staged, "measurement", BEFORE))
    assert gone not in set(store.read("curated", "uplift_features")["customer_key"])
    customers = store.read("staged", "customers")
    coverage = consent_coverage(staged, customers, as_of=BEFORE).set_index("purpose")
    assert coverage.loc["measurement", "consented"] == 2
    # what February itself knew: the customer still consented then
    assert gone in set(consent_valid_at(staged, "measurement", BEFORE, now=BEFORE))


def test_a_record_whose_tcf_purposes_do_not_cover_its_purpose_grants_nothing(store: DataStore, tmp_path: Path) -> None:
    claims = _csv(
        tmp_path / "advertising.csv",
        {
            "customer_id": IDS,
            "purpose": "advertising",
            # C1: the TCF purposes of personalised advertising; C2: measurement's; C3: basic ads only
            "tcf_purposes": ["1,2,3,4", "1,7,9", "1,2"],
            "granted_at": "2024-01-05 10:00:00",
            "withdrawn_at": "",
        },
    )
    ingest_file(claims, "consent", store)
    staging_store = DataStore(tmp_path / "staging")  # the same records arriving by the raw zone directly
    raw = pd.read_csv(claims, dtype=str).fillna("")
    raw["granted_at"] = pd.to_datetime(raw["granted_at"])
    raw["withdrawn_at"] = pd.NaT
    staging_store.write("raw", "consent", raw)
    report = stage_world(staging_store, SALT, as_of=AFTER, progress=False)
    assert report.tables["consent"].reasons == {RULE_TCF_MISMATCH: 2}
    q = read_quarantine(staging_store, "consent").sort_values("_row")
    assert q["_reason"].tolist() == [
        "row 2: tcf_purposes = '1,7,9' lacks TCF purpose(s) 2, 3, 4 that advertising needs; "
        "a consent record must carry every TCF purpose of the purpose it claims (2, 3, 4)",
        "row 3: tcf_purposes = '1,2' lacks TCF purpose(s) 3, 4 that advertising needs; "
        "a consent record must carry every TCF purpose of the purpose it claims (2, 3, 4)",
    ]
    assert set(consented_customers(staging_store, "advertising", pd.Timestamp(AFTER))["customer_key"]) == {_key(IDS[0])}
    # ingestion checks the same rule, and a consent table written without staging gains nothing either
    assert set(store.read("raw", "consent").query("purpose == 'advertising'")["customer_id"]) == {IDS[0]}
    raw["customer_key"] = pseudonymise(raw["customer_id"], SALT)
    result = filter_by_consent(raw[["customer_key"]], raw, "advertising", as_of=AFTER)
    assert set(result.kept["customer_key"]) == {_key(IDS[0])} and result.tcf_mismatched == 2
