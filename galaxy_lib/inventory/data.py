"""Inputs of the data-inventory workflow: a profile of every stored table, and samples of them.

Profiling runs inside DuckDB over the Parquet parts, so it reads the bench world
(10M+ events) without loading it into pandas.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from galaxy_lib.core import sql
from galaxy_lib.core.contracts import CONTRACTS
from galaxy_lib.core.store import DataStore

__all__ = ["TableProfile", "load_sample", "profile_store", "schema_version", "store_as_of"]

#: Columns that staging removes or replaces; a staged table is compared to its contract without them.
_PSEUDONYMISED = {"customer_id": "customer_key", "email": None, "phone": None}


@dataclass(frozen=True)
class TableProfile:
    """Size, shape, schema and freshness of one stored table."""

    zone: str
    table: str
    rows: int
    columns: int
    megabytes: float
    parts: int
    schema_version: str
    contract: str
    latest: pd.Timestamp | None
    modified: pd.Timestamp


def schema_version(path: Path) -> str:
    """Short hash of a table's column names and Arrow types: changes whenever the schema does."""
    first = sorted(path.glob("*.parquet"))[0]
    schema = pq.read_schema(first)
    text = json.dumps([(f.name, str(f.type)) for f in schema], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _contract_status(zone: str, table: str, columns: tuple[str, ...]) -> str:
    contract = CONTRACTS.get(table)
    if contract is None or zone == "quarantine":
        return "no contract"
    required = set(contract.required_columns)
    if zone != "raw":
        for raw_col, staged_col in _PSEUDONYMISED.items():
            if raw_col in required:
                required.discard(raw_col)
                if staged_col:
                    required.add(staged_col)
    missing = sorted(required - set(columns))
    return "ok" if not missing else "missing: " + ", ".join(missing)


def _latest(store: DataStore, zone: str, table: str, columns: tuple[str, ...]) -> pd.Timestamp | None:
    contract = CONTRACTS.get(table)
    candidates = [c for c in (contract.date_columns if contract else ()) if c in columns]
    if not candidates or zone == "quarantine":
        return None
    col = candidates[0]
    value = store.query(f"SELECT max({sql.identifier(col)}) AS m FROM {sql.read_parquet(store.glob(zone, table))}")
    value = value["m"].iloc[0]
    return None if pd.isna(value) else pd.Timestamp(value).floor("s")


def profile_store(store: DataStore) -> pd.DataFrame:
    """Profile every table of the store: one row per ``zone.table``.

    Returns
    -------
    pandas.DataFrame
        Columns ``zone, table, rows, columns, megabytes, parts, schema_version,
        contract, latest, modified``; ``contract`` is ``ok`` or the missing
        contract columns, ``latest`` the newest value of the table's main date column.
    """
    rows = []
    for info in store.tables():
        rows.append(
            TableProfile(
                zone=info.zone,
                table=info.name,
                rows=info.rows,
                columns=len(info.columns),
                megabytes=round(info.bytes / 1e6, 3),
                parts=len(list(info.path.glob("*.parquet"))),
                schema_version=schema_version(info.path),
                contract=_contract_status(info.zone, info.name, info.columns),
                latest=_latest(store, info.zone, info.name, info.columns),
                modified=pd.Timestamp(info.modified, unit="s").floor("s"),
            ).__dict__
        )
    if not rows:
        raise FileNotFoundError(f"The store at {store.root} holds no tables. Build a world or ingest files first.")
    return pd.DataFrame(rows)


def store_as_of(store: DataStore, as_of: str = "") -> pd.Timestamp:
    """Return the reference time of a report (UTC, naive).

    ``as_of`` if given; else ``as_of`` from world.json; else one week after the last
    staged spend week (a historical store is judged at the end of its data); else now.
    """
    if as_of:
        try:
            return pd.Timestamp(as_of).tz_localize(None)
        except (ValueError, TypeError):
            raise ValueError(f"as_of={as_of!r} is not a date; use an ISO date such as '2025-12-31'.") from None
    world = store.root / "world.json"
    if world.is_file():
        meta = json.loads(world.read_text())
        if meta.get("as_of"):
            return pd.Timestamp(meta["as_of"]).tz_localize(None)
    if store.exists("staged", "spend"):
        # A simulated or historical store: judge freshness at the end of its data, one week after the last spend week.
        last = store.query(f"SELECT max(week) AS m FROM {sql.read_parquet(store.glob('staged', 'spend'))}")["m"].iloc[0]
        if not pd.isna(last):
            return pd.Timestamp(last).tz_localize(None) + pd.Timedelta(days=7)
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def load_sample(
    store: DataStore, zone: str, table: str, max_rows: int, columns: list[str] | None = None
) -> pd.DataFrame:
    """Read ``zone.table`` whole, or a repeatable reservoir sample of ``max_rows`` rows when it is larger.

    Parameters
    ----------
    store
        The data store.
    zone, table
        Which table.
    max_rows
        Rows read at most; above it DuckDB draws a reservoir sample with a fixed seed,
        so the same store gives the same sample.
    columns
        Columns to read (default all).
    """
    cols = sql.identifiers(columns) if columns else "*"
    src = sql.read_parquet(store.glob(zone, table))
    n = int(store.query(f"SELECT count(*) AS n FROM {src}")["n"].iloc[0])
    sample = f" USING SAMPLE reservoir({int(max_rows)} ROWS) REPEATABLE (42)" if n > max_rows else ""
    return store.query(f"SELECT {cols} FROM {src}{sample}")
