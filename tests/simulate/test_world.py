"""The ci world: layout, contracts, determinism, streaming, identifiers."""

from __future__ import annotations

import json
import re

import pandas as pd
import pyarrow.parquet as pq
import pytest

from galaxy_lib.core.contracts import CONTRACTS, RAW_TABLES
from galaxy_lib.simulate import WorldConfig, build_world

CUSTOMER_TABLES = ("customers", "consent", "touchpoints", "conversions", "email_experiment")


def test_every_raw_table_is_written_and_counted(ci_world):
    s = ci_world.summary
    assert set(s.rows) == set(RAW_TABLES)
    for name in RAW_TABLES:
        assert ci_world.store.exists("raw", name), name
        assert len(ci_world.table(name)) == s.rows[name] > 0
    world = json.loads((s.path / "world.json").read_text())
    assert world["rows"] == s.rows and world["size"] == "ci" and world["seed"] == 42
    assert s.seconds > 0 and s.peak_memory_mb > 0


@pytest.mark.parametrize("table", RAW_TABLES)
def test_raw_table_validates_against_its_contract(ci_world, table):
    df = ci_world.table(table)
    CONTRACTS[table].schema.validate(df, lazy=True)
    key = list(CONTRACTS[table].key)
    assert not df.duplicated(key).any(), f"duplicate keys in {table}"


def test_ci_sizes(ci_world):
    rows = ci_world.summary.rows
    assert rows["customers"] == 2_000 == rows["email_experiment"]
    assert 20_000 <= rows["touchpoints"] <= 40_000
    assert rows["creatives"] == 60
    assert rows["kpi"] == 156 * 4 and rows["spend"] == 156 * 4 * 5
    assert 6 <= rows["lift_tests"] <= 8


def test_same_seed_same_world_whatever_the_chunk_size(ci_world, ci_world_chunked):
    for name in RAW_TABLES:
        pd.testing.assert_frame_equal(ci_world.table(name), ci_world_chunked.table(name), check_exact=True)
    for name in ("uplift", "conversions"):
        pd.testing.assert_frame_equal(ci_world.truth_table(name), ci_world_chunked.truth_table(name))
    assert ci_world.truth == ci_world_chunked.truth
    pngs = sorted((ci_world.path / "assets" / "creatives").glob("*.png"))
    assert len(pngs) == 60
    for p in pngs:
        assert p.read_bytes() == (ci_world_chunked.path / "assets" / "creatives" / p.name).read_bytes()
    for md in sorted((ci_world.path / "content").rglob("*.md")):
        assert md.read_text() == (ci_world_chunked.path / md.relative_to(ci_world.path)).read_text()


def test_small_chunks_stream_several_parts(ci_world, ci_world_chunked):
    for name in CUSTOMER_TABLES:
        parts = sorted(ci_world_chunked.store.table_dir("raw", name).glob("part-*.parquet"))
        assert len(parts) == 4, name
        assert sum(pq.ParquetFile(p).metadata.num_rows for p in parts) == ci_world.summary.rows[name]
        assert len(list(ci_world.store.table_dir("raw", name).glob("part-*.parquet"))) == 1
    # each part holds whole customers (500 per chunk)
    first = pd.read_parquet(ci_world_chunked.store.table_dir("raw", "customers") / "part-00000.parquet")
    assert first["customer_id"].tolist() == [f"C{i:08d}" for i in range(1, 501)]
    assert pq.ParquetFile(ci_world_chunked.path / "truth" / "conversions.parquet").metadata.num_row_groups == 4


def test_another_seed_gives_another_world(tmp_path, ci_world):
    cfg = WorldConfig.for_size("ci", seed=7, n_customers=250, chunk_size=250, n_creatives=8)
    s = build_world(tmp_path / "w7", config=cfg, progress=False)
    other = pd.read_parquet(s.path / "raw" / "spend")
    assert not other["spend"].equals(ci_world.table("spend")["spend"])
    assert s.rows["customers"] == 250 and s.rows["creatives"] == 8
    # rebuilding over an existing world replaces it
    s2 = build_world(tmp_path / "w7", config=cfg, progress=False)
    assert s2.rows == s.rows
    assert len(list((tmp_path / "w7" / "raw" / "customers").glob("*.parquet"))) == 1


def test_refuses_to_overwrite_a_folder_that_is_not_a_world(tmp_path):
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="refusing to build a world over other files"):
        build_world(tmp_path, size="ci", progress=False)
    assert (tmp_path / "notes.txt").read_text() == "precious"


def test_customer_ids_and_pii_are_well_formed(ci_world):
    c = ci_world.table("customers")
    assert c["customer_id"].str.fullmatch(r"C\d{8}").all()
    assert c["customer_id"].is_unique
    assert c["email"].str.fullmatch(r"[a-z]+\.[a-z]+\d{1,3}@example\.com").all()
    assert c["phone"].str.fullmatch(r"\+44 7700 900\d{3}").all()
    assert set(c["geo"]) == {"north", "south", "east", "west"}
    assert set(c["segment"]) == {"new", "regular", "loyal", "lapsed"}


def test_event_ids_are_unique_and_do_not_look_like_customer_ids(ci_world):
    t = ci_world.table("touchpoints")
    v = ci_world.table("conversions")
    assert t["event_id"].is_unique and v["conversion_id"].is_unique
    assert t["event_id"].str.fullmatch(r"E\d{15}").all() and v["conversion_id"].str.fullmatch(r"V\d{15}").all()
    pattern = re.compile(r"C\d{8}")
    for col in (t["event_id"], t["campaign_id"], t["creative_id"].dropna(), v["conversion_id"]):
        assert not col.str.contains(pattern).any()


def test_ingestion_latency_is_small_with_a_few_late_arrivals(ci_world):
    for name in ("touchpoints", "conversions"):
        df = ci_world.table(name)
        lag = (df["ingested_at"] - df["ts"]).dt.total_seconds()
        assert (lag > 0).all()
        assert lag.median() < 15 * 60
        late = (lag > 3600).mean()
        assert 0 < late < 0.03, (name, late)


def test_events_fall_inside_the_period_and_after_signup(ci_world):
    start = pd.Timestamp(ci_world.truth["world"]["start_week"])
    end = pd.Timestamp(ci_world.truth["world"]["end"])
    c = ci_world.table("customers").set_index("customer_id")
    for name in ("touchpoints", "conversions"):
        df = ci_world.table(name)
        assert df["ts"].between(start, end, inclusive="left").all()
        assert (df["ts"] >= c.loc[df["customer_id"], "signup_date"].to_numpy()).all()
