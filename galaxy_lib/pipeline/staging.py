"""Staging: raw -> staged (contracts, quarantine, pseudonymisation) -> curated (model-ready tables).

:func:`stage_world` takes every raw table through the same row checks as
ingestion (:func:`galaxy_lib.pipeline.rowchecks.check_rows`: dates, duplicate keys,
the pandera contract), replaces ``customer_id`` by the salted ``customer_key``
(:func:`galaxy_lib.governance.pseudonyms.pseudonymise`), drops e-mail and phone, and
writes ``staged/<table>`` with the contract's columns only: columns a user's file
brought along (``full_name``, ``mobile``, a second e-mail) stay in raw, and the
report names them (:attr:`TableStaging.raw_only_columns`). Tables are processed batch by batch with pyarrow, so
a benchmark world with millions of touchpoints in many parts is staged in
bounded memory; duplicate keys across parts are found by DuckDB over the whole
table first. It then builds the curated tables the workflows registered
(:mod:`galaxy_lib.pipeline.curated`), e.g. the MMM's ``mmm_weekly``.

**The salt.** The public demo salt pseudonymises only a store the simulator built
alone (``world.json`` present, no raw file it did not write, see
:func:`galaxy_lib.pipeline.ingest.holds_user_data`); for any other store staging
raises :class:`~galaxy_lib.governance.pseudonyms.SaltError` naming ``GALAXY_PII_SALT``.
:func:`salt_for_store` picks the salt for a store. ``staging.json`` records the
salt's fingerprint (never the salt).

:func:`staging_is_current` tells whether staging is still valid: the raw zone has
not changed since and the salt is the one staging used (setting ``GALAXY_PII_SALT``
after a demo-salt staging makes it stale); ``galaxy_lib.simulate.ensure_world`` uses
it to build and stage the Galaxy world only when needed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

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
from galaxy_lib.governance.pii import redact_many, redact_pii
from galaxy_lib.governance.pseudonyms import (
    DEMO_SALT,
    SALT_ENV,
    SaltError,
    configured_salt,
    get_salt,
    pseudonymise,
    salt_fingerprint,
)
from galaxy_lib.pipeline.curated import CuratedTable, build_curated_tables, registered_tables
from galaxy_lib.pipeline.ingest import holds_user_data, user_raw_files
from galaxy_lib.pipeline.rowchecks import check_rows, customer_ids, duplicates_across_parts, to_arrow

__all__ = [
    "BATCH_ROWS",
    "STAGING_MARKER",
    "StagingReport",
    "TableStaging",
    "demo_salt_allowed",
    "salt_for_store",
    "stage_table",
    "stage_world",
    "staging_is_current",
]

#: File written at the store root when staging finishes (raw fingerprint, salt fingerprint, report).
STAGING_MARKER = "staging.json"
#: File the simulator writes last in a store it built (``galaxy_lib.simulate.world``).
WORLD_MARKER = "world.json"
#: Rows per batch when streaming a raw part (bounds memory whatever the part size).
BATCH_ROWS = 500_000
#: Prefix of the quarantine parts written by staging (replaced on every re-run).
_QUARANTINE_PREFIX = "staging"
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
    raw_only_columns
        Columns of the raw parts outside the contract (names, personal data masked):
        left in raw, never staged.
    """

    table: str
    rows_in: int
    rows_staged: int
    rows_quarantined: int
    reasons: dict[str, int]
    parts: int
    seconds: float
    raw_only_columns: tuple[str, ...] = ()


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
        Things a reader should know (raw tables without a contract, columns left in
        raw, experiment rows without a staged customer, ...).
    salt_fingerprint
        :func:`~galaxy_lib.governance.pseudonyms.salt_fingerprint` of the salt used.
    """

    tables: dict[str, TableStaging]
    curated: dict[str, int]
    as_of: pd.Timestamp | None
    seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    salt_fingerprint: str = ""

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
        """One row per table: ``table, rows_in, rows_staged, rows_quarantined, reasons, raw_only_columns, seconds``."""
        columns = ["table", "rows_in", "rows_staged", "rows_quarantined", "reasons", "raw_only_columns", "seconds"]
        return pd.DataFrame(
            [
                {
                    "table": t.table,
                    "rows_in": t.rows_in,
                    "rows_staged": t.rows_staged,
                    "rows_quarantined": t.rows_quarantined,
                    "reasons": ", ".join(f"{k}: {v}" for k, v in t.reasons.items()),
                    "raw_only_columns": ", ".join(t.raw_only_columns),
                    "seconds": round(t.seconds, 2),
                }
                for t in self.tables.values()
            ],
            columns=columns,
        )

    def __str__(self) -> str:
        curated = ", ".join(f"{k} {v:,} rows" for k, v in self.curated.items()) or "none"
        return (
            f"{len(self.tables)} tables, {self.rows_in:,} raw rows: {self.rows_staged:,} staged, "
            f"{self.rows_quarantined:,} quarantined; curated: {curated} ({self.seconds:.1f} s)"
        )


# --------------------------------------------------------------------------- the salt


def demo_salt_allowed(store: DataStore) -> bool:
    """Tell whether the public demo salt may pseudonymise ``store``.

    Only a store the Galaxy simulator built alone: it holds ``world.json`` (the
    simulator writes it last) and its raw zone holds no file the simulator did not
    write (:func:`galaxy_lib.pipeline.ingest.holds_user_data`: no ingested part,
    no file copied in, no simulated table that grew).
    """
    return (store.root / WORLD_MARKER).is_file() and not holds_user_data(store.root)


def _demo_refusal(store: DataStore) -> SaltError:
    if not (store.root / WORLD_MARKER).is_file():
        why = f"has no {WORLD_MARKER}: the Galaxy simulator did not build it"
    else:
        user = user_raw_files(store.root)
        shown = ", ".join(_rel(store, p) for p in user[:3]) + (", ..." if len(user) > 3 else "")
        why = f"holds {len(user)} raw file(s) the simulator did not write ({shown})"
    return SaltError(
        f"{store.root} {why}, so its data may be real and the public demo salt must not pseudonymise it "
        f"(anyone can recompute demo keys). Set a secret salt in {SALT_ENV} and stage again, e.g.\n"
        f"    export {SALT_ENV}=$(python -c 'import secrets;print(secrets.token_hex(32))')\n"
        "Keep it secret and keep it: the same salt gives the same keys on every run."
    )


def _check_salt(store: DataStore, salt: str) -> None:
    """Refuse the public demo salt for a store the simulator did not build alone."""
    if salt == DEMO_SALT and not demo_salt_allowed(store):
        raise _demo_refusal(store)


def salt_for_store(store: DataStore, demo: bool = True) -> str:
    """Return the salt to stage ``store`` with.

    ``GALAXY_PII_SALT`` when it is set; otherwise the public demo salt (with a
    warning) when the simulator built the store alone (:func:`demo_salt_allowed`)
    and demo mode is on (``demo`` or ``GALAXY_DEMO=1``); otherwise a :class:`SaltError`.

    Parameters
    ----------
    store
        The store to stage.
    demo
        Allow the demo salt for a simulator-built store (``False`` for a bench world,
        which must not be staged without a secret).

    Raises
    ------
    SaltError
        ``GALAXY_PII_SALT`` is unset and the demo salt is not allowed here, or it is
        set but too short. The message names the variable and how to set it.
    """
    salt = configured_salt()
    if salt is not None:
        return salt
    if not demo_salt_allowed(store):
        raise _demo_refusal(store)
    return get_salt(demo=demo)  # the demo salt in demo mode, else a SaltError saying how to set a secret


# --------------------------------------------------------------------------- raw -> staged


def _pseudonymise(df: pd.DataFrame, contract: TableContract, salt: str) -> pd.DataFrame:
    """Keep the contract's columns; ``customer_id`` becomes ``customer_key`` (same place); no e-mail, phone."""
    keep = [c for c in contract.required_columns if c not in DROPPED_AT_STAGING]
    out = df[keep]
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


