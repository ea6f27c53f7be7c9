"""Staging: raw -> staged (contracts, quarantine, pseudonymisation) -> curated (model-ready tables).

:func:`stage_world` takes every raw table through the same row checks as
ingestion (:func:`galaxy_lib.pipeline.rowchecks.check_rows`: dates, duplicate keys,
the pandera contract), replaces ``customer_id`` by the salted ``customer_key``
(:func:`galaxy_lib.governance.pseudonyms.pseudonymise`), drops e-mail and phone, and
writes ``staged/<table>``. Tables are processed batch by batch with pyarrow, so
a benchmark world with millions of touchpoints in many parts is staged in
bounded memory; duplicate keys across parts are found by DuckDB over the whole
table first. It then builds the curated tables the workflows registered
(:mod:`galaxy_lib.pipeline.curated`), e.g. the MMM's ``mmm_weekly``.

:func:`staging_is_current` tells whether the raw zone changed since staging
finished; ``galaxy_lib.simulate.ensure_world`` uses it to build and stage the
Galaxy world only when needed.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from galaxy_lib.core import sql
from galaxy_lib.core.contracts import (
    CUSTOMER_ID,
    CUSTOMER_KEY,
    DROPPED_AT_STAGING,
    RAW_TABLES,
    ContractError,
    TableContract,
    contract_for,
)
from galaxy_lib.core.quarantine import quarantine_rows
from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.pseudonyms import pseudonymise
from galaxy_lib.pipeline.curated import CuratedTable, build_curated_tables, registered_tables
from galaxy_lib.pipeline.rowchecks import check_rows, format_key, to_arrow

__all__ = [
    "BATCH_ROWS",
    "STAGING_MARKER",
    "StagingReport",
    "TableStaging",
    "stage_table",
    "stage_world",
    "staging_is_current",
]

#: File written at the store root when staging finishes (raw fingerprint + report).
STAGING_MARKER = "staging.json"
#: Rows per batch when streaming a raw part (bounds memory whatever the part size).
BATCH_ROWS = 500_000
#: Prefix of the quarantine parts written by staging (replaced on every re-run).
_QUARANTINE_PREFIX = "staging"
#: DuckDB memory cap for the whole-table duplicate search (it spills to a temporary folder beyond).
DUCKDB_MEMORY_LIMIT = "600MB"
_STRINGS = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}


@dataclass(frozen=True)
class TableStaging:
    """How one raw table was staged.

    Attributes
    ----------
    table
        Table name.
    rows_in, rows_staged, rows_quarantined
        Raw rows read, rows written to ``staged/<table>``, rows sent to quarantine
        (``rows_in == rows_staged + rows_quarantined``).
    reasons
        Quarantined rows per rule.
    parts
        Staged Parquet parts written.
    seconds
        Wall-clock time.
    """

    table: str
    rows_in: int
    rows_staged: int
    rows_quarantined: int
    reasons: dict[str, int]
    parts: int
    seconds: float


@dataclass(frozen=True)
class StagingReport:
    """Outcome of :func:`stage_world`.

    Attributes
    ----------
    tables
        Per raw table: rows in, staged, quarantined, reasons, seconds.
    curated
        Rows of each curated table built.
    as_of
        Reference date of derived features (``tenure_days``).
    seconds
        Total wall-clock time.
    notes
        Things a reader should know (raw tables without a contract, experiment rows
        without a staged customer, ...).
    """

    tables: dict[str, TableStaging]
    curated: dict[str, int]
    as_of: pd.Timestamp | None
    seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def rows_in(self) -> int:
        """Raw rows read, over every table."""
        return sum(t.rows_in for t in self.tables.values())

    @property
    def rows_staged(self) -> int:
        """Rows written to the staged zone, over every table."""
        return sum(t.rows_staged for t in self.tables.values())

    @property
    def rows_quarantined(self) -> int:
        """Rows sent to quarantine by staging, over every table."""
        return sum(t.rows_quarantined for t in self.tables.values())

    def to_frame(self) -> pd.DataFrame:
        """One row per table: ``table, rows_in, rows_staged, rows_quarantined, reasons, seconds``."""
        return pd.DataFrame(
            [
                {
                    "table": t.table,
                    "rows_in": t.rows_in,
                    "rows_staged": t.rows_staged,
                    "rows_quarantined": t.rows_quarantined,
                    "reasons": ", ".join(f"{k}: {v}" for k, v in t.reasons.items()),
                    "seconds": round(t.seconds, 2),
                }
                for t in self.tables.values()
            ],
            columns=["table", "rows_in", "rows_staged", "rows_quarantined", "reasons", "seconds"],
        )

    def __str__(self) -> str:
        curated = ", ".join(f"{k} {v:,} rows" for k, v in self.curated.items()) or "none"
        return (
            f"{len(self.tables)} tables, {self.rows_in:,} raw rows: {self.rows_staged:,} staged, "
            f"{self.rows_quarantined:,} quarantined; curated: {curated} ({self.seconds:.1f} s)"
        )


# --------------------------------------------------------------------------- raw -> staged


def _pseudonymise(df: pd.DataFrame, salt: str) -> pd.DataFrame:
    """Replace ``customer_id`` by ``customer_key`` (same position) and drop e-mail and phone."""
    out = df.drop(columns=[c for c in DROPPED_AT_STAGING if c in df.columns])
    if CUSTOMER_ID in out.columns:
        pos = out.columns.get_loc(CUSTOMER_ID)
        key = pseudonymise(out[CUSTOMER_ID], salt)
        out = out.drop(columns=[CUSTOMER_ID])
        out.insert(pos, CUSTOMER_KEY, key.astype("string[pyarrow]"))
    return out


def _check_structure(contract: TableContract, parts: list[Path]) -> None:
    """Every part must hold every required column (else ContractError naming the part and column)."""
    for part in parts:
        names = set(pq.read_schema(part).names)
        missing = [c for c in contract.required_columns if c not in names]
        if missing:
            raise ContractError(
                f"raw/{contract.name}/{part.name} lacks required column(s) {', '.join(map(repr, missing))}. "
                f"Re-ingest that file with a mapping (ingest_file(..., mapping={{{missing[0]!r}: '<your column>'}})) "
                f"or remove the part."
            )


def _rel(store: DataStore, path: str | Path) -> str:
    p = Path(path)
    try:
        return p.relative_to(store.root).as_posix()
    except ValueError:
        return p.as_posix()


def _cross_part_duplicates(store: DataStore, contract: TableContract, parts: list[Path]) -> dict[str, pd.Series]:
    """Duplicate keys over the whole table, found by DuckDB (out of core).

    Returns, per part file name, the 0-based rows that repeat a key seen earlier
    (parts in name order, rows in file order) with the reason naming the first one.
    Rows with a missing key value are left to the contract's not-null checks.
    """
    key = list(contract.key)
    if not key or not parts:
        return {}
    cols = sql.identifiers(key)
    not_null = " AND ".join(f"{sql.identifier(c)} IS NOT NULL" for c in key)
    files = "[" + ", ".join(sql.literal(p.as_posix()) for p in parts) + "]"
    src = f"read_parquet({files}, filename = true, file_row_number = true, union_by_name = true)"
    # Group 64-bit hashes of the key first (8 bytes a row instead of the key text), then
    # compare the real keys of the few rows whose hash repeats: a hash collision between
    # different keys is ruled out by the exact PARTITION BY on the key itself.
    query = f"""
        WITH h AS (SELECT hash({cols}) AS h FROM {src} WHERE {not_null} GROUP BY 1 HAVING count(*) > 1),
             t AS (SELECT {cols}, filename, file_row_number FROM {src}
                   WHERE {not_null} AND hash({cols}) IN (SELECT h FROM h))
        SELECT {cols}, filename, file_row_number,
               first_value(filename) OVER w AS first_file,
               first_value(file_row_number) OVER w AS first_row,
               row_number() OVER w AS rn
        FROM t
        WINDOW w AS (PARTITION BY {cols} ORDER BY filename, file_row_number)
        QUALIFY rn > 1
    """
    with tempfile.TemporaryDirectory(prefix="galaxy-duckdb-") as spill, duckdb.connect() as con:
        # bounded memory: DuckDB spills to disk beyond this (15M touchpoint ids: ~0.7 GB peak, 9 s)
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = {sql.literal(spill)}")
        con.execute("SET enable_progress_bar = false")
        dups = con.execute(query).df()
    if dups.empty:
        return {}
    dups["reason"] = [
        f"duplicate key {format_key(contract, tuple(r[c] for c in key))}; first seen at row "
        f"{int(r['first_row']) + 1} of {_rel(store, r['first_file'])}"
        for _, r in dups.iterrows()
    ]
    return {
        Path(f).name: g[["file_row_number", "reason"]].set_index("file_row_number")["reason"]
        for f, g in dups.groupby("filename")
    }


def stage_table(
    store: DataStore, table: str, salt: str, batch_rows: int = BATCH_ROWS, progress: bool = True
) -> TableStaging:
    """Stage one raw table: row checks with quarantine, pseudonymisation, ``staged/<table>``.

    Raw parts are read batch by batch (``batch_rows`` rows at most), checked with
    :func:`galaxy_lib.pipeline.ingest.check_rows`, pseudonymised and written as one staged
    part each, so memory stays bounded whatever the table size. Quarantined rows go
    to ``quarantine/<table>/staging-*.parquet`` with ``_source`` naming the raw part
    and ``_row`` the row in it (1-based); a re-run replaces them, so staging twice
    gives the same staged and quarantined rows.

    Parameters
    ----------
    store
        The data store (``raw/<table>`` must exist).
    table
        Table name.
    salt
        Pseudonymisation secret (:func:`galaxy_lib.governance.pseudonyms.get_salt`).
    batch_rows
        Largest batch read into pandas at once.
    progress
        Show a tqdm progress bar.
    """
    t0 = time.perf_counter()
    contract = contract_for(table)
    parts = store.parts("raw", table)
    if not parts:
        raise FileNotFoundError(f"raw/{table} has no parts under {store.root}.")
    _check_structure(contract, parts)
    total = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    counts = {"in": 0, "quarantined": 0, "parts": 0}
    reasons: dict[str, int] = {}

    with store.lock():
        dup_by_part = _cross_part_duplicates(store, contract, parts)
        store.drop_parts("quarantine", table, _QUARANTINE_PREFIX)
        bar = tqdm(total=total, desc=f"staging {table}", unit="row", unit_scale=True, disable=not progress, leave=False)

        def batches():
            for part in parts:
                dups = dup_by_part.get(part.name)
                offset = 0
                for batch in pq.ParquetFile(part).iter_batches(batch_size=batch_rows):
                    df = batch.to_pandas(types_mapper=_STRINGS.get)
                    n = len(df)
                    rows = np.arange(offset + 1, offset + n + 1)
                    # duplicates were searched over the whole table already: pass the verdict
                    # (all None when this part has none) so check_rows does not search again
                    dup_reasons = np.full(n, None, dtype=object)
                    if dups is not None:
                        found = dups.reindex(np.arange(offset, offset + n)).to_numpy(dtype=object)
                        dup_reasons = np.where(pd.isna(found), None, found)
                    check = check_rows(df, contract, rows, duplicate_reasons=dup_reasons)
                    rej = check.rejected
                    if len(rej):
                        quarantine_rows(
                            store,
                            table,
                            rej.drop(columns=["_row", "_rule", "_reason"]),
                            rule=rej["_rule"],
                            reason=rej["_reason"],
                            source=_rel(store, part),
                            row_numbers=rej["_row"],
                            prefix=_QUARANTINE_PREFIX,
                        )
                        for k, v in check.reasons.items():
                            reasons[k] = reasons.get(k, 0) + v
                    counts["in"] += n
                    counts["quarantined"] += len(rej)
                    offset += n
                    bar.update(n)
                    if len(check.accepted):
                        counts["parts"] += 1
                        yield to_arrow(_pseudonymise(check.accepted, salt))

        staged = store.write_parts("staged", table, batches())
        bar.close()
    if counts["in"] != staged + counts["quarantined"]:
        raise AssertionError(
            f"staging {table} lost rows: {counts['in']} in, {staged} staged, {counts['quarantined']} quarantined"
        )
    return TableStaging(
        table=table,
        rows_in=counts["in"],
        rows_staged=staged,
        rows_quarantined=counts["quarantined"],
        reasons=dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        parts=counts["parts"],
        seconds=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------- staged -> curated


def _default_as_of(store: DataStore) -> pd.Timestamp | None:
    """Latest time seen in the staged data: signups, touchpoints, conversions."""
    sources = [
        (t, c)
        for t, c in (("customers", "signup_date"), ("touchpoints", "ts"), ("conversions", "ts"))
        if store.exists("staged", t)
    ]
    if not sources:
        return None
    union = " UNION ALL ".join(
        f"SELECT max({sql.identifier(c)}) AS m FROM {sql.qualified('staged', t)}" for t, c in sources
    )
    value = store.query(f"SELECT max(m) AS m FROM ({union})")["m"].iloc[0]
    return None if pd.isna(value) else pd.Timestamp(value)


# --------------------------------------------------------------------------- the whole world


def _raw_fingerprint(store: DataStore) -> str:
    """Hash of every raw part's name, size and modification time (changes when raw changes)."""
    h = hashlib.sha256()
    raw = store.root / "raw"
    for p in sorted(raw.glob("*/*.parquet")) if raw.is_dir() else []:
        st = p.stat()
        h.update(f"{p.relative_to(raw).as_posix()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def staging_is_current(store: DataStore) -> bool:
    """Tell whether staging finished after the last change to the raw zone."""
    marker = store.root / STAGING_MARKER
    if not marker.is_file() or not (store.root / "staged").is_dir():
        return False
    try:
        return json.loads(marker.read_text()).get("raw_fingerprint") == _raw_fingerprint(store)
    except (json.JSONDecodeError, OSError):
        return False


def stage_world(
    store: DataStore,
    salt: str,
    as_of: str | pd.Timestamp | None = None,
    progress: bool = True,
    batch_rows: int = BATCH_ROWS,
    curated_tables: Iterable[CuratedTable] | None = None,
) -> StagingReport:
    """Stage every raw table and build the curated tables. Idempotent.

    Parameters
    ----------
    store
        The data store (a Galaxy world folder or your own store with raw tables).
    salt
        Pseudonymisation secret, from :func:`galaxy_lib.governance.pseudonyms.get_salt`.
    as_of
        Reference time handed to the curated tables' builders (e.g. for tenure features).
        Default: the latest signup, touchpoint or conversion time in the staged data.
    progress
        Show tqdm progress bars.
    batch_rows
        Largest batch of a raw part held in memory at once.
    curated_tables
        Curated tables to build after staging; default every table the workflows
        registered (:func:`galaxy_lib.pipeline.curated.registered_tables`).

    Returns
    -------
    StagingReport
        Rows in, staged and quarantined per table (with reasons), curated row counts.

    Notes
    -----
    Re-running replaces ``staged/<table>``, the curated tables and the quarantine
    rows staging wrote before (rows quarantined at ingestion stay), so staging twice
    gives the same result. Raw tables without a contract are left alone (listed in
    ``notes``). On success ``staging.json`` records a fingerprint of the raw zone;
    ``galaxy_lib.simulate.ensure_world`` re-stages when raw has changed since.
    """
    t0 = time.perf_counter()

    notes: list[str] = []
    with store.lock():
        present = [t.name for t in store.tables(count_rows=False) if t.zone == "raw"]
        tables = [t for t in RAW_TABLES if t in present]
        unknown = sorted(set(present) - set(RAW_TABLES))
        if unknown:
            notes.append(f"raw tables without a contract were not staged: {', '.join(unknown)}")
        if not tables:
            raise FileNotFoundError(
                f"No raw tables under {store.root}. Build the world (galaxy world build) or ingest files first."
            )
        report: dict[str, TableStaging] = {}
        for table in tables:
            report[table] = stage_table(store, table, salt, batch_rows=batch_rows, progress=progress)

        as_of_ts = pd.Timestamp(as_of) if as_of is not None else _default_as_of(store)
        curated, curated_notes = build_curated_tables(
            store, registered_tables() if curated_tables is None else curated_tables, as_of_ts
        )
        notes.extend(curated_notes)

        result = StagingReport(
            tables=report, curated=curated, as_of=as_of_ts, seconds=time.perf_counter() - t0, notes=tuple(notes)
        )
        marker = {
            "raw_fingerprint": _raw_fingerprint(store),
            "staged_at": pd.Timestamp.now(tz="UTC").isoformat(),
            "as_of": as_of_ts.isoformat() if as_of_ts is not None else None,
            "seconds": round(result.seconds, 3),
            "tables": {
                t: {
                    "rows_in": s.rows_in,
                    "rows_staged": s.rows_staged,
                    "rows_quarantined": s.rows_quarantined,
                    "reasons": s.reasons,
                }
                for t, s in report.items()
            },
            "curated": curated,
            "notes": list(notes),
        }
        (store.root / STAGING_MARKER).write_text(json.dumps(marker, indent=2))
    return result
