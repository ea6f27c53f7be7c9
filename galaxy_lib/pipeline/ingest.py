"""Load a user's CSV or Parquet file into the store, checked against the table's contract.

The row checks here (:func:`check_rows`) are the single implementation used both
by :func:`ingest_file` and by staging (:mod:`galaxy_lib.pipeline.staging`). In order:

1. **Structure.** Columns are renamed with the user's ``mapping`` (canonical name ->
   column in the file). A required column that is still missing stops the load with
   a :class:`~galaxy_lib.core.contracts.ContractError` naming the column, listing the
   file's columns and showing the mapping entry that fixes it.
2. **Dates.** Date columns are parsed with pandas (``date_format`` optional); a value
   that cannot be parsed goes to quarantine (rule ``unparseable_date``).
3. **Duplicate keys.** Rows repeating the contract's key (``week, geo, channel`` for
   spend, ``event_id`` for touchpoints, ...) go to quarantine (rule
   ``duplicate_key``), all but the first; the reason names the key and the first row.
4. **Contract.** The rest is validated with the table's pandera schema
   (``schema.validate(df, lazy=True)``); each failing row goes to quarantine with
   the failed check as rule (``greater_than_or_equal_to(0)``) and a readable reason.

Row numbers in reasons are 1-based *data* rows of the source: the header line is
not counted, so "row 3" is the third record under the header (for a CSV without
multi-line quoted fields, that is line 4 of the file).
"""

from __future__ import annotations

import difflib
import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from pandera.errors import SchemaErrors
from pydantic import field_validator

from galaxy_lib.core.config import GalaxyConfig, resolve_path
from galaxy_lib.core.contracts import (
    CONTRACTS,
    PII_COLUMNS,
    ContractError,
    TableContract,
    contract_for,
)
from galaxy_lib.core.quarantine import quarantine_rows
from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.pii import mask_value

__all__ = [
    "IngestConfig",
    "IngestResult",
    "RowCheck",
    "check_rows",
    "apply_mapping",
    "read_user_file",
    "ingest_file",
    "describe_failure",
    "format_key",
    "to_arrow",
    "RULE_UNPARSEABLE_DATE",
    "RULE_DUPLICATE_KEY",
]

RULE_UNPARSEABLE_DATE = "unparseable_date"
RULE_DUPLICATE_KEY = "duplicate_key"
_RULE_BOOL = "coerce_dtype('bool')"
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
_MAX_PASSES = 6
_CHECK_RE = re.compile(r"^(?P<name>\w+)(?:\((?P<args>.*)\))?$", re.S)
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}


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
    """

    path: str
    table: str
    mapping: dict[str, str] = {}
    date_format: str | None = None
    source: str | None = None

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
    """

    table: str
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    reasons: dict[str, int]
    path: Path
    zone: str = "raw"
    examples: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        head = (f"{self.rows_in:,} rows read from {self.path.name}: {self.rows_accepted:,} accepted into "
                f"{self.zone}.{self.table}, {self.rows_quarantined:,} quarantined")
        if not self.reasons:
            return head + "."
        lines = [head + ":"] + [f"  {rule}: {n:,} (e.g. {self.examples.get(rule, '')})"
                                for rule, n in self.reasons.items()]
        return "\n".join(lines)


@dataclass(frozen=True)
class RowCheck:
    """Rows of one frame after :func:`check_rows`.

    Attributes
    ----------
    accepted
        Rows that pass, coerced to the contract's types (fresh ``RangeIndex``).
    accepted_rows
        Source row number of each accepted row.
    rejected
        Rejected rows with their values as they arrived, plus ``_row``, ``_rule``, ``_reason``.
    """

    accepted: pd.DataFrame
    accepted_rows: np.ndarray
    rejected: pd.DataFrame

    @property
    def reasons(self) -> dict[str, int]:
        """Rejected rows per rule, most frequent first."""
        if self.rejected.empty:
            return {}
        return {str(k): int(v) for k, v in self.rejected["_rule"].value_counts().items()}

    @property
    def examples(self) -> dict[str, str]:
        """The first reason of every rule."""
        if self.rejected.empty:
            return {}
        return {str(k): str(v) for k, v in self.rejected.groupby("_rule", sort=False)["_reason"].first().items()}