def _raw_only_columns(contract: TableContract, parts: list[Path]) -> tuple[str, ...]:
    """Columns of the raw parts outside the contract, in order of appearance, personal data masked."""
    seen: dict[str, None] = {}
    for part in parts:
        for name in pq.read_schema(part).names:
            if name not in contract.required_columns and not name.startswith("__index_level_"):
                seen[redact_pii(name)] = None
    return tuple(seen)


def _rel(store: DataStore, path: str | Path) -> str:
    p = Path(path)
    try:
        return p.relative_to(store.root).as_posix()
    except ValueError:
        return p.as_posix()


def stage_table(
    store: DataStore, table: str, salt: str, batch_rows: int = BATCH_ROWS, progress: bool = True
) -> TableStaging:
    """Stage one raw table: row checks with quarantine, pseudonymisation, ``staged/<table>``.

    Raw parts are read batch by batch (``batch_rows`` rows at most, the contract's
    columns only), checked with :func:`galaxy_lib.pipeline.rowchecks.check_rows`,
    pseudonymised and written as one staged part each, so memory stays bounded
    whatever the table size. Other columns of the raw parts stay in raw (listed in
    ``raw_only_columns``), and out of staging's quarantine rows too. Quarantined rows go
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
        Pseudonymisation secret (:func:`salt_for_store`).
    batch_rows
        Largest batch read into pandas at once.
    progress
        Show a tqdm progress bar.

    Raises
    ------
    SaltError
        When ``salt`` is the public demo salt and the store is not one the simulator
        built alone (:func:`demo_salt_allowed`).
    """
    t0 = time.perf_counter()
    contract = contract_for(table)
    parts = store.parts("raw", table)
    if not parts:
        raise FileNotFoundError(f"raw/{table} has no parts under {store.root}.")
    _check_salt(store, salt)
    _check_structure(contract, parts)
    columns = list(contract.required_columns)
    raw_only = _raw_only_columns(contract, parts)
    total = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    counts = {"in": 0, "quarantined": 0, "parts": 0}
    reasons: dict[str, int] = {}

    with store.lock():
        dup_by_part = duplicates_across_parts(contract, parts, store.root)
        store.drop_parts("quarantine", table, _QUARANTINE_PREFIX)
        bar = tqdm(total=total, desc=f"staging {table}", unit="row", unit_scale=True, disable=not progress, leave=False)

        def batches():
            for part in parts:
                dups = dup_by_part.get(part.name)
                offset = 0
                for batch in pq.ParquetFile(part).iter_batches(batch_size=batch_rows, columns=columns):
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
                            reason=redact_many(rej["_reason"], customer_ids(rej)),
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
                        yield to_arrow(_pseudonymise(check.accepted, contract, salt))

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
        raw_only_columns=raw_only,
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


