"""The embedded data store: DuckDB over Parquet, organised in zones.

Layout under the store root (``data/<world>/`` by default)::

    raw/<table>/part-00000.parquet       as simulated (may contain PII); ``ingest-*`` parts: a user's files
    staged/<table>/part-*.parquet        validated, pseudonymised, consent attached
    curated/<table>/part-*.parquet       model-ready tables
    quarantine/<table>/part-*.parquet    rejected rows with ``_rule`` and ``_reason``
    ground_truth.json                    what the simulator used (Galaxy world only)
    world.json                           how and when the world was built, and its raw parts

Every table is a folder of Parquet parts so that large tables can be streamed in
bounded memory and read back with one DuckDB glob. Only folders named like a table
(letters, digits, underscores) are tables: a stray ``raw/.ipynb_checkpoints/``,
``raw/notes-2024/`` or a temporary ``<table>.tmp`` folder is ignored, never a query error.
Writes take a file lock on the store so two processes (for instance two schedulers)
never interleave a write.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from filelock import FileLock

from galaxy_lib.core import sql
from galaxy_lib.core.paths import ZONES

__all__ = ["DataStore", "TableInfo"]

# One FileLock object per store root and process. ``filelock`` counts re-entries per
# lock *object*, so sharing the object is what makes ``DataStore.lock`` re-entrant
# across DataStore instances of the same root (e.g. ``ensure_world`` holds the lock
# while ``build_world`` writes through its own DataStore).
_LOCKS: dict[str, FileLock] = {}
_LOCKS_GUARD = threading.Lock()
_PART_RE = re.compile(r"^(?P<prefix>[a-z]+)-(?P<n>\d{5})\.parquet$")


def _is_table_name(name: str) -> bool:
    """Tell whether a zone's folder is a table: letters, digits and underscores (no dot, dash or space)."""
    return name.replace("_", "").isalnum()


def _lock_for(path: Path) -> FileLock:
    key = str(path.resolve())
    with _LOCKS_GUARD:
        lock = _LOCKS.get(key)
        if lock is None:
            lock = _LOCKS[key] = FileLock(key)
        return lock


@dataclass(frozen=True)
class TableInfo:
    """A stored table: where it is and how big it is."""

    zone: str
    name: str
    path: Path
    rows: int
    columns: tuple[str, ...]
    bytes: int
    modified: float


