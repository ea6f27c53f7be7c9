"""Row checks shared by ingestion and staging: dates, duplicate keys, the pandera contract.

:func:`check_rows` is the single implementation used both by
:func:`galaxy_lib.pipeline.ingest.ingest_file` and by staging
(:mod:`galaxy_lib.pipeline.staging`). In order:

1. **Types.** String columns become Arrow-backed text; booleans accept only
   unambiguous tokens (``true/false``, ``yes/no``, ``1/0``); a fractional value in a
   whole-number column is rejected instead of truncated. With a channel map, every
   ``channel`` column is put in canonical names (:class:`galaxy_lib.core.channels.ChannelMap`).
2. **Dates.** Date columns are parsed with pandas (``date_format`` optional); a value
   that cannot be parsed goes to quarantine (rule ``unparseable_date``).
3. **Duplicate keys.** Rows repeating the contract's key (``week, geo, channel`` for
   spend, ``event_id`` for touchpoints, ...) go to quarantine (rule
   ``duplicate_key``), all but the first; the reason names the key and the first row.
   In a nullable key column (consent's ``withdrawn_at``) null equals null.
4. **Contract.** The rest is validated with the table's pandera schema
   (``schema.validate(df, lazy=True)``); each failing row goes to quarantine with
   the failed check as rule (``greater_than_or_equal_to(0)``) and a readable reason.
5. **Rules across columns.** A consent record whose ``tcf_purposes`` lack a TCF
   purpose its ``purpose`` needs (:data:`galaxy_lib.governance.consent.TCF_REQUIRED`)
   goes to quarantine (rule ``tcf_purposes_mismatch``): it would claim more than
   the customer agreed to.

Row numbers in reasons are 1-based *data* rows of the source: the header line is
not counted, so "row 3" is the third record under the header (for a CSV without
multi-line quoted fields, that is line 4 of the file).
"""

from __future__ import annotations

import re
import tempfile
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from pandera.errors import SchemaErrors

from galaxy_lib.core import sql
from galaxy_lib.core.channels import ChannelMap
from galaxy_lib.core.contracts import CONTRACTS, PII_COLUMNS, ContractError, TableContract
from galaxy_lib.governance.consent import TCF_REQUIRED, missing_tcf_purposes, tcf_covers
from galaxy_lib.governance.pii import mask_value, redact_pii

__all__ = [
    "RULE_DUPLICATE_KEY",
    "RULE_TCF_MISMATCH",
    "RULE_UNPARSEABLE_DATE",
    "RowCheck",
    "check_rows",
    "describe_failure",
    "duplicates_across_parts",
    "format_key",
    "to_arrow",
]

RULE_UNPARSEABLE_DATE = "unparseable_date"
RULE_DUPLICATE_KEY = "duplicate_key"
RULE_TCF_MISMATCH = "tcf_purposes_mismatch"
_RULE_BOOL = "coerce_dtype('bool')"
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
_MAX_PASSES = 6
#: DuckDB memory cap for the whole-table duplicate search (it spills to a temporary folder beyond).
DUCKDB_MEMORY_LIMIT = "600MB"
_CHECK_RE = re.compile(r"^(?P<name>\w+)(?:\((?P<args>.*)\))?$", re.S)


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


def customer_ids(rows: pd.DataFrame) -> list[str]:
    """Raw customer ids of (rejected) rows, to mask in their reasons whatever their format."""
    if "customer_id" not in rows.columns:
        return []
    return [str(v) for v in rows["customer_id"].dropna().unique() if str(v).strip()]


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
    # an e-mail or phone number in any column (a shifted row) is masked too
    return repr(redact_pii(value)) if isinstance(value, str) else redact_pii(value)


def format_key(contract: TableContract, values: tuple) -> str:
    """Show a key in a reason: ``(week, geo, channel) = ('2023-01-02', 'North', 'tv')`` (personal data masked)."""
    cols = ", ".join(contract.key)
    shown = ", ".join(_fmt_value(c, v) for c, v in zip(contract.key, values, strict=False))
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


