"""k-anonymity for aggregates published outside the team.

A table of counts (customers per geo and segment, conversions per channel and
week...) can single out people when a cell is small. The threshold rule used
by statistical offices is applied here: every cell whose count is below ``k``
has its count and values blanked (NaN) and is flagged, so the published table
never shows a number computed from fewer than ``k`` people.

Limitation: this is *primary* suppression. If the same report also publishes
exact margins (row or column totals), a single suppressed cell in a row can be
recovered by subtraction; publish totals from the suppressed table or add
differential-privacy noise (:mod:`galaxy_lib.governance.dp`) instead.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

__all__ = [
    "KAnonymityError",
    "SuppressionResult",
    "is_k_anonymous",
    "smallest_group_size",
    "suppress_small_cells",
]


class KAnonymityError(ValueError):
    """Bad input to a k-anonymity function; the message names the parameter or column."""


@dataclass(frozen=True)
class SuppressionResult:
    """A table with its small cells blanked.

    Attributes
    ----------
    table
        Copy of the input (same index and row order) with the count and value
        columns set to NaN where ``count < k``, plus a boolean ``suppressed`` column.
    suppressed_rows
        Number of rows blanked.
    k
        The threshold used.
    count_col
        The count column checked.
    value_cols
        The columns blanked in suppressed rows (the count column included).
    """

    table: pd.DataFrame
    suppressed_rows: int
    k: int
    count_col: str
    value_cols: tuple[str, ...]

    def summary(self) -> str:
        """One sentence for a report."""
        return f"{self.suppressed_rows} of {len(self.table)} cells had {self.count_col} < {self.k} and were suppressed."


def _check_k(k: int) -> int:
    try:
        if isinstance(k, bool):
            raise TypeError
        k = operator.index(k)
    except TypeError:
        raise KAnonymityError(f"k must be an integer >= 2, got {k!r}.") from None
    if k < 2:
        raise KAnonymityError(f"k must be >= 2 (k=1 suppresses nothing), got {k}.")
    return k


def suppress_small_cells(
    df: pd.DataFrame,
    count_col: str,
    k: int,
    value_cols: Sequence[str] | None = None,
) -> SuppressionResult:
    """Blank every cell whose count is below ``k``.

    Parameters
    ----------
    df
        An aggregate table: dimension columns, a count of contributing people, values.
    count_col
        Column with the number of people behind each row.
    k
        Minimum count that may be published (integer >= 2). Counts below ``k``,
        including 0 and missing counts, are suppressed.
    value_cols
        Columns to blank in suppressed rows. Default: every numeric column
        (the count column included). ``count_col`` is always blanked.

    Returns
    -------
    SuppressionResult

    Raises
    ------
    KAnonymityError
        ``k`` not an integer >= 2, ``count_col`` or a ``value_cols`` entry missing,
        or ``count_col`` not numeric.
    """
    k = _check_k(k)
    if not isinstance(df, pd.DataFrame):
        raise KAnonymityError(f"df must be a pandas DataFrame, got {type(df).__name__}.")
    if count_col not in df.columns:
        raise KAnonymityError(
            f"count_col {count_col!r} is not a column of the table (it has: {', '.join(map(str, df.columns))})."
        )
    if "suppressed" in df.columns:
        raise KAnonymityError("The table already has a 'suppressed' column; rename it before suppressing.")
    counts = pd.to_numeric(df[count_col], errors="coerce")
    bad = counts.isna() & df[count_col].notna()
    if bad.any():
        raise KAnonymityError(
            f"count_col {count_col!r} must be numeric; row {df.index[bad][0]!r} holds {df[count_col][bad].iloc[0]!r}."
        )
    if value_cols is None:
        cols = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    else:
        if isinstance(value_cols, str):
            value_cols = [value_cols]
        missing = [c for c in value_cols if c not in df.columns]
        if missing:
            raise KAnonymityError(
                f"value_cols {missing} are not columns of the table (it has: {', '.join(map(str, df.columns))})."
            )
        cols = list(value_cols)
    if count_col not in cols:
        cols.insert(0, count_col)

    small = (counts < k) | counts.isna()
    out = df.copy()
    for c in cols if small.any() else []:
        if not pd.api.types.is_float_dtype(out[c]) and pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].astype("float64")
        out.loc[small, c] = float("nan") if pd.api.types.is_numeric_dtype(out[c]) else None
    out["suppressed"] = small.to_numpy()
    return SuppressionResult(
        table=out,
        suppressed_rows=int(small.sum()),
        k=k,
        count_col=count_col,
        value_cols=tuple(cols),
    )


def smallest_group_size(df: pd.DataFrame, quasi_identifiers: Sequence[str]) -> int:
    """Size of the smallest group of rows sharing the same quasi-identifier values.

    Missing values form their own group. An empty table returns 0.
    """
    if isinstance(quasi_identifiers, str):
        quasi_identifiers = [quasi_identifiers]
    qis = list(quasi_identifiers)
    if not qis:
        raise KAnonymityError("quasi_identifiers must name at least one column.")
    missing = [c for c in qis if c not in df.columns]
    if missing:
        raise KAnonymityError(
            f"quasi_identifiers {missing} are not columns of the table (it has: {', '.join(map(str, df.columns))})."
        )
    if df.empty:
        return 0
    return int(df.groupby(qis, dropna=False, observed=True).size().min())


def is_k_anonymous(df: pd.DataFrame, quasi_identifiers: Sequence[str], k: int) -> bool:
    """Tell whether every combination of quasi-identifier values is shared by at least ``k`` rows.

    Parameters
    ----------
    df
        Record-level table (one row per person).
    quasi_identifiers
        Columns an attacker could link on (e.g. geo, age band, segment).
    k
        Integer >= 2.

    Notes
    -----
    An empty table is trivially k-anonymous (it singles out no one).
    """
    k = _check_k(k)
    if df.empty:
        smallest_group_size(df, quasi_identifiers)  # still validates the columns
        return True
    return smallest_group_size(df, quasi_identifiers) >= k
