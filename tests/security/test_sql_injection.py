"""SQL injection through names that come from outside: CSV headers and store paths.

A CSV header is a column name in raw, and the inventory and the PII scan put column
names into DuckDB SQL. Before every identifier went through ``core.sql``, the header
below ended the quoted identifier and ran a ``COPY`` that wrote a file on the next
``01_data_inventory`` run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from galaxy_lib.core import sql
from galaxy_lib.core.store import DataStore
from galaxy_lib.inventory import profile_store, scan_store_tables
from galaxy_lib.inventory.analysis import duplicate_gates, quarantine_table
from galaxy_lib.inventory.params import InventoryParams
from galaxy_lib.pipeline.ingest import ingest_file


def _attack_header(target: Path) -> str:
    return f"v\" FROM (SELECT 1 AS \"v\") t; COPY (SELECT 'x') TO '{target}'; SELECT 'x' AS v --"


def test_identifiers_and_literals_stay_one_token() -> None:
    assert sql.identifier('a"b') == '"a""b"'
    assert sql.literal("it's") == "'it''s'"
    assert sql.qualified("staged", 'x"y') == '"staged"."x""y"'
    assert sql.read_parquet("/d/it's/*.parquet", union_by_name=True) == (
        "read_parquet('/d/it''s/*.parquet', union_by_name = true)"
    )


def test_hostile_header_is_data_not_sql(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    header = _attack_header(target)
    csv = tmp_path / "spend.csv"
    pd.DataFrame(
        {"week": ["2025-01-06", "2025-01-13"], "channel": ["tv", "tv"], "spend": ["10", "12"], header: ["a", "b"]}
    ).to_csv(csv, index=False)
    store = DataStore(tmp_path / "store")
    ingest_file(csv, "spend", store)
    assert header in store.read("raw", "spend").columns  # kept as an ordinary (if odd) column name

    profiles = profile_store(store)
    findings = scan_store_tables(store)
    gates = duplicate_gates(store, InventoryParams())
    quarantine_table(store)

    assert not target.exists(), "a column name was executed as SQL"
    assert set(profiles["table"]) == {"spend"} and findings.empty
    assert [g.gate for g in gates] == ["duplicate_rate"]


def test_a_quote_in_the_store_path_does_not_break_queries(tmp_path: Path) -> None:
    store = DataStore(tmp_path / "it's a store")
    store.write("raw", "spend", pd.DataFrame({"week": pd.to_datetime(["2025-01-06"]), "spend": [1.0]}))
    assert store.query("SELECT count(*) AS n FROM raw.spend")["n"].iloc[0] == 1
    assert profile_store(store)["rows"].tolist() == [1]
