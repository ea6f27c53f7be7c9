"""Load a user's CSV or Parquet file into the store, checked against the table's contract.

:func:`ingest_file` does, in order:

1. **Read.** The file is read through :func:`galaxy_lib.core.files.read_table_file`
   (CSV/TSV/Parquet by suffix, every text column as text so nothing is mis-typed
   before the checks).
2. **Structure.** Columns are renamed with the user's ``mapping`` (canonical name ->
   column in the file). A mandatory column that is still missing stops the load with
   a :class:`~galaxy_lib.core.contracts.ContractError` naming the column, listing the
   file's columns and showing the mapping entry that fixes it. A column with a
   documented default (:attr:`~galaxy_lib.core.contracts.TableContract.defaults`) is
   filled in instead: a spend file of only date, channel and cost is national
   (``geo = "national"``) with unknown (null) impressions and clicks.
3. **Rows.** :func:`galaxy_lib.pipeline.rowchecks.check_rows` (shared with staging)
   puts channel names in canonical form (``parameters/channels.yaml``), parses
   dates, quarantines duplicate keys and rows breaking the pandera contract, each
   with its rule and a readable reason. A row with an e-mail or phone number in a
   text column that is not personal data (``channel``, ``campaign_id``) is
   quarantined too (``personal_data_in_column``: a shifted row reaching reports
   unpseudonymised); a header holding one (no header row) stops the load. Every
   reason goes through :func:`galaxy_lib.governance.pii.redact_pii`.
4. **Append.** Accepted rows are appended to ``raw.<table>``; rows whose key is
   already stored are quarantined as duplicates, so loading a file twice never
   doubles data.

**What a user ingested is recognisable.** Every part :func:`ingest_file` writes is
named ``ingest-NNNNN.parquet`` (:data:`INGEST_PREFIX`), in ``raw/<table>/`` and in
``quarantine/<table>/`` alike; the simulator writes ``part-NNNNN.parquet`` and lists
its raw parts in ``world.json`` (``raw_parts``: path -> bytes). :func:`user_raw_files`
lists every raw file the simulator did not write (ingested parts, files copied in by
hand, a simulator world's table that grew) and :func:`holds_user_data` tells whether
there is any: ``galaxy world build`` refuses to rebuild over them, and a store
holding them is not a demo world (no public demo salt). The default store of
``galaxy ingest`` is ``data/user`` (:data:`USER_STORE`), never a demo world.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pydantic import field_validator

from galaxy_lib.core import sql
from galaxy_lib.core.channels import ChannelMap
from galaxy_lib.core.config import GalaxyConfig, resolve_path
from galaxy_lib.core.contracts import (
    CONTRACTS,
    PII_COLUMNS,
    ContractError,
    TableContract,
    contract_for,
)
from galaxy_lib.core.files import read_table_file
from galaxy_lib.core.quarantine import quarantine_rows
from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.pii import redact_many, redact_pii, scan_text
from galaxy_lib.pipeline.rowchecks import RULE_DUPLICATE_KEY, check_rows, customer_ids, format_key, to_arrow

__all__ = [
    "INGEST_PREFIX",
    "RULE_PERSONAL_DATA",
    "USER_STORE",
    "IngestConfig",
    "IngestResult",
    "apply_mapping",
    "fill_defaults",
    "holds_user_data",
    "ingest_file",
    "user_raw_files",
]

#: Part-file prefix of everything :func:`ingest_file` writes (``raw/<table>/ingest-NNNNN.parquet``).
INGEST_PREFIX = "ingest"
#: Rule of a row whose non-personal column holds an e-mail or phone number (a shifted row, a free-text field).
RULE_PERSONAL_DATA = "personal_data_in_column"
#: Longest quarantine reason kept (a reason quoting a 1 MB field is cut, after masking).
MAX_REASON_CHARS = 1000
#: Default store of ``galaxy ingest`` (relative to the project root): a user store, never a demo world.
USER_STORE = "data/user"


# --------------------------------------------------------------------------- configs and results


class IngestConfig(GalaxyConfig):
    """What to ingest, as written in a parameter file.

    Attributes
    ----------
    path
        CSV or Parquet file (relative paths resolve against the project root).
    table
        Target table, one of :data:`galaxy_lib.core.contracts.CONTRACTS`.
    mapping
        Canonical column name -> column name in the file, for columns named differently.
    date_format
        ``strftime`` format of the file's dates (e.g. ``"%d/%m/%Y"``); inferred when empty.
    source
        Label stored with quarantined rows (default: the file path).
    channels
        Channel-name map (YAML of ``canonical: [aliases]``); default
        ``parameters/channels.yaml`` when present.
    """

    path: str
    table: str
    mapping: dict[str, str] = {}
    date_format: str | None = None
    source: str | None = None
    channels: str | None = None

    @field_validator("table")
    @classmethod
    def _known_table(cls, v: str) -> str:
        if v not in CONTRACTS:
            raise ValueError(f"unknown table {v!r}; known tables: {', '.join(CONTRACTS)}")
        return v


@dataclass(frozen=True)
class IngestResult:
    """Outcome of :func:`ingest_file`.

    Attributes
    ----------
    table
        Target table.
    rows_in
        Data rows read from the file.
    rows_accepted
        Rows written to the store.
    rows_quarantined
        Rows written to ``quarantine/<table>/``; ``rows_in == rows_accepted + rows_quarantined``.
    reasons
        Quarantined rows per rule (``{"greater_than_or_equal_to(0)": 1, "duplicate_key": 2}``).
    path
        The file that was ingested.
    zone
        Zone the accepted rows were appended to.
    examples
        One example reason per rule.
    filled
        Columns the file did not have, with the default every row got
        (``{"geo": "national", "impressions": None}``; ``None`` = unknown, stored as null).
    unknown_channels
        Channel names of the file the channel map does not know (kept as they are, trimmed).
    channels_source
        The channel map used (its file), empty when none was.
    """

    table: str
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    reasons: dict[str, int]
    path: Path
    zone: str = "raw"
    examples: dict[str, str] = field(default_factory=dict)
    filled: dict[str, Any] = field(default_factory=dict)
    unknown_channels: tuple[str, ...] = ()
    channels_source: str = ""

    def __str__(self) -> str:
        head = (
            f"{self.rows_in:,} rows read from {self.path.name}: {self.rows_accepted:,} accepted into "
            f"{self.zone}.{self.table}, {self.rows_quarantined:,} quarantined"
        )
        lines = [head + (":" if self.reasons else ".")]
        lines += [f"  {rule}: {n:,} (e.g. {self.examples.get(rule, '')})" for rule, n in self.reasons.items()]
        if self.filled:
            shown = ", ".join(f"{c} = {'null (unknown)' if v is None else repr(v)}" for c, v in self.filled.items())
            lines.append(f"Not in the file, filled with the contract's defaults: {shown}.")
        if self.unknown_channels:
            where = f" in {self.channels_source}" if self.channels_source else ""
            lines.append(
                f"Channels not in the channel map{where} (kept as they are): "
                f"{', '.join(map(repr, self.unknown_channels))}; add them as aliases of a channel or as "
                "channels of their own."
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------- files and mapping


def apply_mapping(
    df: pd.DataFrame, contract: TableContract, mapping: dict[str, str] | None, source: str = "the file"
) -> pd.DataFrame:
    """Rename the user's columns to canonical names and check every mandatory column is there.

    Parameters
    ----------
    df
        The file as read.
    contract
        Target table's contract.
    mapping
        Canonical name -> column in the file (``{"spend": "Cost", "week": "Week start"}``).
    source
        File name used in error messages.

    Raises
    ------
    ContractError
        When a mapped column is not in the file, a mapping clashes with a column of the
        same canonical name, or a mandatory column (one without a default, see
        :attr:`~galaxy_lib.core.contracts.TableContract.mandatory_columns`) is missing;
        the message lists the file's columns and the mapping entry to add.
    """
    mapping = dict(mapping or {})
    columns = [str(c) for c in df.columns]
    listed = ", ".join(repr(c) for c in columns) or "(none)"
    absent = {k: v for k, v in mapping.items() if v not in columns}
    if absent:
        raise ContractError(
            f"{source}: the mapping refers to column(s) not in the file: "
            + ", ".join(f"{k!r} -> {v!r}" for k, v in absent.items())
            + f". The file's columns are: {listed}."
        )
    clash = [k for k, v in mapping.items() if k != v and k in columns and k not in mapping.values()]
    if clash:
        raise ContractError(
            f"{source}: column(s) {', '.join(map(repr, clash))} exist in the file and are also mapped from "
            f"{', '.join(repr(mapping[k]) for k in clash)}; keep one: drop the mapping entry or rename the column."
        )
    out = df.copy()
    out.columns = columns
    sources_used = set(mapping.values())
    renamed = {k: out[v] for k, v in mapping.items()}
    keep = [c for c in columns if c not in sources_used or c in mapping]
    out = out[keep].copy()
    for k, series in renamed.items():
        out[k] = series
    missing = [c for c in contract.mandatory_columns if c not in out.columns]
    if missing:
        fix = "{" + ", ".join(f"{c!r}: '<your column>'" for c in missing) + "}"
        hints = []
        lower = {c.lower(): c for c in columns}
        for c in missing:
            close = difflib.get_close_matches(c.lower(), list(lower), n=1, cutoff=0.6)
            if close:
                hints.append(f"{c!r} might be {lower[close[0]]!r}")
        plural = "s" if len(missing) > 1 else ""
        raise ContractError(
            f"{source}: required column{plural} {', '.join(map(repr, missing))} missing for table "
            f"{contract.name!r}. The file's columns are: {listed}. "
            f"To fix it, add mapping: {fix} (canonical name -> the column of your file that holds it)"
            + (f"; {'; '.join(hints)}." if hints else ".")
        )
    return out


def fill_defaults(df: pd.DataFrame, contract: TableContract) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add the contract's defaulted columns the file does not have.

    A spend export with only ``week``, ``channel`` and ``spend`` gets ``geo =
    "national"`` and unknown (null) ``impressions`` and ``clicks``; a KPI file
    without ``geo`` is national too (see :attr:`TableContract.defaults`). Columns
    the file has are left alone, blanks included (a blank geo is still quarantined).

    Returns
    -------
    tuple[pd.DataFrame, dict[str, Any]]
        The frame with every defaulted column, and the columns that were filled with their value.
    """
    filled = {c: v for c, v in contract.defaults.items() if c not in df.columns}
    if not filled:
        return df, {}
    out = df.copy(deep=False)
    for col, value in filled.items():
        out[col] = pd.Series(value, index=out.index, dtype=object)
    return out, filled


