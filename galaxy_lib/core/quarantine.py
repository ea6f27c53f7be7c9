"""Quarantine: where rejected rows go, with the rule they broke and why.

Nothing is silently dropped. Ingestion and staging send every row that breaks a
data contract to ``quarantine/<table>/`` together with four columns:

``_rule``
    The machine-readable rule, e.g. ``greater_than_or_equal_to(0)`` (a pandera
    check), ``unparseable_date`` or ``duplicate_key``.
``_reason``
    A sentence a person can act on, e.g.
    ``row 3: spend = -120.0 is negative; spend must be >= 0``.
``_source``
    Where the row came from (the user's file, or ``raw/<table>/part-NNNNN.parquet``).
``_quarantined_at``
    When it was quarantined (UTC).

``_row`` holds the row number in the source (1-based data rows, header excluded)
when it is known. Every original column is kept and cast to string so any junk
(``"12O.5"``, ``"2023-13-45"``) survives exactly as it arrived. Like the raw
zone, quarantine may hold personal data (the rows are rejected before
pseudonymisation); the ``_reason`` text never does: identifier, e-mail and
phone values are masked in it, because reasons are shown in reports. Reasons name
values, and a shifted row puts an e-mail in the ``spend`` column, so masking by
column name is not enough: writers pass ``redact`` (``governance.pii.redact_pii``,
which ``core`` cannot import) and every reason goes through it.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from galaxy_lib.core import sql
from galaxy_lib.core.store import DataStore

__all__ = ["META_COLUMNS", "quarantine_rows", "quarantine_summary", "read_quarantine"]

#: Columns added to every quarantined row.
META_COLUMNS: tuple[str, ...] = ("_row", "_rule", "_reason", "_source", "_quarantined_at")


def _as_text(col: pd.Series) -> pd.Series:
    """Cast a column to nullable strings, keeping missing values missing."""
    out = col.astype("string")
    return out.astype(object).where(out.notna(), None)


def quarantine_rows(
    store: DataStore,
    table: str,
    rows: pd.DataFrame,
    rule: str | pd.Series,
    reason: str | pd.Series,
    source: str,
    *,
    row_numbers: pd.Series | list[int] | None = None,
    prefix: str = "part",
    redact: Callable[[str], str] | None = None,
) -> int:
    """Append rejected rows to ``quarantine/<table>/`` with their rule and reason.

    Parameters
    ----------
    store
        The data store.
    table
        Table the rows were meant for (``spend``, ``touchpoints``, ...).
    rows
        The rejected rows as they arrived. Every column is stored as string.
    rule
        Rule broken: one for all rows, or one per row (aligned with ``rows``).
    reason
        Readable reason: one for all rows, or one per row (aligned with ``rows``).
    source
        Where the rows came from (file path or raw part), stored in ``_source``.
    row_numbers
        Row number of each row in ``source`` (1-based data rows), stored in ``_row``.
    prefix
        Part-file prefix; staging writes ``staging-NNNNN.parquet`` so that a re-run
        can replace its own rows without touching rows quarantined at ingestion.
    redact
        Masking applied to every reason before it is stored, e.g.
        ``functools.partial(galaxy_lib.governance.pii.redact_pii, raw_ids=ids)``; a
        reason names values, and a value in the wrong column can be an e-mail.

    Returns
    -------
    int
        Number of rows quarantined (0 writes nothing).
    """
    n = len(rows)
    if n == 0:
        return 0
    for name, value in (("rule", rule), ("reason", reason), ("row_numbers", row_numbers)):
        if value is not None and not isinstance(value, str) and len(value) != n:
            raise ValueError(f"quarantine_rows: {name} has {len(value)} values for {n} rows.")
    out = pd.DataFrame(
        {c: _as_text(rows[c]) for c in rows.columns if c not in META_COLUMNS},
        index=rows.index,
    ).reset_index(drop=True)
    out["_row"] = pd.array(list(row_numbers) if row_numbers is not None else [pd.NA] * n, dtype="Int64")
    out["_rule"] = rule if isinstance(rule, str) else list(map(str, rule))
    reasons = [str(reason)] * n if isinstance(reason, str) else list(map(str, reason))
    out["_reason"] = [redact(r) for r in reasons] if redact is not None else reasons
    out["_source"] = str(source)
    out["_quarantined_at"] = pd.Timestamp.now(tz="UTC")
    store.append_part("quarantine", table, out, prefix=prefix)
    return n


def read_quarantine(store: DataStore, table: str) -> pd.DataFrame:
    """All quarantined rows of ``table`` (columns of every part, missing ones null); empty if none."""
    if not store.exists("quarantine", table):
        return pd.DataFrame(columns=list(META_COLUMNS))
    return store.read("quarantine", table)


def quarantine_summary(store: DataStore) -> pd.DataFrame:
    """Quarantined rows per table and rule, with one example reason each.

    Returns
    -------
    pandas.DataFrame
        Columns ``table, rule, rows, example_reason``, most rows first within a
        table; empty (with those columns) when nothing is quarantined.
    """
    frames = []
    for info in store.tables(count_rows=False):
        if info.zone != "quarantine":
            continue
        by_rule = store.query(
            "SELECT _rule AS rule, count(*) AS rows, min(_reason) AS example_reason "
            f"FROM {sql.read_parquet(store.glob('quarantine', info.name), union_by_name=True)} "
            "GROUP BY _rule ORDER BY rows DESC, rule"
        )
        by_rule.insert(0, "table", info.name)
        frames.append(by_rule)
    if not frames:
        return pd.DataFrame(
            {
                "table": pd.Series(dtype=object),
                "rule": pd.Series(dtype=object),
                "rows": pd.Series(dtype="int64"),
                "example_reason": pd.Series(dtype=object),
            }
        )
    out = pd.concat(frames, ignore_index=True)
    out["rows"] = out["rows"].astype("int64")
    return out
