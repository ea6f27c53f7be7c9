"""Data-quality gates: pass / warn / fail against configurable thresholds.

Each gate measures one number (a null rate, a duplicate rate, a p95 latency,
an outlier share, an age in days), compares it with a warn and a fail
threshold and returns a :class:`galaxy_lib.core.gates.Gate` whose ``detail`` is a sentence a
stakeholder can read, e.g. ``"3.2% of touchpoints.creative_id are null (warn
above 5%, fail above 20%)"``, graded by :func:`galaxy_lib.core.gates.grade`.

Boundaries are strict: for "higher is worse" gates a value *equal to* the warn
threshold passes and anything above it warns (above the fail threshold it
fails); for "lower is worse" gates (minimum cardinality) a value below the
threshold warns / fails. A duplicate-rate warn threshold of 0 therefore means
"any duplicate warns".

Why hand-written: pandera (used for the row-level contracts) answers
pass/fail per row; great-expectations and soda would add a heavy service
layer for a handful of aggregate statistics. The statistics themselves come
from pandas and scipy (``scipy.stats.median_abs_deviation``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from pydantic import Field, model_validator
from scipy.stats import median_abs_deviation

from galaxy_lib.core.config import GalaxyConfig
from galaxy_lib.core.gates import GATE_STATUSES, Gate, check_threshold_order, grade

__all__ = [
    "Thresholds",
    "cardinality_gates",
    "duplicate_gate",
    "freshness_gate",
    "latency_gate",
    "null_rate_gates",
    "outlier_gate",
    "robust_z",
    "spend_outlier_gates",
]


class Thresholds(GalaxyConfig):
    """Warn and fail thresholds of the quality gates (validate from YAML with ``validate_params``).

    Rates and shares are fractions (0.05 = 5%). "Higher is worse" pairs need
    ``warn <= fail``; for the minimum cardinality ``fail <= warn``.
    """

    null_rate_warn: float = Field(0.05, ge=0, le=1, description="Null share of a column above which it warns.")
    null_rate_fail: float = Field(0.20, ge=0, le=1, description="Null share above which it fails.")
    min_cardinality_warn: int = Field(2, ge=0, description="Fewer distinct values than this warns (constant column).")
    min_cardinality_fail: int = Field(1, ge=0, description="Fewer distinct values than this fails (no values).")
    max_cardinality_ratio_warn: float = Field(
        0.5, ge=0, le=1, description="Distinct/non-null share of a categorical column above which it warns."
    )
    max_cardinality_ratio_fail: float = Field(0.9, ge=0, le=1, description="... above which it fails.")
    latency_p95_hours_warn: float = Field(
        24.0, ge=0, description="p95 hours from event to ingestion above which it warns."
    )
    latency_p95_hours_fail: float = Field(72.0, ge=0, description="... above which it fails.")
    duplicate_rate_warn: float = Field(0.0, ge=0, le=1, description="Share of duplicate key rows above which it warns.")
    duplicate_rate_fail: float = Field(0.01, ge=0, le=1, description="... above which it fails.")
    outlier_z: float = Field(3.5, gt=0, description="Robust |z| (median/MAD) above which a value is an outlier.")
    outlier_share_warn: float = Field(0.01, ge=0, le=1, description="Share of outliers above which it warns.")
    outlier_share_fail: float = Field(0.05, ge=0, le=1, description="... above which it fails.")
    stale_days_warn: float = Field(7.0, ge=0, description="Days since the newest record above which it warns.")
    stale_days_fail: float = Field(14.0, ge=0, description="... above which it fails.")

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        check_threshold_order(
            self.__dict__,
            higher_is_worse=(
                "null_rate",
                "max_cardinality_ratio",
                "latency_p95_hours",
                "duplicate_rate",
                "outlier_share",
                "stale_days",
            ),
            lower_is_worse=("min_cardinality",),
        )
        return self


def _pct(x: float) -> str:
    if x is None or math.isnan(x):
        return "n/a"
    s = f"{x * 100:.2f}".rstrip("0").rstrip(".")
    return f"{s}%"


def _num(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "n/a" if x is None or math.isnan(x) else str(x)
    return f"{x:,.2f}".rstrip("0").rstrip(".") if x != int(x) else f"{int(x):,}"


def _thresholds_text(warn_at: float, fail_at: float, fmt, word: str = "above") -> str:
    return f"warn {word} {fmt(warn_at)}, fail {word} {fmt(fail_at)}"


def _require_columns(df: pd.DataFrame, cols: Sequence[str], table: str, what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what} expects a pandas DataFrame for {table!r}, got {type(df).__name__}.")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(
            f"{what}: {table!r} has no column(s) {', '.join(map(repr, missing))} "
            f"(it has: {', '.join(map(str, df.columns))})."
        )


def null_rate_gates(
    df: pd.DataFrame,
    table: str,
    thresholds: Thresholds | None = None,
    columns: Sequence[str] | None = None,
) -> list[Gate]:
    """Share of missing values per column.

    Parameters
    ----------
    df
        The table.
    table
        Its name (for the detail sentence).
    thresholds
        Default :class:`Thresholds()`.
    columns
        Columns to check (default all). Nullable-by-contract columns can be
        checked with their own thresholds in a separate call.

    Returns
    -------
    list of Gate
        One ``null_rate`` gate per column. An empty table fails every column (nothing to measure).
    """
    th = thresholds or Thresholds()
    cols = list(df.columns) if columns is None else list(columns)
    _require_columns(df, cols, table, "null_rate_gates")
    out = []
    n = len(df)
    for c in cols:
        nulls = int(df[c].isna().sum())
        rate = nulls / n if n else float("nan")
        status = grade(rate, th.null_rate_warn, th.null_rate_fail)
        if n:
            detail = (
                f"{_pct(rate)} of {table}.{c} are null ({nulls:,} of {n:,} rows; "
                f"{_thresholds_text(th.null_rate_warn, th.null_rate_fail, _pct)})."
            )
        else:
            detail = f"{table} has no rows, so the null rate of {c} cannot be measured."
        out.append(Gate("null_rate", table, str(c), rate, status, th.null_rate_warn, th.null_rate_fail, detail))
    return out


def _is_id_like(name: str) -> bool:
    n = str(name).lower()
    return n == "id" or n.endswith("_id") or n.endswith("_key")


def cardinality_gates(
    df: pd.DataFrame,
    table: str,
    thresholds: Thresholds | None = None,
    columns: Sequence[str] | None = None,
) -> list[Gate]:
    """Distinct values per column: too few (constant/empty) or, for categories, too many.

    Parameters
    ----------
    df, table, thresholds
        As in :func:`null_rate_gates`.
    columns
        Columns to check. Default: every column except identifiers (named ``id``,
        ``*_id`` or ``*_key``), whose cardinality is meant to be high.

    Returns
    -------
    list of Gate
        For each column a ``cardinality_min`` gate (value = distinct non-null values;
        warns below ``min_cardinality_warn``, fails below ``min_cardinality_fail``) and,
        for non-numeric non-datetime columns, a ``cardinality_ratio`` gate (distinct /
        non-null rows; a category with nearly one value per row is probably a free-text
        or identifier column that leaked in).
    """
    th = thresholds or Thresholds()
    cols = [c for c in df.columns if not _is_id_like(c)] if columns is None else list(columns)
    _require_columns(df, cols, table, "cardinality_gates")
    out = []
    for c in cols:
        s = df[c]
        non_null = int(s.notna().sum())
        distinct = int(s.nunique(dropna=True))
        status = grade(distinct, th.min_cardinality_warn, th.min_cardinality_fail, higher_is_worse=False)
        out.append(
            Gate(
                "cardinality_min",
                table,
                str(c),
                float(distinct),
                status,
                float(th.min_cardinality_warn),
                float(th.min_cardinality_fail),
                f"{table}.{c} has {distinct:,} distinct value(s) "
                f"({_thresholds_text(th.min_cardinality_warn, th.min_cardinality_fail, _num, 'below')}).",
            )
        )
        categorical = not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s)) or isinstance(
            s.dtype, pd.CategoricalDtype
        )
        if categorical and not pd.api.types.is_bool_dtype(s):
            ratio = distinct / non_null if non_null else float("nan")
            out.append(
                Gate(
                    "cardinality_ratio",
                    table,
                    str(c),
                    ratio,
                    grade(ratio, th.max_cardinality_ratio_warn, th.max_cardinality_ratio_fail),
                    th.max_cardinality_ratio_warn,
                    th.max_cardinality_ratio_fail,
                    f"{table}.{c} has {distinct:,} distinct values in {non_null:,} non-null rows "
                    f"({_pct(ratio)}; "
                    f"{_thresholds_text(th.max_cardinality_ratio_warn, th.max_cardinality_ratio_fail, _pct)})."
                    if non_null
                    else f"{table}.{c} has no non-null values, so its cardinality ratio cannot be measured.",
                )
            )
    return out


def latency_gate(
    df: pd.DataFrame,
    ts_col: str,
    ingested_col: str,
    table: str,
    thresholds: Thresholds | None = None,
) -> Gate:
    """95th percentile of the delay from event time to ingestion time, in hours.

    Rows missing either timestamp are left out of the percentile and counted in
    the detail. Rows ingested *before* their event time (clock skew) are kept in
    the percentile; if there are any, the status is at least ``warn``.
    """
    th = thresholds or Thresholds()
    _require_columns(df, [ts_col, ingested_col], table, "latency_gate")
    ts = pd.to_datetime(df[ts_col])
    ing = pd.to_datetime(df[ingested_col])
    hours = ((ing - ts).dt.total_seconds() / 3600.0).dropna()
    missing = len(df) - len(hours)
    if hours.empty:
        return Gate(
            "latency_p95_hours",
            table,
            ingested_col,
            float("nan"),
            "fail",
            th.latency_p95_hours_warn,
            th.latency_p95_hours_fail,
            f"{table} has no rows with both {ts_col} and {ingested_col}, so latency cannot be measured.",
        )
    p95 = float(np.percentile(hours.to_numpy(), 95))
    status = grade(p95, th.latency_p95_hours_warn, th.latency_p95_hours_fail)
    negative = int((hours < 0).sum())
    detail = (
        f"95% of {table} events were ingested within {_num(p95)} h of {ts_col} "
        f"({_thresholds_text(th.latency_p95_hours_warn, th.latency_p95_hours_fail, lambda x: _num(x) + ' h')})."
    )
    if negative:
        detail += f" {negative:,} row(s) were ingested before their event time (clock skew)."
        status = max(status, "warn", key=GATE_STATUSES.index)
    if missing:
        detail += f" {missing:,} row(s) lack a timestamp and were not measured."
    return Gate(
        "latency_p95_hours",
        table,
        ingested_col,
        p95,
        status,
        th.latency_p95_hours_warn,
        th.latency_p95_hours_fail,
        detail,
    )


def duplicate_gate(
    df: pd.DataFrame,
    key_cols: Sequence[str],
    table: str,
    thresholds: Thresholds | None = None,
) -> Gate:
    """Share of rows that repeat an earlier row's key (all copies after the first)."""
    th = thresholds or Thresholds()
    if isinstance(key_cols, str):
        key_cols = [key_cols]
    keys = list(key_cols)
    if not keys:
        raise ValueError("duplicate_gate needs at least one key column.")
    _require_columns(df, keys, table, "duplicate_gate")
    n = len(df)
    dups = int(df.duplicated(subset=keys, keep="first").sum()) if n else 0
    rate = dups / n if n else 0.0
    label = ", ".join(keys)
    return Gate(
        "duplicate_rate",
        table,
        label,
        rate,
        grade(rate, th.duplicate_rate_warn, th.duplicate_rate_fail),
        th.duplicate_rate_warn,
        th.duplicate_rate_fail,
        f"{_pct(rate)} of {table} rows ({dups:,} of {n:,}) repeat an earlier key ({label}) "
        f"({_thresholds_text(th.duplicate_rate_warn, th.duplicate_rate_fail, _pct)}).",
    )