def _check_header(df: pd.DataFrame, source: str) -> None:
    """Refuse column names holding an e-mail or phone number: the file has no header row (or it shifted)."""
    bad = [str(c) for c in df.columns if any(f.kind in ("email", "phone") for f in scan_text(str(c)))]
    if bad:
        raise ContractError(
            f"{source}: column name(s) {', '.join(repr(redact_pii(c)) for c in bad)} look like personal data (an "
            "e-mail address or phone number): the file seems to have no header row. Add a first line with the "
            "column names (e.g. customer_id,email,phone,...) and load it again."
        )


def _channel_map(channels: ChannelMap | str | Path | None) -> ChannelMap:
    if isinstance(channels, ChannelMap):
        return channels
    if channels is None:
        return ChannelMap.default()
    return ChannelMap.load(resolve_path(channels))


def _bounded(reason: str, limit: int = MAX_REASON_CHARS) -> str:
    """Cut a (masked) reason quoting a huge field to ``limit`` characters, saying how long it was."""
    return reason if len(reason) <= limit else f"{reason[:limit]}... ({len(reason):,} characters in all)"


def _personal_data(accepted: pd.DataFrame, contract: TableContract) -> dict[int, str]:
    """Position in ``accepted`` -> ``"column 'channel' holds an e-mail address"`` (never the value itself).

    For rows with an e-mail or phone number in a contract text column that is not personal data.
    """
    found: dict[int, str] = {}
    kinds = {"email": "an e-mail address", "phone": "a phone number"}
    for col in contract.required_columns:
        if col in PII_COLUMNS or col not in accepted.columns:
            continue
        values = accepted[col]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        text = values.astype("string")
        # a cheap filter first (an '@' or a run of 8+ digits); the scanner's patterns on those cells only
        maybe = text.str.contains(r"@|\d[\d ().\-]{6,}\d", regex=True, na=False).to_numpy()
        for pos in np.flatnonzero(maybe):
            if int(pos) in found:
                continue
            hits = [f.kind for f in scan_text(str(text.iloc[pos])) if f.kind in kinds]
            if hits:
                found[int(pos)] = f"column {col!r} holds {kinds[hits[0]]}"
    return found