# --------------------------------------------------------------------------- formatting

def _fmt_value(column: str, value: Any) -> str:
    """Show a value in a reason; personal data is masked (reasons end up in reports)."""
    if value is None or (not isinstance(value, (list, tuple, np.ndarray)) and pd.isna(value)):
        return "null"
    if isinstance(value, pd.Timestamp):
        return repr(value.strftime("%Y-%m-%d") if value == value.normalize() else value.isoformat())
    if column in PII_COLUMNS:
        return repr(mask_value(str(value)))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return repr(str(value)) if isinstance(value, str) else str(value)


def format_key(contract: TableContract, values: tuple) -> str:
    """Show a key in a reason: ``(week, geo, channel) = ('2023-01-02', 'North', 'tv')`` (personal data masked)."""
    cols = ", ".join(contract.key)
    shown = ", ".join(_fmt_value(c, v) for c, v in zip(contract.key, values))
    return f"({cols}) = ({shown})"


def _type_word(dtype: str) -> str:
    if "float" in dtype:
        return "is not a number"
    if "int" in dtype:
        return "is not a whole number"
    if "datetime" in dtype:
        return "is not a date"
    if "bool" in dtype:
        return "is not true/false (use true/false, yes/no or 1/0)"
    return f"cannot be read as {dtype}"


def describe_failure(column: str, check: str, value: Any) -> str:
    """Turn one pandera failure case into a sentence, e.g. ``spend = -120.0 is negative; spend must be >= 0``.

    Pandera names checks ``greater_than_or_equal_to(0)``, ``in_range(16, 110)``,
    ``isin([...])``, ``str_length(1, None)``, ``not_nullable``, ``coerce_dtype('float64')``;
    each gets a sentence saying what is wrong and what the contract requires.
    Unknown checks fall back to ``<column> = <value> fails <check>``.
    """
    m = _CHECK_RE.match(str(check))
    name, args = (m["name"], (m["args"] or "").strip()) if m else (str(check), "")
    v = _fmt_value(column, value)
    if name == "not_nullable":
        return f"{column} is missing; {column} is required"
    if name == "greater_than_or_equal_to":
        if args in ("0", "0.0"):
            return f"{column} = {v} is negative; {column} must be >= 0"
        return f"{column} = {v} is below {args}; {column} must be >= {args}"
    if name == "greater_than":
        return f"{column} = {v} is too small; {column} must be > {args}"
    if name == "less_than_or_equal_to":
        return f"{column} = {v} is too large; {column} must be <= {args}"
    if name == "less_than":
        return f"{column} = {v} is too large; {column} must be < {args}"
    if name == "in_range":
        lo, _, hi = args.partition(",")
        return f"{column} = {v} is out of range; {column} must be between {lo.strip()} and {hi.strip()}"
    if name == "isin":
        return f"{column} = {v} is not an allowed value; {column} must be one of {args.strip('[]()').rstrip(',')}"
    if name == "str_length":
        lo, _, hi = (a.strip() for a in args.partition(","))
        if lo in ("1", "1.0") and (value == "" or value is None):
            return f"{column} is empty; {column} must not be empty"
        limit = f"at least {lo}" + ("" if hi in ("None", "") else f" and at most {hi}")
        return f"{column} = {v} has the wrong length; {column} must have {limit} characters"
    if name == "str_contains":
        return f"{column} = {v} does not contain {args}; {column} must contain {args}"
    if name in ("coerce_dtype", "dtype"):
        return f"{column} = {v} {_type_word(args.strip(chr(39)))}"
    return f"{column} = {v} fails {check}"


# --------------------------------------------------------------------------- steps

