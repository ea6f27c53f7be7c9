"""PII scan of stored tables: raw may hold personal data, staged and curated must not.

The text scanner lives in :mod:`galaxy_lib.governance.pii`; this module feeds it
the distinct values of every string column of a table, read through DuckDB so a
bench-sized table never lands in pandas whole.
"""

from __future__ import annotations

import pandas as pd

from galaxy_lib.core import sql
from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.pii import scan_text

__all__ = ["scan_store_tables"]

#: Zones allowed to hold personal data: as ingested, and rows rejected before pseudonymisation.
_MAY_HOLD_PII = ("raw", "quarantine")


def _string_columns(store: DataStore, zone: str, table: str) -> list[str]:
    described = store.query(f"DESCRIBE SELECT * FROM {sql.read_parquet(store.glob(zone, table))}")
    return [
        r.column_name
        for r in described.itertuples()
        if r.column_type == "VARCHAR" and not r.column_name.startswith("_")
    ]


def scan_store_tables(
    store: DataStore,
    zones: tuple[str, ...] = ("raw", "staged", "curated", "quarantine"),
    max_distinct: int = 200_000,
) -> pd.DataFrame:
    """Count e-mails, phone numbers and raw customer ids in every string column.

    Parameters
    ----------
    store
        The data store.
    zones
        Zones to scan. Findings in ``raw`` are expected (it is the only zone allowed
        to hold PII); findings in ``staged`` or ``curated`` are a governance failure.
    max_distinct
        Distinct values read per column (the first ``max_distinct`` in DuckDB's
        order); ``complete`` in the result says whether the column was read whole.

    Returns
    -------
    pandas.DataFrame
        One row per zone, table and column with PII: ``zone, table, column, kind,
        values_with_pii, complete, allowed`` (``allowed`` is True only in raw and quarantine).
        Empty (with those columns) when nothing was found.
    """
    rows = []
    for info in store.tables(count_rows=False):
        if info.zone not in zones:
            continue
        for col in _string_columns(store, info.zone, info.name):
            values = store.query(
                f"SELECT DISTINCT {sql.identifier(col)} AS v FROM {sql.read_parquet(store.glob(info.zone, info.name))} "
                f"WHERE {sql.identifier(col)} IS NOT NULL LIMIT {int(max_distinct) + 1}"
            )["v"]
            complete = len(values) <= max_distinct
            findings = scan_text("\n".join(values.head(max_distinct).astype(str).str.replace("\n", " ")))
            kinds: dict[str, set[int]] = {}
            for f in findings:
                kinds.setdefault(f.kind, set()).add(f.line)
            for kind, lines in sorted(kinds.items()):
                rows.append(
                    dict(
                        zone=info.zone,
                        table=info.name,
                        column=col,
                        kind=kind,
                        values_with_pii=len(lines),
                        complete=complete,
                        allowed=info.zone in _MAY_HOLD_PII,
                    )
                )
    return pd.DataFrame(rows, columns=["zone", "table", "column", "kind", "values_with_pii", "complete", "allowed"])