def robust_z(values: Iterable[float]) -> np.ndarray:
    """Robust z-scores ``(x - median) / (1.4826 * MAD)`` of the finite values.

    When the MAD is 0 (more than half the values equal) the mean absolute
    deviation from the median times 1.2533 is used instead (the usual fallback
    for the modified z-score); when that is 0 too, all values are equal and every
    z is 0. Non-finite inputs give NaN.
    """
    x = np.asarray(values, dtype=float)
    z = np.full(x.shape, np.nan)
    finite = np.isfinite(x)
    if not finite.any():
        return z
    f = x[finite]
    med = float(np.median(f))
    scale = float(median_abs_deviation(f, scale="normal"))
    if scale == 0:
        scale = float(np.mean(np.abs(f - med))) * 1.2533
    z[finite] = 0.0 if scale == 0 else (f - med) / scale
    return z


def outlier_gate(
    values: Iterable[float],
    name: str,
    table: str = "",
    thresholds: Thresholds | None = None,
) -> Gate:
    """Share of values whose robust |z| (median/MAD) exceeds ``thresholds.outlier_z``.

    Parameters
    ----------
    values
        Numbers (a Series or array). NaN and +/-inf are left out and counted in the detail.
    name
        What the values are, e.g. ``"spend[tv]"`` or ``"cpc[search]"``.
    table
        Table name for the result.
    thresholds
        Default :class:`Thresholds()`.
    """
    th = thresholds or Thresholds()
    x = np.asarray(pd.Series(values, dtype="float64"), dtype=float)
    z = robust_z(x)
    measured = np.isfinite(z)
    n = int(measured.sum())
    skipped = len(x) - n
    where = f"{table}.{name}" if table else name
    if n == 0:
        return Gate(
            "outlier_share",
            table,
            name,
            float("nan"),
            "fail",
            th.outlier_share_warn,
            th.outlier_share_fail,
            f"{where} has no finite values, so outliers cannot be measured.",
        )
    outliers = int((np.abs(z[measured]) > th.outlier_z).sum())
    share = outliers / n
    detail = (
        f"{_pct(share)} of {where} values ({outliers:,} of {n:,}) have robust |z| > {_num(th.outlier_z)} "
        f"(max |z| {_num(float(np.nanmax(np.abs(z))))}; "
        f"{_thresholds_text(th.outlier_share_warn, th.outlier_share_fail, _pct)})."
    )
    if skipped:
        detail += f" {skipped:,} missing or infinite value(s) were not measured."
    return Gate(
        "outlier_share",
        table,
        name,
        share,
        grade(share, th.outlier_share_warn, th.outlier_share_fail),
        th.outlier_share_warn,
        th.outlier_share_fail,
        detail,
    )


