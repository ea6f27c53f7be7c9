"""Staging raw -> staged -> curated on a hand-made raw store, and on the simulated ci world."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import galaxy_lib.pipeline.staging as staging
from galaxy_lib.core.contracts import ContractError, PII_COLUMNS
from galaxy_lib.pipeline.ingest import ingest_file
from galaxy_lib.core.quarantine import read_quarantine
from galaxy_lib.pipeline.staging import (
    STAGING_MARKER,
    ensure_world,
    stage_world,
    staging_is_current,
)
from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.pii import pseudonymise, scan_text

SALT = "unit-test-salt-0123456789abcdef"
FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
WEEKS = pd.to_datetime(["2023-01-02", "2023-01-09", "2023-01-16"])


def _ts(values: list[str]) -> pd.Series:
    return pd.Series(pd.to_datetime(values))


def write_raw(root: Path) -> DataStore:
    """A tiny raw store with one planted problem per table kind.

    * customer C00000005 has an e-mail without '@'        -> customers quarantined
    * a consent row has purpose 'ads'                       -> consent quarantined
    * touchpoint E3 appears in part 0 and again in part 1  -> second copy quarantined
    * spend of (2023-01-09, south, tv) is negative          -> spend quarantined
    """
    store = DataStore(root)
    ids = [f"C0000000{i}" for i in range(1, 6)]
    store.write("raw", "customers", pd.DataFrame({
        "customer_id": ids,
        "email": [f"user{i}@example.com" for i in range(1, 5)] + ["no-at-sign.example.com"],
        "phone": [f"+44 7700 90012{i}" for i in range(1, 6)],
        "geo": ["north", "south", "north", "south", "north"],
        "signup_date": _ts(["2022-01-01", "2022-06-15", "2023-01-01", "2021-03-03", "2022-02-02"]),
        "age": [30, 41, 25, 60, 33],
        "segment": ["new", "loyal", "new", "regular", "new"],
        "past_purchases": [0, 12, 1, 4, 0],
        "avg_order_value": [50.0, 80.0, 20.0, 65.0, 30.0],
        "email_engagement": [0.1, 0.5, 0.3, 0.9, 0.2],
    }))
    store.write("raw", "consent", pd.DataFrame({
        "customer_id": ids + ["C00000001"],
        "purpose": ["measurement"] * 5 + ["ads"],
        "tcf_purposes": ["7,8,9,10"] * 5 + ["2"],
        "granted_at": _ts(["2022-01-01"] * 6),
        "withdrawn_at": _ts([None, "2023-01-05", None, None, None, None]),
    }))
    tp = pd.DataFrame({
        "event_id": ["E1", "E2", "E3", "E4", "E5", "E3", "E6"],
        "customer_id": ["C00000001", "C00000002", "C00000003", "C00000001", "C00000004", "C00000004", "C00000005"],
        "ts": _ts(["2023-01-03 10:00", "2023-01-04 11:00", "2023-01-05 12:00", "2023-01-10 09:00",
                   "2023-01-11 08:00", "2023-01-12 08:00", "2023-01-13 08:00"]),
        "channel": ["search", "email", "social", "direct", "display", "video", "search"],
        "campaign_id": ["c1"] * 7,
        "creative_id": [None, "cr1", "cr2", None, "cr3", "cr4", None],
        "ingested_at": _ts(["2023-01-20"] * 7),
    })
    store.append_part("raw", "touchpoints", tp.iloc[:4])
    store.append_part("raw", "touchpoints", tp.iloc[4:])
    store.write("raw", "conversions", pd.DataFrame({
        "conversion_id": ["X1", "X2"], "customer_id": ["C00000001", "C00000004"],
        "ts": _ts(["2023-01-06", "2023-01-14"]), "revenue": [99.0, 45.5],
        "ingested_at": _ts(["2023-01-20", "2023-01-20"]),
    }))
    spend = pd.DataFrame(
        [(w, g, c, s, s * 100, s / 10) for w in WEEKS for g in ("north", "south") for c, s in (("tv", 100.0), ("search", 40.0))],
        columns=["week", "geo", "channel", "spend", "impressions", "clicks"],
    )
    spend["spend"] = spend["spend"] + np.arange(len(spend))  # every cell distinct
    bad = (spend["week"] == WEEKS[1]) & (spend["geo"] == "south") & (spend["channel"] == "tv")
    spend.loc[bad, "spend"] = -5.0
    store.write("raw", "spend", spend)
    store.write("raw", "kpi", pd.DataFrame({
        "week": np.repeat(WEEKS, 2), "geo": ["north", "south"] * 3,
        "revenue": [1000.0, 800.0, 1100.0, 900.0, 1050.0, 700.0],
        "conversions": [10.0, 8.0, 11.0, 9.0, 10.0, 7.0],
        "price_index": [1.0, 1.1, 0.9, 1.2, 1.0, 1.0],
        "holiday": [0, 0, 1, 0, 0, 0],
    }))
    store.write("raw", "email_experiment", pd.DataFrame({
        "customer_id": ids, "treatment": [1, 0, 1, 0, 1], "converted": [1, 0, 0, 1, 0],
        "revenue": [20.0, 0.0, 0.0, 35.0, 0.0],
    }))
    return store


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
    key_of = dict(zip(pseudonymise(store.read("raw", "customers")["customer_id"], SALT),
                      store.read("raw", "customers")["customer_id"]))
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
    expected = {"customers": {"str_contains('@')": 1}, "consent": {"isin(('measurement', 'personalisation', "
                "'advertising', 'content'))": 1}, "touchpoints": {"duplicate_key": 1},
                "spend": {"greater_than_or_equal_to(0)": 1}}
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
    assert report.notes == ("uplift_features: 1 experiment row(s) have no staged customer and were left out",)


def test_mmm_weekly_national_total_is_the_sum_of_geos(staged) -> None:
    store, _ = staged
    mmm = store.read("curated", "mmm_weekly")
    assert list(mmm.columns) == ["week", "geo", "revenue", "conversions", "price_index", "holiday",
                                 "spend_tv", "impressions_tv", "spend_search", "impressions_search"]
    geos = mmm[mmm["geo"] != "ALL"]
    national = mmm[mmm["geo"] == "ALL"].set_index("week")
    assert len(geos) == 6 and len(national) == 3
    summed = geos.groupby("week")[["revenue", "conversions", "spend_tv", "spend_search", "impressions_tv"]].sum()
    pd.testing.assert_frame_equal(national[summed.columns], summed, check_names=False)
    assert np.allclose(national["price_index"], geos.groupby("week")["price_index"].mean())
    assert national["holiday"].tolist() == [0, 1, 0]
    # per-geo values come straight from staged kpi and spend
    kpi = store.read("staged", "kpi").set_index(["week", "geo"])
    per = geos.set_index(["week", "geo"])
    assert np.allclose(per["revenue"], kpi.loc[per.index, "revenue"])
    spend = store.read("staged", "spend")
    tv = spend[spend["channel"] == "tv"].set_index(["week", "geo"])["spend"]
    assert np.allclose(per.loc[tv.index, "spend_tv"], tv)
    # the quarantined negative spend is not in the table: that cell has no tv spend
    assert per.loc[(WEEKS[1], "south"), "spend_tv"] == 0.0
    assert national.loc[WEEKS[1], "spend_tv"] == tv.xs(WEEKS[1], level="week").sum()


def test_uplift_features(raw_store: DataStore) -> None:
    report = stage_world(raw_store, SALT, as_of="2023-03-01", progress=False)
    assert report.as_of == pd.Timestamp("2023-03-01")
    up = raw_store.read("curated", "uplift_features")
    assert list(up.columns) == ["customer_key", "treatment", "converted", "revenue", "age", "segment",
                                "past_purchases", "avg_order_value", "email_engagement", "geo", "tenure_days"]
    raw = raw_store.read("raw", "customers").iloc[:4]  # C00000005 was quarantined
    raw["customer_key"] = pseudonymise(raw["customer_id"], SALT)
    merged = up.merge(raw, on="customer_key", suffixes=("", "_raw"))
    assert len(merged) == 4
    assert (merged["tenure_days"] == (pd.Timestamp("2023-03-01") - merged["signup_date"]).dt.days).all()
    for col in ("age", "segment", "geo", "past_purchases"):
        assert (merged[col] == merged[f"{col}_raw"]).all(), col
    # default as_of: the latest event or signup in the data
    assert stage_world(raw_store, SALT, progress=False).as_of == pd.Timestamp("2023-01-14")


# --------------------------------------------------------------------------- idempotence and streaming

def _snapshot(store: DataStore) -> dict[str, pd.DataFrame]:
    out = {}
    for name, df in _all_tables(store, ("staged", "curated", "quarantine")).items():
        df = df.drop(columns=["_quarantined_at"], errors="ignore")
        out[name] = df.sort_values(list(df.columns)).reset_index(drop=True)
    return out


def test_staging_twice_gives_the_same_result(raw_store: DataStore) -> None:
    ingest_file(FIXTURES / "touchpoints_dup.csv", "touchpoints", raw_store)  # 1 row quarantined at ingest
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
    raw_store.append_part("raw", "conversions", pd.DataFrame({"conversion_id": ["X9"], "customer_id": ["C00000002"],
                                                               "ts": _ts(["2023-01-09"]), "ingested_at": _ts(["2023-01-10"])}))
    with pytest.raises(ContractError, match=r"raw/conversions/part-00001.parquet lacks required column\(s\) 'revenue'"):
        stage_world(raw_store, SALT, progress=False)


def test_reserved_national_geo(raw_store: DataStore) -> None:
    kpi = raw_store.read("raw", "kpi")
    kpi.loc[0, "geo"] = "ALL"
    raw_store.write("raw", "kpi", kpi)
    with pytest.raises(ContractError, match="reserves for the national total"):
        stage_world(raw_store, SALT, progress=False)


# --------------------------------------------------------------------------- ensure_world

def test_ensure_world_builds_once_under_the_lock(tmp_path: Path, monkeypatch) -> None:
    import galaxy_lib.simulate as simulate

    calls: list[Path] = []

    def fake_build(out_dir, size="ci", seed=42, progress=True):
        calls.append(Path(out_dir))
        write_raw(Path(out_dir))
        (Path(out_dir) / "world.json").write_text(json.dumps({"size": size, "seed": seed}))

    monkeypatch.setattr(simulate, "build_world", fake_build)
    root = tmp_path / "w"
    stores, errors = [], []

    def start_notebook() -> None:
        try:
            stores.append(ensure_world(root, size="ci", progress=False))
        except BaseException as err:  # pragma: no cover - surfaced below
            errors.append(err)

    threads = [threading.Thread(target=start_notebook) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(calls) == 1 and len(stores) == 2
    assert staging_is_current(stores[0])
    assert stores[0].exists("curated", "mmm_weekly")
    marker = json.loads((root / STAGING_MARKER).read_text())
    assert marker["tables"]["spend"]["rows_quarantined"] == 1

    # already staged: nothing is rebuilt or re-staged
    mtime = (root / STAGING_MARKER).stat().st_mtime_ns
    ensure_world(root, size="ci", progress=False)
    assert len(calls) == 1 and (root / STAGING_MARKER).stat().st_mtime_ns == mtime

    # new raw data makes staging stale: ensure_world stages again, without rebuilding
    ingest_file(FIXTURES / "touchpoints_dup.csv", "touchpoints", stores[0])
    assert not staging_is_current(stores[0])
    ensure_world(root, size="ci", progress=False)
    assert len(calls) == 1
    assert "E0000001" in set(stores[0].read("staged", "touchpoints")["event_id"])

    with pytest.warns(UserWarning, match="holds a 'ci' world"):
        ensure_world(root, size="demo", progress=False)

    # an interrupted simulator build (truth/ written, world.json not yet) is rebuilt, not staged
    (root / "world.json").unlink()
    (root / "truth").mkdir()
    (root / STAGING_MARKER).unlink()
    ensure_world(root, size="ci", progress=False)
    assert len(calls) == 2


def test_ensure_world_stages_a_users_own_store_without_simulating(tmp_path: Path, monkeypatch) -> None:
    import galaxy_lib.simulate as simulate

    def no_build(*args, **kwargs):  # pragma: no cover - failing is the point
        raise AssertionError("a store with raw tables must not be replaced by a simulated world")

    monkeypatch.setattr(simulate, "build_world", no_build)
    store = DataStore(tmp_path / "mine")
    ingest_file(FIXTURES / "spend_dirty.csv", "spend", store)
    ensure_world(store.root, salt=SALT, progress=False)
    assert len(store.read("staged", "spend")) == 3 and staging_is_current(store)


# --------------------------------------------------------------------------- the simulated world

@pytest.fixture(scope="module")
def ci_world(tmp_path_factory: pytest.TempPathFactory) -> DataStore:
    return ensure_world(tmp_path_factory.mktemp("ci") / "world", size="ci", seed=7, progress=False)


def test_ci_world_end_to_end(ci_world: DataStore) -> None:
    store = ci_world
    world = json.loads((store.root / "world.json").read_text())
    truth = json.loads((store.root / "ground_truth.json").read_text())
    marker = json.loads((store.root / STAGING_MARKER).read_text())
    for table, n in world["rows"].items():
        t = marker["tables"][table]
        assert t["rows_in"] == n and t["rows_staged"] + t["rows_quarantined"] == n, table

    mmm = store.read("curated", "mmm_weekly")
    national = mmm[mmm["geo"] == "ALL"]
    assert len(national) == truth["world"]["n_weeks"]
    assert sorted(mmm.loc[mmm["geo"] != "ALL", "geo"].unique()) == sorted(truth["world"]["geos"])
    for ch, spec in truth["mmm"]["channels"].items():
        assert national[f"spend_{ch}"].sum() == pytest.approx(spec["total_spend"], rel=1e-9), ch
    kpi = store.read("raw", "kpi")
    assert national["revenue"].sum() == pytest.approx(kpi["revenue"].sum(), rel=1e-12)

    up = store.read("curated", "uplift_features")
    assert len(up) == world["rows"]["email_experiment"]
    assert up["tenure_days"].ge(0).all() and up.notna().all().all()
    tau = pd.read_parquet(store.root / "truth" / "uplift.parquet")
    assert set(pseudonymise(tau["customer_id"], pii_salt()).tolist()) == set(up["customer_key"])

    raw_ids = store.read("raw", "customers")["customer_id"].tolist()
    for name, df in _all_tables(store, ("staged", "curated")).items():
        assert not set(PII_COLUMNS) & set(df.columns), name
        text = "\n".join(df.select_dtypes(include="object").astype(str).stack().unique())
        assert scan_text(text, raw_ids=raw_ids) == [], name


def pii_salt() -> str:
    """The salt ensure_world used for the ci world (the demo salt unless GALAXY_PII_SALT is set)."""
    import warnings

    from galaxy_lib.governance.pii import get_salt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_salt(demo=True)


def test_ci_world_touchpoints_stream_part_by_part(ci_world: DataStore, tmp_path: Path, monkeypatch) -> None:
    """A multi-part raw table staged in small batches gives the same staged rows as one pass."""
    import shutil

    src = ci_world.root / "raw" / "touchpoints"
    store = DataStore(tmp_path / "split")
    raw = ci_world.read("raw", "touchpoints")
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