class DataStore:
    """DuckDB over Parquet with ``raw``, ``staged``, ``curated`` and ``quarantine`` zones.

    Parameters
    ----------
    root
        Store root folder; created on first write.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._con_tables: frozenset[tuple[str, str]] = frozenset()

    # -- locations ---------------------------------------------------------------
    def table_dir(self, zone: str, table: str) -> Path:
        """Folder holding the Parquet parts of ``zone.table``."""
        if zone not in ZONES:
            raise ValueError(f"Unknown zone {zone!r}; expected one of {ZONES}.")
        if not _is_table_name(table):
            raise ValueError(f"Table name {table!r} must be letters, digits and underscores only.")
        return self.root / zone / table

    def glob(self, zone: str, table: str) -> str:
        """DuckDB/pyarrow glob of the table's parts."""
        return str(self.table_dir(zone, table) / "*.parquet")

    def exists(self, zone: str, table: str) -> bool:
        """Tell whether ``zone.table`` has at least one Parquet part."""
        d = self.table_dir(zone, table)
        return d.is_dir() and any(d.glob("*.parquet"))

    @contextmanager
    def lock(self, timeout: float = 600) -> Iterator[None]:
        """Exclusive lock over the whole store (re-entrant within one process and thread).

        Other processes (and other threads) wait up to ``timeout`` seconds, then
        ``filelock.Timeout`` is raised.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        lock = _lock_for(self.root / ".store.lock")
        lock.acquire(timeout=timeout)
        try:
            if lock.lock_counter == 1:  # the outermost holder finishes what a crashed writer left
                self._finish_swaps()
            yield
        finally:
            lock.release()

    # -- writing -----------------------------------------------------------------
    def write(self, zone: str, table: str, df: pd.DataFrame | pa.Table) -> Path:
        """Replace ``zone.table`` with ``df`` (one part). Returns the table folder."""
        with self.lock():
            d = self.table_dir(zone, table)
            tmp = d.with_name(d.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            self._write_part(tmp / "part-00000.parquet", df)
            self._swap_in(tmp, d)
            return d

    def append_part(self, zone: str, table: str, df: pd.DataFrame | pa.Table, prefix: str = "part") -> Path:
        """Add one part to ``zone.table`` (used to stream large tables in bounded memory).

        ``prefix`` names the part file (``<prefix>-NNNNN.parquet``, lower-case letters);
        writers that must later replace only their own parts (staging's quarantine
        rows) use their own prefix and :meth:`drop_parts`.
        """
        if not prefix.isalpha() or not prefix.islower():
            raise ValueError(f"Part prefix {prefix!r} must be lower-case letters only.")
        with self.lock():
            d = self.table_dir(zone, table)
            d.mkdir(parents=True, exist_ok=True)
            taken = [
                int(m["n"])
                for p in d.glob(f"{prefix}-*.parquet")
                if (m := _PART_RE.match(p.name)) and m["prefix"] == prefix
            ]
            path = d / f"{prefix}-{max(taken, default=-1) + 1:05d}.parquet"
            self._write_part(path, df)
            return path

    def write_parts(self, zone: str, table: str, parts: Iterable[pd.DataFrame | pa.Table]) -> int:
        """Replace ``zone.table`` with one part per item of ``parts``, streamed in bounded memory.

        The parts go to a temporary folder that replaces the table only when the
        iterator is exhausted, so readers never see a half-written table and an
        interrupted write leaves the previous version in place. Empty items are
        skipped. Returns the number of rows written.
        """
        with self.lock():
            d = self.table_dir(zone, table)
            tmp = d.with_name(d.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            n = rows = 0
            try:
                for df in parts:
                    if len(df) == 0:
                        continue
                    self._write_part(tmp / f"part-{n:05d}.parquet", df)
                    n += 1
                    rows += len(df)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            if n:
                self._swap_in(tmp, d)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.rmtree(d, ignore_errors=True)
            return rows

    def drop(self, zone: str, table: str) -> None:
        """Remove ``zone.table`` and all its parts (no error when it is missing)."""
        with self.lock():
            shutil.rmtree(self.table_dir(zone, table), ignore_errors=True)

    def drop_parts(self, zone: str, table: str, prefix: str) -> int:
        """Delete the parts of ``zone.table`` named ``<prefix>-NNNNN.parquet``; returns how many."""
        with self.lock():
            d = self.table_dir(zone, table)
            victims = (
                [p for p in d.glob(f"{prefix}-*.parquet") if (m := _PART_RE.match(p.name)) and m["prefix"] == prefix]
                if d.is_dir()
                else []
            )
            for p in victims:
                p.unlink()
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
            return len(victims)

    def _finish_swaps(self) -> None:
        """Finish the folder swaps a crash interrupted (:meth:`_swap_in`), under the lock.

        ``<t>.old.tmp`` without ``<t>``: the writer died between its two renames, when
        ``<t>.tmp`` was already complete; it moves in (or, when it is gone, the old
        version moves back). ``<t>.old.tmp`` beside ``<t>``: only the clean-up was missed.
        """
        for zdir in (self.root / zone for zone in ZONES):
            for old in sorted(zdir.glob("*.old.tmp")) if zdir.is_dir() else []:
                target = old.with_name(old.name.removesuffix(".old.tmp"))
                new = target.with_name(target.name + ".tmp")
                if not target.exists():
                    (new if new.is_dir() else old).rename(target)
                shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def _swap_in(new: Path, target: Path) -> None:
        """Replace folder ``target`` by ``new`` so that a crash leaves one whole version.

        The old folder is renamed aside first (``<name>.old.tmp``, which readers skip)
        and deleted only after the new one is in place; a crash between the two
        renames leaves the old version aside and the new one complete under ``.tmp``,
        never a half-deleted table.
        """
        old = target.with_name(target.name + ".old.tmp")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        new.rename(target)
        shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def _write_part(path: Path, df: pd.DataFrame | pa.Table) -> None:
        table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
        # pandas' Arrow-backed strings become large_string; store plain string so every
        # part of a table has one schema whoever wrote it.
        if any(pa.types.is_large_string(f.type) for f in table.schema):
            table = table.cast(
                pa.schema(
                    [f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f for f in table.schema],
                    metadata=table.schema.metadata,
                )
            )
        # written under a hidden temporary name and renamed: a crash mid-write leaves no
        # truncated ``*.parquet`` that would break every query over the table
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def parts(self, zone: str, table: str) -> list[Path]:
        """List the Parquet part files of ``zone.table`` in name order (empty if the table is missing)."""
        d = self.table_dir(zone, table)
        return sorted(d.glob("*.parquet")) if d.is_dir() else []

    # -- reading -----------------------------------------------------------------
    def read(self, zone: str, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Read a whole table into pandas (use :meth:`query` for large tables)."""
        if not self.exists(zone, table):
            raise FileNotFoundError(
                f"Table {zone}.{table} does not exist under {self.root}. "
                f"Build the world (`galaxy world build`) or ingest the file first. "
                f"Available: {', '.join(f'{t.zone}.{t.name}' for t in self.tables()) or 'none'}."
            )
        parts = self.parts(zone, table)
        # Parts may differ in columns (e.g. user files with extra columns appended by
        # ingestion): read them under the union of their schemas, missing values as null.
        schema = pa.unify_schemas([pq.read_schema(p) for p in parts], promote_options="permissive")
        return pads.dataset(parts, schema=schema, format="parquet").to_table(columns=columns).to_pandas()

    def connect(self) -> duckdb.DuckDBPyConnection:
        """In-memory DuckDB connection with one view per stored table, named ``<zone>.<table>``."""
        con = duckdb.connect()
        # DuckDB draws a text progress bar on stderr for queries over ~2 s: noise in logs and notebooks
        con.execute("SET enable_progress_bar = false")
        for zone in ZONES:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {sql.identifier(zone)}")
        for info in self.tables(count_rows=False):
            con.execute(
                f"CREATE VIEW {sql.qualified(info.zone, info.name)} AS SELECT * FROM "
                f"{sql.read_parquet(self.glob(info.zone, info.name), union_by_name=True)}"
            )
        return con

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run SQL over the store's views (``SELECT * FROM staged.touchpoints``) and return pandas.

        The connection and its views are kept between calls and rebuilt only when a
        table appears or disappears (views read their Parquet glob at query time, so
        new parts of an existing table are seen without a rebuild).
        """
        current = frozenset((t.zone, t.name) for t in self._table_dirs())
        if "\\" in str(self.root):  # views list their files there (core.sql.read_parquet): rebuild on a new part
            current |= frozenset(("part", str(p)) for t in self._table_dirs() for p in t.path.glob("*.parquet"))
        if self._con is None or current != self._con_tables:
            if self._con is not None:
                self._con.close()
            self._con, self._con_tables = self.connect(), current
        cursor = self._con.cursor()
        try:
            return cursor.execute(sql, params or []).df()
        finally:
            cursor.close()

    def _table_dirs(self) -> list[TableInfo]:
        out = []
        for zone in ZONES:
            zdir = self.root / zone
            if zdir.is_dir():
                out += [
                    TableInfo(zone, d.name, d, -1, (), 0, 0.0)
                    for d in zdir.iterdir()
                    if d.is_dir() and _is_table_name(d.name) and any(d.glob("*.parquet"))
                ]
        return out

    def tables(self, count_rows: bool = True) -> list[TableInfo]:
        """Every stored table with its size and schema (row counts read from Parquet metadata)."""
        out: list[TableInfo] = []
        for zone in ZONES:
            zdir = self.root / zone
            if not zdir.is_dir():
                continue
            for d in sorted(p for p in zdir.iterdir() if p.is_dir() and _is_table_name(p.name)):
                parts = sorted(d.glob("*.parquet"))
                if not parts:
                    continue
                meta = [pq.ParquetFile(p).metadata for p in parts] if count_rows else []
                schema = pq.read_schema(parts[0])
                out.append(
                    TableInfo(
                        zone=zone,
                        name=d.name,
                        path=d,
                        rows=sum(m.num_rows for m in meta) if count_rows else -1,
                        columns=tuple(schema.names),
                        bytes=sum(p.stat().st_size for p in parts),
                        modified=max(p.stat().st_mtime for p in parts),
                    )
                )
        return out
