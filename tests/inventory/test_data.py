"""The store profile reports sizes, contract gaps and schema changes; samples are repeatable."""

from __future__ import annotations

import pandas as pd
import pytest

from galaxy_lib import inventory
from galaxy_lib.core.store import DataStore

from .conftest import spend_table


def test_profile_reports_contract_and_schema_changes(dirty_store: DataStore) -> None:
    profiles = inventory.profile_store(dirty_store).set_index(["zone", "table"])
    assert profiles.loc[("raw", "touchpoints"), "rows"] == 205
    assert profiles.loc[("staged", "customers"), "contract"].startswith("missing:")
    assert profiles.loc[("staged", "spend"), "contract"] == "ok"
    before = profiles.loc[("staged", "spend"), "schema_version"]
    dirty_store.write("staged", "spend", spend_table(False).assign(spend=lambda d: d["spend"].astype("float32")))
    after = inventory.profile_store(dirty_store).set_index(["zone", "table"]).loc[("staged", "spend"), "schema_version"]
    assert before != after


def test_profile_of_an_empty_store_says_what_to_do(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="holds no tables"):
        inventory.profile_store(DataStore(tmp_path))


def test_load_sample_reads_small_tables_whole_and_samples_large_ones_repeatably(dirty_store: DataStore) -> None:
    whole = inventory.load_sample(dirty_store, "staged", "touchpoints", 1_000)
    assert len(whole) == 200
    first = inventory.load_sample(dirty_store, "staged", "touchpoints", 50, ["event_id", "ts"])
    again = inventory.load_sample(dirty_store, "staged", "touchpoints", 50, ["event_id", "ts"])
    assert list(first.columns) == ["event_id", "ts"] and len(first) == 50
    pd.testing.assert_frame_equal(first, again)


def test_as_of_is_the_given_date_or_a_week_after_the_last_spend_week(dirty_store: DataStore) -> None:
    assert inventory.store_as_of(dirty_store, "2025-12-31") == pd.Timestamp("2025-12-31")
    assert inventory.store_as_of(dirty_store) == spend_table(False)["week"].max() + pd.Timedelta(days=7)
    with pytest.raises(ValueError, match="not a date"):
        inventory.store_as_of(dirty_store, "yesterday")
