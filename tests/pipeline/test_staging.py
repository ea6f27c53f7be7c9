"""Staging raw -> staged (row checks, quarantine, pseudonymisation), then the registered curated tables.

The curated tables' contents are tested by their owners (tests/mmm/test_curated.py,
tests/uplift/test_curated.py), the registry in tests/pipeline/test_curated.py and
``ensure_world`` in tests/simulate/test_ensure.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import galaxy_lib.pipeline.staging as staging
from galaxy_lib.core.contracts import PII_COLUMNS, ContractError
from galaxy_lib.core.quarantine import read_quarantine
from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.pii import scan_text
from galaxy_lib.governance.pseudonyms import pseudonymise, salt_fingerprint
from galaxy_lib.pipeline.ingest import ingest_file
from galaxy_lib.pipeline.staging import STAGING_MARKER, stage_world, staging_is_current
from tests.fixtures.raw_world import INGEST_FIXTURES, SALT, write_raw


@pytest.fixture()
def raw_store(tmp_path: Path) -> DataStore:
    return write_raw(tmp_path / "world")


@pytest.fixture()
def staged(raw_store: DataStore) -> tuple[DataStore, staging.StagingReport]:
    return raw_store, stage_world(raw_store, SALT, progress=False)


def _all_tables(store: DataStore, zones: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    return {f"{t.zone}.{t.name}": store.read(t.zone, t.name) for t in store.tables() if t.zone in zones}


# --------------------------------------------------------------------------- privacy


def test_no_raw_identifiers_in_staged_or_curated(staged) -> None:
    store, _ = staged
    raw_ids = store.read("raw", "customers")["customer_id"].tolist()
    tables = _all_tables(store, ("staged", "curated"))
    assert set(tables) >= {"staged.customers", "staged.touchpoints", "curated.mmm_weekly", "curated.uplift_features"}
    for name, df in tables.items():
        assert not set(PII_COLUMNS) & set(df.columns), name
        text = "\n".join(df.select_dtypes(include="object").astype(str).stack().unique())
        assert scan_text(text, raw_ids=raw_ids) == [], name
    # the raw zone does hold them, so the scan above can fail
    raw_text = "\n".join(store.read("raw", "customers").astype(str).stack())
    assert scan_text(raw_text, raw_ids=raw_ids)


def test_keys_are_consistent_across_tables(staged) -> None:
    store, _ = staged
    raw_tp = store.read("raw", "touchpoints").drop_duplicates("event_id")
    tp = store.read("staged", "touchpoints").merge(raw_tp[["event_id", "customer_id"]], on="event_id")
    assert (tp["customer_key"] == pseudonymise(tp["customer_id"], SALT)).all()
    assert tp["customer_key"].str.fullmatch(r"k_[0-9a-f]{16}").all()

    customers = store.read("staged", "customers")
    key_of = dict(
        zip(
            pseudonymise(store.read("raw", "customers")["customer_id"], SALT),
            store.read("raw", "customers")["customer_id"],
            strict=True,
        )
    )
    assert sorted(key_of[k] for k in customers["customer_key"]) == [f"C0000000{i}" for i in range(1, 5)]
    for table in ("consent", "touchpoints", "conversions", "email_experiment"):
        keys = set(store.read("staged", table)["customer_key"])
        assert keys <= set(key_of), table  # every key is the key of a raw customer
    # the same customer has the same key everywhere
    c1 = pseudonymise(pd.Series(["C00000001"]), SALT).item()
    assert c1 in set(store.read("staged", "consent")["customer_key"])
    assert c1 in set(store.read("staged", "conversions")["customer_key"])
    assert c1 in set(store.read("curated", "uplift_features")["customer_key"])


# --------------------------------------------------------------------------- quarantine and counts


def test_bad_rows_are_quarantined_with_reasons(staged) -> None:
    store, report = staged
    expected = {
        "customers": {"str_contains('@')": 1},
        "consent": {"isin(('measurement', 'personalisation', 'advertising', 'content'))": 1},
        "touchpoints": {"duplicate_key": 1},
        "spend": {"greater_than_or_equal_to(0)": 1},
    }
    for table, t in report.tables.items():
        assert t.rows_in == t.rows_staged + t.rows_quarantined, table
        assert t.reasons == expected.get(table, {}), table
        assert t.rows_in == len(store.read("raw", table))
        assert t.rows_staged == len(store.read("staged", table))

    dup = read_quarantine(store, "touchpoints")
    assert dup["_reason"].item() == (
        "row 2: duplicate key (event_id) = ('E3'); first seen at row 3 of raw/touchpoints/part-00000.parquet"
    )
    assert dup["_source"].item() == "raw/touchpoints/part-00001.parquet"
    assert dup["_row"].item() == 2
    spend = read_quarantine(store, "spend")
    assert spend["_reason"].item() == "row 7: spend = -5.0 is negative; spend must be >= 0"
    cust = read_quarantine(store, "customers")
    assert "no-at-sign" not in cust["_reason"].item()  # reasons mask personal data
    assert "email = 'n" in cust["_reason"].item() and "does not contain '@'" in cust["_reason"].item()
    consent = read_quarantine(store, "consent")
    assert consent["_reason"].item() == (
        "row 6: purpose = 'ads' is not an allowed value; purpose must be one of "
        "'measurement', 'personalisation', 'advertising', 'content'"
    )
    assert report.rows_quarantined == 4
    assert report.notes == (
        "uplift_features: 1 experiment row(s) have no staged customer and were left out",
        # C00000002 withdrew measurement consent on 2023-01-05
        "uplift_features: 1 experiment row(s) of customers without measurement consent at 2023-01-14 "
        "(or withdrawn since) were left out",
    )


# --------------------------------------------------------------------------- idempotence and streaming


def _snapshot(store: DataStore) -> dict[str, pd.DataFrame]:
    out = {}
    for name, df in _all_tables(store, ("staged", "curated", "quarantine")).items():
        df = df.drop(columns=["_quarantined_at"], errors="ignore")
        out[name] = df.sort_values(list(df.columns)).reset_index(drop=True)
    return out


def test_staging_twice_gives_the_same_result(raw_store: DataStore) -> None:
    ingest_file(INGEST_FIXTURES / "touchpoints_dup.csv", "touchpoints", raw_store)  # 1 row quarantined at ingest
    first = stage_world(raw_store, SALT, progress=False)
    before = _snapshot(raw_store)
    parts_before = sorted(p.relative_to(raw_store.root) for p in raw_store.root.glob("*/*/*.parquet"))
    second = stage_world(raw_store, SALT, progress=False)
    after = _snapshot(raw_store)
    assert before.keys() == after.keys()
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)
    assert parts_before == sorted(p.relative_to(raw_store.root) for p in raw_store.root.glob("*/*/*.parquet"))
    assert first.to_frame().drop(columns="seconds").equals(second.to_frame().drop(columns="seconds"))
    q = read_quarantine(raw_store, "touchpoints")
    assert (q["_source"].str.endswith("touchpoints_dup.csv")).sum() == 1  # the ingest row is kept, once
    assert (q["_source"].str.startswith("raw/")).sum() == 1


def test_streaming_part_by_part_in_bounded_batches(raw_store: DataStore, monkeypatch) -> None:
    reference = stage_world(raw_store, SALT, progress=False)
    expected = _snapshot(raw_store)

    seen: list[int] = []
    real = staging.check_rows

    def spy(df, *args, **kwargs):
        seen.append(len(df))
        return real(df, *args, **kwargs)

    monkeypatch.setattr(staging, "check_rows", spy)
    report = stage_world(raw_store, SALT, progress=False, batch_rows=2)
    assert max(seen) == 2
    # touchpoints: parts of 4 and 3 rows in batches of 2 -> 2 + 2 batches, one part each
    assert report.tables["touchpoints"].parts == 4
    assert len(raw_store.parts("staged", "touchpoints")) == 4
    got = _snapshot(raw_store)
    for name in expected:
        pd.testing.assert_frame_equal(expected[name], got[name], obj=name)
    assert report.rows_quarantined == reference.rows_quarantined
    # the duplicate is found across parts and batches alike
    assert read_quarantine(raw_store, "touchpoints")["_row"].tolist() == [2]


def test_duplicates_on_a_compound_key_across_parts(raw_store: DataStore) -> None:
    spend = raw_store.read("raw", "spend")
    again = spend.iloc[[0, 5]].copy()
    again["spend"] = [1.0, 2.0]  # same (week, geo, channel), other values: still a duplicate
    raw_store.append_part("raw", "spend", again)
    t = staging.stage_table(raw_store, "spend", SALT, progress=False)
    assert t.reasons == {"greater_than_or_equal_to(0)": 1, "duplicate_key": 2}
    q = read_quarantine(raw_store, "spend")
    dup = q[q["_rule"] == "duplicate_key"].sort_values("_row")
    assert dup["_reason"].tolist() == [
        "row 1: duplicate key (week, geo, channel) = ('2023-01-02', 'north', 'tv'); "
        "first seen at row 1 of raw/spend/part-00000.parquet",
        "row 2: duplicate key (week, geo, channel) = ('2023-01-09', 'north', 'search'); "
        "first seen at row 6 of raw/spend/part-00000.parquet",
    ]
    assert (dup["_source"] == "raw/spend/part-00001.parquet").all()
    staged = raw_store.read("staged", "spend")
    assert not staged.duplicated(["week", "geo", "channel"]).any() and len(staged) == 11


def test_a_raw_part_without_a_required_column_stops_staging(raw_store: DataStore) -> None:
    raw_store.append_part(
        "raw",
        "conversions",
        pd.DataFrame(
            {
                "conversion_id": ["X9"],
                "customer_id": ["C00000002"],
                "ts": pd.to_datetime(["2023-01-09"]),
                "ingested_at": pd.to_datetime(["2023-01-10"]),
            }
        ),
    )
    with pytest.raises(ContractError, match=r"raw/conversions/part-00001.parquet lacks required column\(s\) 'revenue'"):
        stage_world(raw_store, SALT, progress=False)


def test_the_marker_records_the_raw_zone_and_goes_stale_when_it_changes(staged) -> None:
    store, report = staged
    assert staging_is_current(store)
    marker = json.loads((store.root / STAGING_MARKER).read_text())
    assert marker["tables"]["spend"] == {
        "rows_in": 12,
        "rows_staged": 11,
        "rows_quarantined": 1,
        "reasons": {"greater_than_or_equal_to(0)": 1},
    }
    assert marker["curated"] == report.curated == {"mmm_weekly": 9, "uplift_features": 3}
    assert marker["salt_fingerprint"] == report.salt_fingerprint == salt_fingerprint(SALT)
    assert SALT not in (store.root / STAGING_MARKER).read_text()
    assert marker["notes"] == list(report.notes)
    ingest_file(INGEST_FIXTURES / "touchpoints_dup.csv", "touchpoints", store)
    assert not staging_is_current(store)


def test_staging_an_empty_store_says_how_to_fill_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"No raw tables under .*galaxy world build"):
        stage_world(DataStore(tmp_path / "empty"), SALT, progress=False)


# --------------------------------------------------------------------------- a simulated world


@pytest.fixture(scope="module")
def ci_raw(tmp_path_factory: pytest.TempPathFactory) -> DataStore:
    """The raw zone of a simulated ci world (not staged)."""
    from galaxy_lib.simulate import build_world

    root = tmp_path_factory.mktemp("ci") / "world"
    build_world(root, size="ci", seed=7, progress=False)
    return DataStore(root)


def test_ci_world_touchpoints_stream_part_by_part(ci_raw: DataStore, tmp_path: Path, monkeypatch) -> None:
    """A multi-part raw table staged in small batches gives the same staged rows as one pass."""
    import shutil

    src = ci_raw.root / "raw" / "touchpoints"
    store = DataStore(tmp_path / "split")
    raw = ci_raw.read("raw", "touchpoints")
    n_parts = 5
    for chunk in np.array_split(np.arange(len(raw)), n_parts):
        store.append_part("raw", "touchpoints", raw.iloc[chunk])
    assert len(store.parts("raw", "touchpoints")) == n_parts and src.is_dir()

    seen: list[int] = []
    real = staging.check_rows
    monkeypatch.setattr(staging, "check_rows", lambda df, *a, **k: (seen.append(len(df)), real(df, *a, **k))[1])
    batch = 2_500
    t = staging.stage_table(store, "touchpoints", SALT, batch_rows=batch, progress=False)
    assert max(seen) <= batch and len(seen) >= len(raw) // batch
    assert t.rows_in == len(raw) and t.rows_staged + t.rows_quarantined == len(raw)
    streamed = store.read("staged", "touchpoints").sort_values("event_id").reset_index(drop=True)

    whole = DataStore(tmp_path / "whole")
    shutil.copytree(src, whole.root / "raw" / "touchpoints")
    staging.stage_table(whole, "touchpoints", SALT, batch_rows=10_000_000, progress=False)
    once = whole.read("staged", "touchpoints").sort_values("event_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(streamed, once)


def test_staging_reasons_mask_personal_data_in_any_column(raw_store: DataStore) -> None:
    """A file copied into raw by hand with an e-mail in a key column: the reason quoting it is masked."""
    tp = raw_store.read("raw", "touchpoints").iloc[:2].copy()
    tp["event_id"] = "jane.doe@example.com"  # a shifted export: the e-mail landed in event_id, twice
    tp["ts"] = [pd.NaT, tp["ts"].iloc[1]]  # and a row that breaks a rule, quoting the customer id
    tp["customer_id"] = "cust-7"
    raw_store.append_part("raw", "touchpoints", tp)
    stage_world(raw_store, SALT, progress=False)
    reasons = " ".join(read_quarantine(raw_store, "touchpoints")["_reason"])
    assert "jane.doe@example.com" not in reasons and "cust-7" not in reasons
    assert "j*****************om" in reasons  # still says which value, masked
    assert scan_text(reasons, raw_ids=["cust-7"]) == []