def _already_stored(store: DataStore, zone: str, contract: TableContract, accepted: pd.DataFrame) -> np.ndarray:
    """Boolean mask of ``accepted`` rows whose key is already in ``zone.table``."""
    key = list(contract.key)
    if not key or accepted.empty or not store.exists(zone, contract.name):
        return np.zeros(len(accepted), dtype=bool)
    keys = accepted[key].copy()
    keys["__i"] = np.arange(len(keys))
    # a nullable key column (consent's withdrawn_at) matches null to null: a re-ingested open grant is a duplicate
    on = " AND ".join(f"k.{sql.identifier(c)} IS NOT DISTINCT FROM t.{sql.identifier(c)}" for c in key)
    cols = sql.identifiers(key)
    with duckdb.connect() as con:
        con.register("k", keys)
        hit = con.execute(
            f"SELECT k.__i FROM k WHERE EXISTS (SELECT 1 FROM (SELECT {cols} FROM "
            f"{sql.read_parquet(store.glob(zone, contract.name), union_by_name=True)}) t WHERE {on})"
        ).fetchnumpy()["__i"]
    mask = np.zeros(len(accepted), dtype=bool)
    mask[np.asarray(hit, dtype=np.int64)] = True
    return mask


# --------------------------------------------------------------------------- whose data is it