def spend_outlier_gates(
    spend: pd.DataFrame,
    thresholds: Thresholds | None = None,
    by: str = "channel",
    table: str = "spend",
    spend_col: str = "spend",
    clicks_col: str = "clicks",
) -> list[Gate]:
    """Outlier gates on spend and on cost per click (CPC = spend / clicks) within each ``by`` group.

    Channels differ by orders of magnitude (TV vs display), so outliers are judged
    within a channel. Rows with zero clicks have no CPC and are left out of the CPC
    gate (the detail counts them).
    """
    _require_columns(spend, [by, spend_col, clicks_col], table, "spend_outlier_gates")
    out: list[Gate] = []
    for group, g in spend.groupby(by, sort=True, observed=True):
        s = g[spend_col].astype(float)
        clicks = g[clicks_col].astype(float)
        cpc = (s / clicks).where(clicks > 0)
        out.append(outlier_gate(s, f"{spend_col}[{group}]", table, thresholds))
        out.append(outlier_gate(cpc, f"cpc[{group}]", table, thresholds))
    return out


def freshness_gate(
    max_ts: pd.Timestamp | pd.Series | str,
    as_of: pd.Timestamp | str | None = None,
    table: str = "",
    column: str = "",
    thresholds: Thresholds | None = None,
) -> Gate:
    """Days between the newest record and ``as_of`` (None = now, naive UTC).

    ``max_ts`` may be a timestamp or a Series of timestamps (its maximum is used).
    For synthetic or backfilled worlds pass the world's own reference time as
    ``as_of``, otherwise the data looks stale by construction.
    """
    th = thresholds or Thresholds()
    newest = pd.to_datetime(max_ts).max() if isinstance(max_ts, pd.Series) else pd.Timestamp(max_ts)
    now = pd.Timestamp.now(tz="UTC").tz_localize(None) if as_of is None else pd.Timestamp(as_of)
    if newest is pd.NaT or pd.isna(newest):
        return Gate(
            "stale_days",
            table,
            column,
            float("nan"),
            "fail",
            th.stale_days_warn,
            th.stale_days_fail,
            f"{table or 'the table'} has no timestamps in {column or 'its time column'}, "
            "so freshness cannot be measured.",
        )
    if (newest.tzinfo is None) != (now.tzinfo is None):
        newest = newest.tz_convert("UTC").tz_localize(None) if newest.tzinfo else newest
        now = now.tz_convert("UTC").tz_localize(None) if now.tzinfo else now
    days = (now - newest).total_seconds() / 86400.0
    where = f"{table}.{column}" if table and column else (table or column or "the data")
    return Gate(
        "stale_days",
        table,
        column,
        days,
        grade(days, th.stale_days_warn, th.stale_days_fail),
        th.stale_days_warn,
        th.stale_days_fail,
        f"The newest {where} is {_num(days)} day(s) old on {now:%Y-%m-%d} "
        f"({_thresholds_text(th.stale_days_warn, th.stale_days_fail, lambda x: _num(x) + ' days')}).",
    )