@cache
def _row_schema(table: str):
    """Return the table's pandera schema without dtype checks on string columns.

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


def _tcf_mismatches(rows: pd.DataFrame) -> pd.Series:
    """Reason per consent record whose ``tcf_purposes`` lack a TCF purpose of its ``purpose`` (null where fine)."""
    out = pd.Series(None, index=rows.index, dtype=object)
    if rows.empty:
        return out
    bad = ~tcf_covers(rows["purpose"], rows["tcf_purposes"])
    for i in rows.index[bad]:
        purpose, tcf = rows.at[i, "purpose"], rows.at[i, "tcf_purposes"]
        lacking = ", ".join(map(str, missing_tcf_purposes(purpose, tcf)))
        needed = ", ".join(map(str, TCF_REQUIRED.get(purpose, ())))
        out[i] = redact_pii(
            f"tcf_purposes = {_fmt_value('tcf_purposes', tcf)} lacks TCF purpose(s) {lacking} that {purpose} "
            f"needs; a consent record must carry every TCF purpose of the purpose it claims ({needed})"
        )
    return out


#: Row rules across columns, per table: (rule name, rows -> reason per row, null where the row passes).
_TABLE_RULES = {"consent": ((RULE_TCF_MISMATCH, _tcf_mismatches),)}


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
                problems = "; ".join(f"{r.column or '<table>'}: {r.check} ({r.failure_case})" for r in fc.itertuples())
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
    channels: ChannelMap | None = None,
) -> RowCheck:
    """Check rows against a contract: dates, duplicate keys, the pandera schema, then rules across columns.

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
    channels
        Channel-name map applied to a ``channel`` column before the checks, so
        ``TV`` and ``tv`` are one channel (also for duplicate keys). Accepted rows
        carry canonical names; rejected rows keep the names as they arrived.
        ``None`` leaves names as they are (staging: raw tables were mapped at ingestion).

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
        reason[where] = [f"row {r}: {t}" for r, t in zip(rows[where.to_numpy()], found, strict=True)]

    work = df.copy(deep=False)  # columns are replaced, never modified in place
    # Strings: Arrow-backed, numbers become their text, missing stays missing.
    for col in _string_columns(contract):
        if col in work and not isinstance(work[col].dtype, pd.StringDtype):
            work[col] = work[col].astype("string[pyarrow]")
    if channels is not None and "channel" in work:
        work["channel"] = channels.apply(work["channel"])
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
                reject(
                    bad,
                    rule_name,
                    lambda where, c=col, r=rule_name: [describe_failure(c, r, v) for v in df.loc[where, c]],
                )
    # 1. dates
    for col in contract.date_columns:
        if col not in work:
            continue
        parsed, bad = _parse_dates(work[col], date_format)
        work[col] = parsed
        if bad.any():
            hint = f" (expected format {date_format!r})" if date_format else ""
            reject(
                bad,
                RULE_UNPARSEABLE_DATE,
                lambda where, c=col, h=hint: [
                    f"unparseable date in column {c!r}: {str(v)!r}{h}" for v in df.loc[where, c]
                ],
            )
    # 2. duplicate keys
    key = list(contract.key)
    if duplicate_reasons is not None:
        dr = pd.Series(np.asarray(duplicate_reasons, dtype=object), index=df.index)
        reject(dr.notna(), RULE_DUPLICATE_KEY, dr)
    elif key and n:
        cand = rule.isna() & work[list(contract.non_null_key)].notna().all(axis=1)
        keys = work.loc[cand, key]
        dup = keys.duplicated(keep="first")
        if dup.any():
            first = keys.reset_index().groupby(key, sort=False, dropna=False)["index"].transform("first")
            first.index = keys.index
            reject(
                dup.reindex(df.index, fill_value=False),
                RULE_DUPLICATE_KEY,
                lambda where: [
                    f"duplicate key {format_key(contract, tuple(keys.loc[i]))}; first seen at row {rows[first[i]]}"
                    for i in where
                ],
            )
    # 3. the pandera contract
    ok = rule.isna()
    accepted, failures = _run_contract(work[ok], contract.name)
    if failures:
        idx = list(failures)
        first_rule = {i: failures[i][0][1] for i in idx}
        texts = {}
        for i, cases in failures.items():
            coerce_cols = {c for c, chk, _ in cases if chk.startswith("coerce_dtype")}
            parts = [
                describe_failure(c, chk, v)
                for c, chk, v in cases
                if not (chk.startswith("dtype(") and c in coerce_cols)
            ]
            texts[i] = " | ".join(dict.fromkeys(parts))
        mask = pd.Series(False, index=df.index)
        mask[idx] = True
        rule_s = pd.Series(first_rule)
        rule_names = rule_s.reindex(df.index)
        text_s = pd.Series(texts).reindex(df.index)
        # one reject call per rule keeps the bookkeeping in one place
        for rname in rule_s.unique():
            reject(mask & (rule_names == rname), rname, text_s)
    # 4. rules across columns, on rows that passed the contract (their values are typed)
    for rule_name, find in _TABLE_RULES.get(contract.name, ()):
        found = find(accepted)
        if found.notna().any():
            reject(found.notna().reindex(df.index, fill_value=False), rule_name, found)
            accepted = accepted[found.isna()]
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


def _under(root: Path, path: str | Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


def duplicates_across_parts(contract: TableContract, parts: list[Path], root: Path) -> dict[str, pd.Series]:
    """Duplicate keys over the whole table, found by DuckDB (out of core).

    Returns, per part file name, the 0-based rows that repeat a key seen earlier
    (parts in name order, rows in file order) with the reason naming the first one
    by its path under ``root``. Rows missing a non-nullable key value are left to
    the contract's not-null checks; in a nullable key column null equals null.
    Staging passes the verdict to :func:`check_rows` (``duplicate_reasons``).
    """
    key = list(contract.key)
    if not key or not parts:
        return {}
    cols = sql.identifiers(key)
    # a null in a nullable key column (an open consent grant) equals null: PARTITION BY groups them
    not_null = " AND ".join(f"{sql.identifier(c)} IS NOT NULL" for c in contract.non_null_key) or "TRUE"
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
        f"{int(r['first_row']) + 1} of {_under(root, r['first_file'])}"
        for _, r in dups.iterrows()
    ]
    return {
        Path(f).name: g[["file_row_number", "reason"]].set_index("file_row_number")["reason"]
        for f, g in dups.groupby("filename")
    }


def to_arrow(df: pd.DataFrame) -> pa.Table:
    """Arrow table of checked rows, without pandas metadata.

    Checked rows hold Arrow-backed strings; with pandas' metadata they would read
    back as ``string`` dtype, while every other writer's tables read back as
    ``object``. Without the metadata all zones read back alike (strings as object).
    """
    return pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
