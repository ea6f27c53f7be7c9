"""Consent: keep only rows whose customer consented to the processing purpose.

Each workflow declares one purpose (``measurement`` for MMM, MTA and uplift
reporting, ``personalisation`` for targeting, ...) and reads customer-level
rows through :func:`filter_by_consent`. The result says how many rows and
customers were excluded, so the report can state it; nothing disappears
silently.

Consent records (the ``consent`` table of :mod:`galaxy_lib.core.contracts`,
with ``customer_id`` in raw and ``customer_key`` in staged) carry one row per
customer, purpose and grant period::

    customer_key, purpose, tcf_purposes, granted_at, withdrawn_at

A record is **valid at time t** when ``granted_at <= t`` and (``withdrawn_at``
is null or ``withdrawn_at > t``): consent given at 10:00 covers 10:00, consent
withdrawn at 10:00 no longer does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "TCF_PURPOSES",
    "TCF_PURPOSE_NAMES",
    "ConsentError",
    "ConsentFilterResult",
    "consent_coverage",
    "consent_valid_at",
    "filter_by_consent",
]

#: IAB Transparency & Consent Framework 2.2 purposes (id -> name), for reports.
TCF_PURPOSE_NAMES: dict[int, str] = {
    1: "Store and/or access information on a device",
    2: "Use limited data to select advertising",
    3: "Create profiles for personalised advertising",
    4: "Use profiles to select personalised advertising",
    5: "Create profiles to personalise content",
    6: "Use profiles to select personalised content",
    7: "Measure advertising performance",
    8: "Measure content performance",
    9: "Understand audiences through statistics or combinations of data from different sources",
    10: "Develop and improve services",
    11: "Use limited data to select content",
}

#: Our processing purposes (``core.contracts.CONSENT_PURPOSES``, same order) -> the TCF 2.2
#: purposes a consent string must carry for them.
#:
#: * ``measurement``: MMM, multi-touch attribution and experiment read-outs measure
#:   advertising performance (7) and describe audiences statistically (9); touchpoint
#:   collection relies on device storage (1).
#: * ``personalisation``: uplift-based targeting builds customer profiles (5) and uses
#:   them to choose what each customer sees (6), with device storage (1).
#: * ``advertising``: audience activation for paid media: limited-data ad selection (2),
#:   ad profiles (3) and their use (4), with device storage (1).
#: * ``content``: creative scoring and content drafting measure content performance (8),
#:   improve the service (10) and select content from limited data (11).
TCF_PURPOSES: dict[str, tuple[int, ...]] = {
    "measurement": (1, 7, 9),
    "personalisation": (1, 5, 6),
    "advertising": (1, 2, 3, 4),
    "content": (8, 10, 11),
}

_CONSENT_COLUMNS = ("purpose", "granted_at", "withdrawn_at")


class ConsentError(ValueError):
    """Bad input to a consent function; the message names the column or purpose and the fix."""


@dataclass(frozen=True)
class ConsentFilterResult:
    """Rows allowed for one purpose, and what was excluded.

    Attributes
    ----------
    kept
        The input rows (same columns, original index) whose consent covers ``purpose``.
    excluded_rows
        Number of input rows removed.
    excluded_customers
        Number of distinct customers (non-null keys) with at least one removed row.
    purpose
        The processing purpose checked.
    as_of
        The moment consent had to be valid (naive UTC).
    rows_in
        Number of input rows.
    customers_in
        Number of distinct non-null keys in the input.
    time_col
        The event-time column used, or ``None`` when only ``as_of`` was checked.
    """

    kept: pd.DataFrame
    excluded_rows: int
    excluded_customers: int
    purpose: str
    as_of: pd.Timestamp
    rows_in: int = 0
    customers_in: int = 0
    time_col: str | None = None

    @property
    def excluded_share(self) -> float:
        """Share of input rows excluded (0 for an empty input)."""
        return self.excluded_rows / self.rows_in if self.rows_in else 0.0

    def summary(self) -> str:
        """One sentence for a report."""
        return (
            f"Consent for {self.purpose} (as of {self.as_of:%Y-%m-%d %H:%M}): kept {len(self.kept):,} of "
            f"{self.rows_in:,} rows; excluded {self.excluded_rows:,} rows from {self.excluded_customers:,} customers."
        )


def _to_utc_naive(values: pd.Series | pd.Timestamp, what: str):
    """Parse to datetime and express as naive UTC (the store's convention)."""
    try:
        if isinstance(values, pd.Series):
            out = pd.to_datetime(values, errors="raise")
            if getattr(out.dt, "tz", None) is not None:
                out = out.dt.tz_convert("UTC").dt.tz_localize(None)
            return out
        ts = pd.Timestamp(values)
    except (ValueError, TypeError) as err:
        raise ConsentError(f"{what} could not be parsed as timestamps: {err}") from None
    if ts is pd.NaT:
        raise ConsentError(f"{what} is missing (NaT); pass a timestamp or None for now.")
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def _resolve_as_of(as_of) -> pd.Timestamp:
    if as_of is None:
        return pd.Timestamp.now(tz="UTC").tz_localize(None)
    return _to_utc_naive(as_of, "as_of")


def _check_purpose(purpose: str) -> None:
    if purpose not in TCF_PURPOSES:
        raise ConsentError(f"Unknown consent purpose {purpose!r}. Known purposes: {', '.join(TCF_PURPOSES)}.")


def _prepare_consent(consent: pd.DataFrame, key: str) -> pd.DataFrame:
    if not isinstance(consent, pd.DataFrame):
        raise ConsentError(f"consent must be a pandas DataFrame, got {type(consent).__name__}.")
    missing = [c for c in (key, *_CONSENT_COLUMNS) if c not in consent.columns]
    if missing:
        raise ConsentError(
            f"The consent table has no column(s) {', '.join(map(repr, missing))} "
            f"(it has: {', '.join(map(str, consent.columns))}). "
            f"Pass key=<the customer column> if it is named differently (raw tables use 'customer_id')."
        )
    out = consent[[key, *_CONSENT_COLUMNS]].copy()
    out["granted_at"] = _to_utc_naive(out["granted_at"], "consent.granted_at")
    out["withdrawn_at"] = _to_utc_naive(out["withdrawn_at"], "consent.withdrawn_at")
    bad = out["granted_at"].isna()
    if bad.any():
        raise ConsentError(
            f"consent.granted_at is missing in {int(bad.sum())} row(s) (first at index {out.index[bad][0]!r}); "
            "a consent record needs a grant time. Quarantine those rows at staging."
        )
    return out


def consent_valid_at(consent: pd.DataFrame, purpose: str, at, key: str = "customer_key") -> pd.Index:
    """Keys with a consent record for ``purpose`` valid at ``at``.

    Parameters
    ----------
    consent
        Consent records (``key``, ``purpose``, ``granted_at``, ``withdrawn_at``).
    purpose
        One of :data:`TCF_PURPOSES`.
    at
        Timestamp (None = now). Timezone-aware values are converted to naive UTC.
    key
        Customer column.

    Returns
    -------
    pandas.Index
        Unique keys.
    """
    _check_purpose(purpose)
    c = _prepare_consent(consent, key)
    t = _resolve_as_of(at)
    c = c[c["purpose"] == purpose]
    valid = (c["granted_at"] <= t) & (c["withdrawn_at"].isna() | (c["withdrawn_at"] > t))
    return pd.Index(c.loc[valid, key].dropna().unique())


def filter_by_consent(
    df: pd.DataFrame,
    consent: pd.DataFrame,
    purpose: str,
    as_of=None,
    key: str = "customer_key",
    time_col: str | None = None,
) -> ConsentFilterResult:
    """Keep the rows of ``df`` whose customer's consent covers ``purpose``.

    Parameters
    ----------
    df
        Customer-level rows (events, features, experiment outcomes) with a ``key`` column.
    consent
        Consent records with ``key``, ``purpose``, ``granted_at``, ``withdrawn_at``.
    purpose
        One of :data:`TCF_PURPOSES` (``measurement``, ``personalisation``, ``advertising``, ``content``).
    as_of
        The moment of processing (None = now, naive UTC). A customer counts when one of
        their records is valid at ``as_of``: ``granted_at <= as_of`` and ``withdrawn_at``
        null or ``> as_of``.
    key
        Customer column present in both tables (``customer_key`` in staged data,
        ``customer_id`` in raw).
    time_col
        Optional event-time column of ``df``. When given, a row is kept only if consent
        was valid **at the row's own time** and is **still valid at** ``as_of``: data
        collected before the grant or after a withdrawal is excluded, and after a
        withdrawal no earlier row is processed either (withdrawal stops further
        processing, GDPR Art. 7(3)). Rows with a missing event time are excluded.

    Returns
    -------
    ConsentFilterResult
        ``kept`` plus counts of excluded rows and customers. Rows with a null key are excluded.

    Raises
    ------
    ConsentError
        Unknown purpose (the message lists the known ones), a missing ``key`` /
        ``time_col`` / consent column (named), unparseable timestamps, or a consent
        record without ``granted_at``.
    """
    _check_purpose(purpose)
    if not isinstance(df, pd.DataFrame):
        raise ConsentError(f"df must be a pandas DataFrame, got {type(df).__name__}.")
    if key not in df.columns:
        raise ConsentError(
            f"The data has no key column {key!r} (it has: {', '.join(map(str, df.columns))}). "
            "Pass key=<customer column>; staged tables use 'customer_key', raw tables 'customer_id'."
        )
    if time_col is not None and time_col not in df.columns:
        raise ConsentError(
            f"time_col {time_col!r} is not a column of the data (it has: {', '.join(map(str, df.columns))})."
        )
    t = _resolve_as_of(as_of)
    c = _prepare_consent(consent, key)
    c = c[c["purpose"] == purpose]
    current = (c["granted_at"] <= t) & (c["withdrawn_at"].isna() | (c["withdrawn_at"] > t))
    keys_now = pd.Index(c.loc[current, key].dropna().unique())

    keys = df[key]
    keep = keys.isin(keys_now).to_numpy() & keys.notna().to_numpy()
    if time_col is not None and keep.any():
        event_t = _to_utc_naive(df[time_col], f"{time_col}")
        pos = np.flatnonzero(keep)
        events = pd.DataFrame({"_pos": pos, key: keys.to_numpy()[pos], "_t": event_t.to_numpy()[pos]})
        joined = events.merge(c[[key, "granted_at", "withdrawn_at"]], on=key, how="inner")
        ok = (joined["granted_at"] <= joined["_t"]) & (
            joined["withdrawn_at"].isna() | (joined["withdrawn_at"] > joined["_t"])
        )
        ok &= joined["_t"].notna()
        valid_pos = joined.loc[ok, "_pos"].unique()
        keep = np.zeros(len(df), dtype=bool)
        keep[valid_pos] = True

    kept = df[keep]
    dropped_keys = keys[~keep].dropna()
    return ConsentFilterResult(
        kept=kept,
        excluded_rows=int((~keep).sum()),
        excluded_customers=int(dropped_keys.nunique()),
        purpose=purpose,
        as_of=t,
        rows_in=len(df),
        customers_in=int(keys.dropna().nunique()),
        time_col=time_col,
    )


def consent_coverage(
    consent: pd.DataFrame,
    customers: pd.DataFrame,
    as_of=None,
    key: str = "customer_key",
) -> pd.DataFrame:
    """Share of customers with valid consent, per purpose.

    Parameters
    ----------
    consent
        Consent records (see :func:`filter_by_consent`).
    customers
        The customer table (one row per customer; duplicates are counted once).
    as_of
        The moment consent must be valid (None = now).
    key
        Customer column in both tables.

    Returns
    -------
    pandas.DataFrame
        One row per purpose in :data:`TCF_PURPOSES` order with columns ``purpose``,
        ``tcf_purposes`` (e.g. ``"1,7,9"``), ``customers`` (distinct customers),
        ``consented`` (of those, with a valid record) and ``share`` (NaN when there
        are no customers). Consent records of customers absent from ``customers``
        are not counted.
    """
    if not isinstance(customers, pd.DataFrame) or key not in customers.columns:
        cols = ", ".join(map(str, getattr(customers, "columns", [])))
        raise ConsentError(f"The customers table has no key column {key!r} (it has: {cols}). Pass key=...")
    t = _resolve_as_of(as_of)
    c = _prepare_consent(consent, key)
    population = pd.Index(customers[key].dropna().unique())
    valid = (c["granted_at"] <= t) & (c["withdrawn_at"].isna() | (c["withdrawn_at"] > t))
    c = c[valid & c[key].isin(population)]
    per_purpose = c.groupby("purpose")[key].nunique()
    n = len(population)
    rows = []
    for purpose, tcf in TCF_PURPOSES.items():
        consented = int(per_purpose.get(purpose, 0))
        rows.append(
            {
                "purpose": purpose,
                "tcf_purposes": ",".join(map(str, tcf)),
                "customers": n,
                "consented": consented,
                "share": consented / n if n else float("nan"),
            }
        )
    return pd.DataFrame(rows)