def _parquet_rows(paths: list[Path]) -> int | None:
    try:
        return sum(pq.ParquetFile(p).metadata.num_rows for p in paths)
    except Exception:  # an unreadable file cannot be the simulator's whole table
        return None


def user_raw_files(store_root: str | Path) -> list[Path]:
    """Files in the store's raw zone that the Galaxy simulator did not write, in name order.

    A file is the simulator's only when the store's ``world.json`` vouches for it:

    * ``world.json`` lists ``raw_parts`` (path under the root -> bytes): a file
      listed there with the same size;
    * an older ``world.json`` without that list: a ``part-*`` file of a table whose
      ``part-*`` files together hold exactly the rows ``world.json`` records (rows
      a user appended make the count differ);
    * no ``world.json`` but a ``truth/`` folder (a simulator build that was
      interrupted; ``ensure_world`` rebuilds it): any ``part-*`` Parquet file.

    Parts written by :func:`ingest_file` (``ingest-*``) are always the user's.
    Hidden files and folders (``.ipynb_checkpoints``, temporary ``.*.tmp`` parts) are
    skipped. Empty when the store has no raw zone or only simulator files.
    """
    root = Path(store_root)
    raw = root / "raw"
    if not raw.is_dir():
        return []
    # hidden files and folders (.ipynb_checkpoints, temporary parts) are not data
    files = sorted(p for p in raw.rglob("*") if p.is_file() and not any(x[0] == "." for x in p.relative_to(raw).parts))
    world: dict | None = None
    if (root / "world.json").is_file():
        try:
            world = json.loads((root / "world.json").read_text())
        except (json.JSONDecodeError, OSError):
            world = {}
        world = world if isinstance(world, dict) else {}

    def simulated_name(p: Path) -> bool:
        return p.suffix == ".parquet" and p.name.startswith("part-") and p.parent.parent == raw

    if world is None:
        interrupted = (root / "truth").is_dir()
        return [p for p in files if not (interrupted and simulated_name(p))]
    listed = world.get("raw_parts")
    if isinstance(listed, dict):
        return [p for p in files if listed.get(p.relative_to(root).as_posix()) != p.stat().st_size]
    # world.json of an older build: vouch for a table by its row count
    rows = world.get("rows") if isinstance(world.get("rows"), dict) else {}
    foreign = [p for p in files if not simulated_name(p)]
    by_table: dict[str, list[Path]] = {}
    for p in files:
        if simulated_name(p):
            by_table.setdefault(p.parent.name, []).append(p)
    for table, parts in by_table.items():
        if _parquet_rows(parts) != rows.get(table):
            foreign += parts
    return sorted(foreign)