@lru_cache(maxsize=None)
def _row_schema(table: str):
    """The table's pandera schema without dtype checks on string columns.

    :func:`check_rows` converts every string column of the contract to pandas'
    Arrow-backed string dtype first (values stay as they are, numbers become their
    text), so the type is guaranteed by construction. Pandera checks an ``object``
    column's type element by element in Python (about 10 s per million rows of
    touchpoints); skipping that redundant check keeps staging of the benchmark world
    fast while every value check of the contract still runs.
    """
    schema = CONTRACTS[table].schema
    str_cols = {c: {"dtype": None} for c, col in schema.columns.items() if str(col.dtype) == "str"}
    return schema.update_columns(str_cols) if str_cols else schema


def _string_columns(contract: TableContract) -> list[str]:
    return [c for c, col in contract.schema.columns.items() if str(col.dtype) == "str"]


def _int_columns(contract: TableContract) -> list[str]:
    return [c for c, col in contract.schema.columns.items() if str(col.dtype).startswith("int")]


def _bool_columns(contract: TableContract) -> list[str]:
    return [c for c, col in contract.schema.columns.items() if str(col.dtype) == "bool"]


def _parse_dates(values: pd.Series, date_format: str | None) -> tuple[pd.Series, pd.Series]:
    """Parse one column to naive UTC ``datetime64[ns]``; return (parsed, unparseable mask).

    Time-zone-aware values are converted to UTC. Without ``date_format`` pandas infers
    the format from the first value; values in another format are parsed one by one
    (``format="mixed"``) before being declared unparseable. Missing and blank values
    stay missing (the contract decides whether that is allowed).
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return values.astype("datetime64[ns]"), pd.Series(False, index=values.index)
    text = values.astype("string").str.strip()
    present = text.notna() & (text != "")
    text = text.where(present, None).astype(object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.to_datetime(text, format=date_format, errors="coerce", utc=True)
        retry = present & parsed.isna()
        if date_format is None and retry.any():
            parsed.loc[retry] = pd.to_datetime(text[retry], format="mixed", errors="coerce", utc=True)
    parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
    return parsed, present & parsed.isna()


def _run_contract(frame: pd.DataFrame, table: str) -> tuple[pd.DataFrame, dict[Any, list[tuple[str, str, Any]]]]:
    """Validate with pandera (lazy), repeating on the rows left when a coercion failed.

    When one value of a column cannot be coerced (``"abc"`` in ``spend``), pandera
    reports it and skips that column's value checks for the whole frame; so the
    failing rows are set aside and the remaining rows validated again until they
    pass. Returns the validated (coerced) frame and, per failing index label, the
    list of ``(column, check, value)`` failures.
    """
    schema = _row_schema(table)
    failures: dict[Any, list[tuple[str, str, Any]]] = {}
    remaining = frame
    for _ in range(_MAX_PASSES):
        if remaining.empty:
            return remaining, failures
        try:
            return schema.validate(remaining, lazy=True), failures
        except SchemaErrors as err:
            fc = err.failure_cases
            rows = fc[fc["index"].notna()]
            if rows.empty:
                problems = "; ".join(
                    f"{r.column or '<table>'}: {r.check} ({r.failure_case})" for r in fc.itertuples()
                )
                raise ContractError(f"Table {table!r} breaks its contract as a whole: {problems}") from None
            for r in rows.itertuples():
                failures.setdefault(r.index, []).append((str(r.column), str(r.check), r.failure_case))
            remaining = remaining.drop(index=pd.Index(rows["index"].unique()))
    raise ContractError(f"Table {table!r}: rows still failing after {_MAX_PASSES} validation passes.")


def check_rows(
    df: pd.DataFrame,
    contract: TableContract,
    row_numbers: np.ndarray | pd.Series | None = None,
    *,
    date_format: str | None = None,
    duplicate_reasons: pd.Series | None = None,
) -> RowCheck:
    """Check rows against a contract: dates, duplicate keys, then the pandera schema.

    Parameters
    ----------
    df
        Rows with canonical column names (every required column present).
    contract
        The table's contract.
    row_numbers
        Row number of each row in its source (1-based data rows); default ``1..len(df)``.
    date_format
        Format of text dates (``strftime`` codes); inferred when ``None``.
    duplicate_reasons
        Duplicate keys found by the caller across a bigger source (staging looks at
        every part of a table at once): a reason per row, null where the row is not a
        duplicate, aligned with ``df``'s rows. When ``None``, duplicates are searched
        within ``df`` (all but the first occurrence of a key are rejected).

    Returns
    -------
    RowCheck
        Accepted rows (coerced to the contract's types) and rejected rows (as they
        arrived, with ``_row``, ``_rule`` and ``_reason``). Every row is in exactly one.

    Notes
    -----
    A row failing several checks is rejected once: the rule is the first failure
    (dates, then duplicates, then contract checks in pandera's order) and the reason
    lists every contract failure of the row, separated by `` | ``.
    """
    df = df.reset_index(drop=True)
    n = len(df)
    rows = np.arange(1, n + 1) if row_numbers is None else np.asarray(row_numbers, dtype=np.int64)
    if len(rows) != n:
        raise ValueError(f"check_rows: {len(rows)} row numbers for {n} rows.")
    rule = pd.Series(None, index=df.index, dtype=object)
    reason = pd.Series(None, index=df.index, dtype=object)

    def reject(mask: pd.Series | np.ndarray, rule_name: str, texts: Any) -> None:
        """Reject the rows of ``mask`` not rejected yet; ``texts(index) -> reasons`` or a Series by row."""
        mask = pd.Series(np.asarray(mask, dtype=bool), index=df.index) & rule.isna()
        if not mask.any():
            return
        where = mask[mask].index
        found = texts(where) if callable(texts) else texts.reindex(where)
        rule[where] = rule_name
        reason[where] = [f"row {r}: {t}" for r, t in zip(rows[where.to_numpy()], found)]

    work = df.copy(deep=False)  # columns are replaced, never modified in place
    # Strings: Arrow-backed, numbers become their text, missing stays missing.
    for col in _string_columns(contract):
        if col in work and not isinstance(work[col].dtype, pd.StringDtype):
            work[col] = work[col].astype("string[pyarrow]")
    # Booleans: only unambiguous tokens (pandas would read any non-empty text as True).
    for col in _bool_columns(contract):
        if col in work and not pd.api.types.is_bool_dtype(work[col].dtype):
            text = work[col].astype("string").str.strip().str.lower()
            mapped = text.map(lambda t: True if t in _TRUE else False if t in _FALSE else None)
            bad = text.notna() & mapped.isna()
            reject(bad, _RULE_BOOL, lambda where, c=col: [describe_failure(c, _RULE_BOOL, v) for v in df.loc[where, c]])
            work[col] = mapped.astype("boolean")
    # Whole numbers: pandas would truncate 2.5 to 2 when coercing a float column to int.
    for col in _int_columns(contract):
        if col in work and pd.api.types.is_float_dtype(work[col].dtype):
            values = work[col]
            bad = values.notna() & (values != np.floor(values))
            if bad.any():
                rule_name = f"coerce_dtype('{contract.schema.columns[col].dtype}')"
                reject(bad, rule_name, lambda where, c=col, r=rule_name: [
                    describe_failure(c, r, v) for v in df.loc[where, c]])
    # 1. dates
    for col in contract.date_columns:
        if col not in work:
            continue
        parsed, bad = _parse_dates(work[col], date_format)
        work[col] = parsed
        if bad.any():
            hint = f" (expected format {date_format!r})" if date_format else ""
            reject(bad, RULE_UNPARSEABLE_DATE, lambda where, c=col, h=hint: [
                f"unparseable date in column {c!r}: {str(v)!r}{h}" for v in df.loc[where, c]])
    # 2. duplicate keys
    key = list(contract.key)
    if duplicate_reasons is not None:
        dr = pd.Series(np.asarray(duplicate_reasons, dtype=object), index=df.index)
        reject(dr.notna(), RULE_DUPLICATE_KEY, dr)
    elif key and n:
        cand = rule.isna() & work[key].notna().all(axis=1)
        keys = work.loc[cand, key]
        dup = keys.duplicated(keep="first")
        if dup.any():
            first = keys.reset_index().groupby(key, sort=False, dropna=False)["index"].transform("first")
            first.index = keys.index
            reject(dup.reindex(df.index, fill_value=False), RULE_DUPLICATE_KEY, lambda where: [
                f"duplicate key {format_key(contract, tuple(keys.loc[i]))}; first seen at row {rows[first[i]]}"
                for i in where])
    # 3. the pandera contract
    ok = rule.isna()
    accepted, failures = _run_contract(work[ok], contract.name)
    if failures:
        idx = list(failures)
        first_rule = {i: failures[i][0][1] for i in idx}
        texts = {}
        for i, cases in failures.items():
            coerce_cols = {c for c, chk, _ in cases if chk.startswith("coerce_dtype")}
            parts = [describe_failure(c, chk, v) for c, chk, v in cases
                     if not (chk.startswith("dtype(") and c in coerce_cols)]
            texts[i] = " | ".join(dict.fromkeys(parts))
        mask = pd.Series(False, index=df.index)
        mask[idx] = True
        rule_s = pd.Series(first_rule)
        rule_names = rule_s.reindex(df.index)
        text_s = pd.Series(texts).reindex(df.index)
        # one reject call per rule keeps the bookkeeping in one place
        for rname in rule_s.unique():
            reject(mask & (rule_names == rname), rname, text_s)
    accepted_mask = rule.isna()
    if int(accepted_mask.sum()) != len(accepted):
        raise AssertionError(f"check_rows lost track of rows: {int(accepted_mask.sum())} != {len(accepted)}")
    rejected = df[~accepted_mask].copy()
    rejected["_row"] = rows[(~accepted_mask).to_numpy()]
    rejected["_rule"] = rule[~accepted_mask]
    rejected["_reason"] = reason[~accepted_mask]
    return RowCheck(
        accepted=accepted.reset_index(drop=True),
        accepted_rows=rows[accepted_mask.to_numpy()],
        rejected=rejected.reset_index(drop=True),
    )


def to_arrow(df: pd.DataFrame) -> pa.Table:
    """Arrow table of checked rows, without pandas metadata.

    Checked rows hold Arrow-backed strings; with pandas' metadata they would read
    back as ``string`` dtype, while every other writer's tables read back as
    ``object``. Without the metadata all zones read back alike (strings as object).
    """
    return pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)


# --------------------------------------------------------------------------- files and mapping

def read_user_file(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV (every column as text, so nothing is mis-typed before the checks) or Parquet file.

    Raises
    ------
    ContractError
        For other file types or a file that cannot be parsed, naming the file.
    FileNotFoundError
        When the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No file to ingest at {path}.")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zip", ".xz"):
        suffixes = suffixes[:-1]
    kind = _SUFFIXES.get(suffixes[-1] if suffixes else "")
    if kind is None:
        raise ContractError(
            f"Cannot ingest {path.name}: unsupported file type {''.join(path.suffixes) or '(none)'}. "
            f"Save it as CSV (.csv, .tsv) or Parquet (.parquet)."
        )
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, sep="\t" if kind == "tsv" else ",", encoding="utf-8-sig",
                           skipinitialspace=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
        raise ContractError(f"Cannot read {path.name} as {kind.upper()}: {err}") from None


def apply_mapping(df: pd.DataFrame, contract: TableContract, mapping: dict[str, str] | None,
                  source: str = "the file") -> pd.DataFrame:
    """Rename the user's columns to canonical names and check every required column is there.

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
        same canonical name, or a required column is missing; the message lists the
        file's columns and the mapping entry to add.
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
    missing = [c for c in contract.required_columns if c not in out.columns]
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


def _already_stored(store: DataStore, zone: str, contract: TableContract, accepted: pd.DataFrame) -> np.ndarray:
    """Boolean mask of ``accepted`` rows whose key is already in ``zone.table``."""
    key = list(contract.key)
    if not key or accepted.empty or not store.exists(zone, contract.name):
        return np.zeros(len(accepted), dtype=bool)
    keys = accepted[key].copy()
    keys["__i"] = np.arange(len(keys))
    on = " AND ".join(f'k."{c}" = t."{c}"' for c in key)
    cols = ", ".join(f'"{c}"' for c in key)
    with duckdb.connect() as con:
        con.register("k", keys)
        hit = con.execute(
            f"SELECT k.__i FROM k WHERE EXISTS (SELECT 1 FROM (SELECT {cols} FROM "
            f"read_parquet('{store.glob(zone, contract.name)}', union_by_name = true)) t WHERE {on})"
        ).fetchnumpy()["__i"]
    mask = np.zeros(len(accepted), dtype=bool)
    mask[np.asarray(hit, dtype=np.int64)] = True
    return mask


# --------------------------------------------------------------------------- the entry point

def ingest_file(
    path: str | Path | IngestConfig,
    table: str | None = None,
    store: DataStore | None = None,
    mapping: dict[str, str] | None = None,
    source: str | None = None,
    zone: str = "raw",
    date_format: str | None = None,
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

    Returns
    -------
    IngestResult
        Counts and quarantine reasons; ``rows_in == rows_accepted + rows_quarantined``.

    Raises
    ------
    ContractError
        Unknown table, unsupported file type, or a required column missing (the
        message names the column, lists the file's columns and shows the mapping
        entry to add, e.g. ``add mapping: {'spend': '<your column>'}``).

    Notes
    -----
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
    if table is None:
        raise ContractError("ingest_file needs a table name (spend, kpi, touchpoints, ...).")
    if store is None:
        raise ValueError("ingest_file needs a DataStore to write to, e.g. DataStore('data/demo').")
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
    df = read_user_file(path)
    df = apply_mapping(df, contract, mapping, source=path.name)
    rows_in = len(df)

    with store.lock():
        check = check_rows(df, contract, date_format=date_format)
        accepted, rejected = check.accepted, check.rejected
        stored = _already_stored(store, zone, contract, accepted)
        if stored.any():
            again = df.iloc[check.accepted_rows[stored] - 1].copy()
            again["_row"] = check.accepted_rows[stored]
            again["_rule"] = RULE_DUPLICATE_KEY
            again["_reason"] = [
                f"row {r}: duplicate key {format_key(contract, tuple(accepted.loc[i, list(contract.key)]))}; "
                f"already stored in {zone}.{table} (the stored row is kept)"
                for r, i in zip(check.accepted_rows[stored], np.flatnonzero(stored))
            ]
            rejected = pd.concat([rejected, again], ignore_index=True).sort_values("_row", kind="stable")
            accepted = accepted[~stored].reset_index(drop=True)
        if len(accepted):
            store.append_part(zone, table, to_arrow(accepted))
        n_q = quarantine_rows(
            store, table, rejected.drop(columns=["_row", "_rule", "_reason"]),
            rule=rejected["_rule"], reason=rejected["_reason"], source=source,
            row_numbers=rejected["_row"],
        )
    if rows_in != len(accepted) + n_q:
        raise AssertionError(f"ingest lost rows: {rows_in} in, {len(accepted)} accepted, {n_q} quarantined")
    reasons = {str(k): int(v) for k, v in rejected["_rule"].value_counts().items()} if n_q else {}
    examples = ({str(k): str(v) for k, v in rejected.groupby("_rule", sort=False)["_reason"].first().items()}
                if n_q else {})
    return IngestResult(table=table, rows_in=rows_in, rows_accepted=len(accepted), rows_quarantined=n_q,
                        reasons=reasons, path=path, zone=zone, examples=examples)