def staging_is_current(store: DataStore, salt: str | None = None) -> bool:
    """Tell whether staging is still valid: same raw zone, and the salt staging used.

    Parameters
    ----------
    store
        The data store.
    salt
        The salt the caller would stage with. ``None``: ``GALAXY_PII_SALT`` when set.
        With neither, the recorded salt cannot be checked against a secret: keys made
        with a secret stay current (re-staging would need it, and must not fall back
        to the demo salt), keys made with the demo salt only on a store the simulator
        built alone (:func:`demo_salt_allowed`).

    Returns
    -------
    bool
        False when staging never finished, the raw zone changed since, the staging
        record has no salt fingerprint (staged before it was recorded) or the salt
        fingerprint differs (e.g. ``GALAXY_PII_SALT`` set after a demo-salt staging):
        each forces a re-stage.
    """
    marker = store.root / STAGING_MARKER
    if not marker.is_file() or not (store.root / "staged").is_dir():
        return False
    try:
        record = json.loads(marker.read_text())
    except (json.JSONDecodeError, OSError):
        return False
    if not isinstance(record, dict) or record.get("raw_fingerprint") != _raw_fingerprint(store):
        return False
    recorded = record.get("salt_fingerprint")
    if not recorded:
        return False
    if salt is None:
        try:
            salt = configured_salt()
        except SaltError:  # a salt too short to use: staging will say so
            return False
    if salt is not None:
        return recorded == salt_fingerprint(salt)
    return recorded != salt_fingerprint(DEMO_SALT) or demo_salt_allowed(store)


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
        Pseudonymisation secret, from :func:`salt_for_store`. The public demo salt is
        refused (:class:`~galaxy_lib.governance.pseudonyms.SaltError`) unless the
        simulator built the store alone.
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
    ``notes``), and so are raw columns outside a contract (named in ``notes``). On
    success ``staging.json`` records a fingerprint of the raw zone and one of the
    salt; ``galaxy_lib.simulate.ensure_world`` re-stages when either has changed
    (:func:`staging_is_current`).
    """
    t0 = time.perf_counter()
    _check_salt(store, salt)
    fingerprint = salt_fingerprint(salt)

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
            if report[table].raw_only_columns:
                notes.append(
                    f"{table}: column(s) {', '.join(report[table].raw_only_columns)} are not in the contract "
                    "and were left in raw (not staged)"
                )

        as_of_ts = pd.Timestamp(as_of) if as_of is not None else _default_as_of(store)
        curated, curated_notes = build_curated_tables(
            store, registered_tables() if curated_tables is None else curated_tables, as_of_ts
        )
        notes.extend(curated_notes)

        result = StagingReport(
            tables=report,
            curated=curated,
            as_of=as_of_ts,
            seconds=time.perf_counter() - t0,
            notes=tuple(notes),
            salt_fingerprint=fingerprint,
        )
        marker = {
            "raw_fingerprint": _raw_fingerprint(store),
            "salt_fingerprint": fingerprint,
            "staged_at": pd.Timestamp.now(tz="UTC").isoformat(),
            "as_of": as_of_ts.isoformat() if as_of_ts is not None else None,
            "seconds": round(result.seconds, 3),
            "tables": {
                t: {
                    "rows_in": s.rows_in,
                    "rows_staged": s.rows_staged,
                    "rows_quarantined": s.rows_quarantined,
                    "reasons": s.reasons,
                    **({"raw_only_columns": list(s.raw_only_columns)} if s.raw_only_columns else {}),
                }
                for t, s in report.items()
            },
            "curated": curated,
            "notes": list(notes),
        }
        (store.root / STAGING_MARKER).write_text(json.dumps(marker, indent=2))
    return result
