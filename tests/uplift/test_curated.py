"""The uplift workflow's curated table: the e-mail experiment joined with customer features."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.pseudonyms import pseudonymise
from galaxy_lib.pipeline.staging import stage_world
from galaxy_lib.uplift.curated import UPLIFT_FEATURES, build_uplift_features
from tests.fixtures.raw_world import SALT, write_raw


@pytest.fixture()
def raw_store(tmp_path: Path) -> DataStore:
    return write_raw(tmp_path / "world")


def test_uplift_features_is_declared_by_the_uplift_workflow() -> None:
    assert UPLIFT_FEATURES.name == "uplift_features" and UPLIFT_FEATURES.owner == "uplift"
    assert UPLIFT_FEATURES.requires == ("email_experiment", "customers", "consent")
    assert UPLIFT_FEATURES.build is build_uplift_features


def test_uplift_features(raw_store: DataStore) -> None:
    report = stage_world(raw_store, SALT, as_of="2023-03-01", progress=False, curated_tables=[UPLIFT_FEATURES])
    assert report.as_of == pd.Timestamp("2023-03-01")
    up = raw_store.read("curated", "uplift_features")
    assert list(up.columns) == [
        "customer_key",
        "treatment",
        "converted",
        "revenue",
        "pre_orders",
        "pre_revenue",
        "sent_at",
        "age",
        "segment",
        "past_purchases",
        "avg_order_value",
        "email_engagement",
        "geo",
        "tenure_days",
    ]
    raw = raw_store.read("raw", "customers").iloc[:4]  # C00000005 was quarantined
    raw = raw[raw["customer_id"] != "C00000002"]  # withdrew measurement consent on 2023-01-05
    raw["customer_key"] = pseudonymise(raw["customer_id"], SALT)
    merged = up.merge(raw, on="customer_key", suffixes=("", "_raw"))
    assert len(merged) == len(up) == 3
    assert (merged["tenure_days"] == (pd.Timestamp("2023-03-01") - merged["signup_date"]).dt.days).all()
    for col in ("age", "segment", "geo", "past_purchases"):
        assert (merged[col] == merged[f"{col}_raw"]).all(), col
    # default as_of: the latest event or signup in the data
    assert stage_world(raw_store, SALT, progress=False, curated_tables=[UPLIFT_FEATURES]).as_of == pd.Timestamp(
        "2023-01-14"
    )


def test_rows_without_a_staged_customer_or_consent_are_counted_in_notes(raw_store: DataStore) -> None:
    report = stage_world(raw_store, SALT, progress=False, curated_tables=[UPLIFT_FEATURES])
    # C00000005's customer row was quarantined; C00000002 withdrew measurement consent on 2023-01-05
    assert report.curated == {"uplift_features": 3}
    assert report.notes[0] == "uplift_features: 1 experiment row(s) have no staged customer and were left out"
    assert report.notes[1].startswith("uplift_features: 1 experiment row(s) of customers without measurement consent")
    assert len(report.notes) == 2
    left_out = pseudonymise(pd.Series(["C00000005", "C00000002"]), SALT)
    assert not set(left_out) & set(raw_store.read("curated", "uplift_features")["customer_key"])


def test_uplift_features_needs_a_reference_time(raw_store: DataStore) -> None:
    stage_world(raw_store, SALT, progress=False, curated_tables=[])
    with pytest.raises(ValueError, match="needs a reference time"):
        build_uplift_features(raw_store, None)