def holds_user_data(store_root: str | Path) -> bool:
    """Tell whether the store's raw zone holds data the Galaxy simulator did not write.

    True for a store a user ingested into (``galaxy ingest``, :func:`ingest_file`),
    a simulator world with an ingested table added, or raw files copied in by hand;
    False for an empty store or one the simulator built alone. See
    :func:`user_raw_files` for the rule and the files.

    Examples
    --------
    >>> holds_user_data("data/ci")  # doctest: +SKIP
    False
    """
    return bool(user_raw_files(store_root))


# --------------------------------------------------------------------------- the entry point


def ingest_file(
    path: str | Path | IngestConfig,
    table: str | None = None,
    store: DataStore | None = None,
    mapping: dict[str, str] | None = None,
    source: str | None = None,
    zone: str = "raw",
    date_format: str | None = None,
    channels: ChannelMap | str | Path | None = None,
) -> IngestResult:
    """Load a user's CSV or Parquet file into ``zone.table``; bad rows go to quarantine with reasons.

    Parameters
    ----------
    path
        The file (``.csv``, ``.tsv``, ``.parquet``; ``.csv.gz`` works too), or an
        :class:`IngestConfig` from a parameter file (its ``table``, ``mapping``,
        ``date_format`` and ``source`` are used unless given here).
    table
        Target table (``spend``, ``kpi``, ``touchpoints``, ...; see ``core.contracts``).
    store
        The data store to load into.
    mapping
        Canonical column name -> column in the file, e.g. ``{"spend": "Cost"}``.
    source
        Label stored in quarantine's ``_source`` (default: the file path).
    zone
        ``"raw"`` (default; staging takes it from there) or ``"staged"`` for tables
        without personal data. Tables with customer identifiers must go through raw so
        staging pseudonymises them.
    date_format
        ``strftime`` format of the file's dates; inferred when ``None``.
    channels
        Channel-name map applied to the file's ``channel`` column (a
        :class:`~galaxy_lib.core.channels.ChannelMap` or its YAML file); default
        ``parameters/channels.yaml`` when present, else names are only trimmed.
        Names the map does not know are kept and listed in the result.

    Returns
    -------
    IngestResult
        Counts and quarantine reasons; ``rows_in == rows_accepted + rows_quarantined``.

    Raises
    ------
    ContractError
        Unknown table, missing or unreadable file, unsupported file type, or a
        mandatory column missing (the message names the column, lists the file's
        columns and shows the mapping entry to add, e.g. ``add mapping: {'spend':
        '<your column>'}``).
    ConfigError
        When the channel map cannot be read or an alias in it names two channels.

    Notes
    -----
    Columns with a documented default may be absent (:func:`fill_defaults`): a file
    of only date, channel and cost loads as national spend with unknown impressions
    and clicks; ``IngestResult.filled`` says what was filled.

    Row numbers in quarantine reasons are 1-based data rows of the file: the header
    is not counted, so ``row 1`` is the first record under the header.

    Ingesting into a table that already holds rows **appends**: a second file of
    new weeks extends the table. Rows whose key is already stored (the same file
    loaded twice, or an overlapping export) are quarantined as ``duplicate_key``
    ("already stored in raw.spend"), so re-running an ingestion never doubles data.
    Replace a table by dropping it first (``store.drop("raw", "spend")``).
    """
    if isinstance(path, IngestConfig):
        cfg = path
        path = resolve_path(cfg.path)
        table = table or cfg.table
        mapping = mapping if mapping is not None else dict(cfg.mapping)
        date_format = date_format or cfg.date_format
        source = source or cfg.source
        channels = channels if channels is not None else cfg.channels
    if table is None:
        raise ContractError("ingest_file needs a table name (spend, kpi, touchpoints, ...).")
    if store is None:
        raise ValueError("ingest_file needs a DataStore to write to, e.g. DataStore('data/user').")
    contract = contract_for(table)
    if zone not in ("raw", "staged"):
        raise ContractError(f"ingest_file writes to zone 'raw' (default) or 'staged', not {zone!r}.")
    if zone != "raw" and any(c in contract.required_columns for c in PII_COLUMNS):
        raise ContractError(
            f"Table {table!r} holds customer identifiers: ingest it into 'raw' and run staging, "
            "which pseudonymises them (stage_world)."
        )
    path = Path(path).expanduser()
    if not path.is_absolute() and not path.exists():
        path = resolve_path(path)
    source = source or str(path)
    channel_map = _channel_map(channels)
    df = read_table_file(path, f"{table} file to ingest", as_text=True, error=ContractError)
    _check_header(df, path.name)
    df = apply_mapping(df, contract, mapping, source=path.name)
    df, filled = fill_defaults(df, contract)
    rows_in = len(df)
    unknown = tuple(channel_map.unknown(df["channel"].unique())) if "channel" in df.columns else ()

    with store.lock():
        check = check_rows(df, contract, date_format=date_format, channels=channel_map)
        accepted, rejected = check.accepted, check.rejected
        stored = _already_stored(store, zone, contract, accepted)
        if stored.any():
            again = df.iloc[check.accepted_rows[stored] - 1].copy()
            again["_row"] = check.accepted_rows[stored]
            again["_rule"] = RULE_DUPLICATE_KEY
            keys = accepted[list(contract.key)].iloc[np.flatnonzero(stored)].itertuples(index=False, name=None)
            again["_reason"] = [
                f"row {r}: duplicate key {format_key(contract, k)}; already stored in {zone}.{table} "
                "(the stored row is kept)"
                for r, k in zip(check.accepted_rows[stored], keys, strict=True)
            ]
            rejected = pd.concat([rejected, again], ignore_index=True).sort_values("_row", kind="stable")
            accepted = accepted[~stored].reset_index(drop=True)
        personal = _personal_data(accepted, contract)
        if personal:
            pos = np.array(sorted(personal))
            rows = check.accepted_rows[~stored][pos] if stored.any() else check.accepted_rows[pos]
            bad = df.iloc[rows - 1].copy()
            bad["_row"] = rows
            bad["_rule"] = RULE_PERSONAL_DATA
            where = ", ".join(c for c in contract.required_columns if c in PII_COLUMNS)
            fix = (
                f"personal data belongs only in {where}; is the row shifted?"
                if where
                else f"table {table!r} holds no personal data; is the row shifted, or the column free text?"
            )
            bad["_reason"] = [f"row {r}: {personal[p]}; {fix}" for r, p in zip(rows, pos, strict=True)]
            rejected = pd.concat([rejected, bad], ignore_index=True).sort_values("_row", kind="stable")
            keep = np.ones(len(accepted), dtype=bool)
            keep[pos] = False
            accepted = accepted[keep].reset_index(drop=True)
        # reasons name values, and a shifted row puts an e-mail or phone number in any column:
        # every reason (and so every example shown) is masked whatever its column, the file's ids too
        rejected["_reason"] = [_bounded(r) for r in redact_many(rejected["_reason"], customer_ids(rejected))]
        if len(accepted):
            store.append_part(zone, table, to_arrow(accepted), prefix=INGEST_PREFIX)
        n_q = quarantine_rows(
            store,
            table,
            rejected.drop(columns=["_row", "_rule", "_reason"]),
            rule=rejected["_rule"],
            reason=rejected["_reason"],
            source=source,
            row_numbers=rejected["_row"],
            prefix=INGEST_PREFIX,
        )
    if rows_in != len(accepted) + n_q:
        raise AssertionError(f"ingest lost rows: {rows_in} in, {len(accepted)} accepted, {n_q} quarantined")
    reasons = {str(k): int(v) for k, v in rejected["_rule"].value_counts().items()} if n_q else {}
    examples = (
        {str(k): str(v) for k, v in rejected.groupby("_rule", sort=False)["_reason"].first().items()} if n_q else {}
    )
    return IngestResult(
        table=table,
        rows_in=rows_in,
        rows_accepted=len(accepted),
        rows_quarantined=n_q,
        reasons=reasons,
        path=path,
        zone=zone,
        examples=examples,
        filled=filled,
        unknown_channels=tuple(redact_pii(c) for c in unknown),
        channels_source=channel_map.source,
    )
