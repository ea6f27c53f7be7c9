"""Consent: keep only rows whose customer consented to the processing purpose.

Each workflow declares one purpose (``measurement`` for MMM, MTA and uplift
reporting, ``personalisation`` for targeting, ...) and reads customer-level
rows through :func:`filter_by_consent`. The result says how many rows and
customers were excluded, so the report can state it; nothing disappears
silently.

Consent records (the ``consent`` table of :mod:`galaxy_lib.core.contracts`,
with ``customer_id`` in raw and ``customer_key`` in staged) carry one row per
customer, purpose and version of a grant period::

    customer_key, purpose, tcf_purposes, granted_at, withdrawn_at

**Grants are periods, read as a timeline.** Every record is a grant at
``granted_at`` and, when ``withdrawn_at`` is set, a withdrawal at that time. For one
customer and purpose, consent holds at time t when the customer's latest grant at
or before t is later than their latest withdrawal at or before t. So an updated
export that repeats a grant with ``withdrawn_at`` set ends it, whichever record is
read first; a grant after the withdrawal starts a new period. Consent given at
10:00 covers 10:00, consent withdrawn at 10:00 no longer does (a withdrawal wins a
tie). For a single record this is the familiar rule: ``granted_at <= t`` and
(``withdrawn_at`` null or ``withdrawn_at > t``).

**Withdrawals known today count for a past as_of.** Processing at ``as_of``
needs consent at ``as_of`` *and* at the later of ``as_of`` and now: a customer who
has withdrawn since ``as_of`` (and not granted again) is excluded from a re-run
of a past period. Pass ``now`` to pin the clock (tests, reproducible re-runs).

**A record must carry the TCF purposes of the purpose it claims.** Its
``tcf_purposes`` (TCF 2.2 purpose ids, ``"1,7,9"``) must include every id of
:data:`TCF_REQUIRED` for its purpose; otherwise it grants nothing (its withdrawal
still counts) and is counted in :attr:`ConsentFilterResult.tcf_mismatched`.
Staging quarantines such records already (rule ``tcf_purposes_mismatch``); this
check keeps a consent table written any other way from granting more than it says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "TCF_DEVICE_STORAGE",
    "TCF_PURPOSES",
    "TCF_PURPOSE_NAMES",
    "TCF_REQUIRED",
    "ConsentError",
    "ConsentFilterResult",
    "consent_coverage",
    "consent_valid_at",
    "filter_by_consent",
    "missing_tcf_purposes",
    "tcf_covers",
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

#: TCF purpose of device storage and access. It governs cookies on a device, not what we do
#: with data we hold, so a record need not carry it (server-side exports often do not).
TCF_DEVICE_STORAGE = 1
#: TCF purposes a consent record's ``tcf_purposes`` must include for it to grant its purpose:
#: every processing purpose of :data:`TCF_PURPOSES` (all but :data:`TCF_DEVICE_STORAGE`).
TCF_REQUIRED: dict[str, tuple[int, ...]] = {
    purpose: tuple(i for i in ids if i != TCF_DEVICE_STORAGE) for purpose, ids in TCF_PURPOSES.items()
}

_CONSENT_COLUMNS = ("purpose", "tcf_purposes", "granted_at", "withdrawn_at")


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
    withdrawals_until
        Withdrawals up to this moment were applied: the later of ``as_of`` and now.
    tcf_mismatched
        Records of ``purpose`` that granted nothing because their ``tcf_purposes``
        lack a TCF purpose of :data:`TCF_REQUIRED`.
    """

    kept: pd.DataFrame
    excluded_rows: int
    excluded_customers: int
    purpose: str
    as_of: pd.Timestamp
    rows_in: int = 0
    customers_in: int = 0
    time_col: str | None = None
    withdrawals_until: pd.Timestamp | None = None
    tcf_mismatched: int = 0

    @property
    def excluded_share(self) -> float:
        """Share of input rows excluded (0 for an empty input)."""
        return self.excluded_rows / self.rows_in if self.rows_in else 0.0

    def summary(self) -> str:
        """One sentence for a report."""
        tcf = (
            f" {self.tcf_mismatched:,} consent record(s) did not count: their TCF purposes do not cover {self.purpose}."
            if self.tcf_mismatched
            else ""
        )
        return (
            f"Consent for {self.purpose} (as of {self.as_of:%Y-%m-%d %H:%M}): kept {len(self.kept):,} of "
            f"{self.rows_in:,} rows; excluded {self.excluded_rows:,} rows from {self.excluded_customers:,} customers."
            + tcf
        )


# --------------------------------------------------------------------------- TCF purposes


def _parse_tcf(text: object) -> frozenset[int] | None:
    """``"1,7,9"`` -> ``{1, 7, 9}``; ``None`` when the value is missing or not a comma-separated id list."""
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return None
    items = [s.strip() for s in str(text).split(",")]
    if not all(s.isdigit() for s in items):
        return None
    return frozenset(int(s) for s in items)


def tcf_covers(purposes: pd.Series, tcf_purposes: pd.Series) -> np.ndarray:
    """Tell, record by record, whether ``tcf_purposes`` carries every TCF purpose the record's purpose needs.

    Parameters
    ----------
    purposes
        Our purpose of each record (``measurement``, ...).
    tcf_purposes
        Its TCF 2.2 purpose ids as text, comma-separated (``"1,7,9"``).

    Returns
    -------
    numpy.ndarray
        Boolean, aligned with the inputs: True when the ids include every id of
        :data:`TCF_REQUIRED` for the purpose. False for an unknown purpose and for a
        missing or unreadable id list.
    """
    if len(purposes) != len(tcf_purposes):
        raise ConsentError(f"tcf_covers: {len(purposes)} purposes for {len(tcf_purposes)} tcf_purposes values.")
    pairs = pd.DataFrame({"p": np.asarray(purposes, dtype=object), "t": np.asarray(tcf_purposes, dtype=object)})
    distinct = pairs.drop_duplicates().copy()  # a handful of distinct (purpose, ids) pairs, however many records
    distinct["ok"] = [
        (ids := _parse_tcf(t)) is not None and p in TCF_REQUIRED and set(TCF_REQUIRED[p]) <= ids
        for p, t in distinct.itertuples(index=False)
    ]
    return pairs.merge(distinct, on=["p", "t"], how="left")["ok"].to_numpy(dtype=bool)


def missing_tcf_purposes(purpose: str, tcf_purposes: object) -> tuple[int, ...]:
    """Return the TCF purposes of :data:`TCF_REQUIRED` for ``purpose`` that ``tcf_purposes`` lacks.

    An unreadable or missing ``tcf_purposes`` lacks all of them.
    """
    ids = _parse_tcf(tcf_purposes) or frozenset()
    return tuple(i for i in TCF_REQUIRED.get(purpose, ()) if i not in ids)


# --------------------------------------------------------------------------- the timeline


def _to_utc_naive(values: pd.Series | pd.Timestamp, what: str):
    """Parse to datetime and express as naive UTC (the store's convention)."""
    try:
        if isinstance(values, pd.Series):
            out = pd.to_datetime(values, errors="raise")
            if getattr(out.dt, "tz", None) is not None:
                out = out.dt.tz_convert("UTC").dt.tz_localize(None)
            return out.astype("datetime64[ns]")
        ts = pd.Timestamp(values)
    except (ValueError, TypeError) as err:
        raise ConsentError(f"{what} could not be parsed as timestamps: {err}") from None
    if ts is pd.NaT:
        raise ConsentError(f"{what} is missing (NaT); pass a timestamp or None for now.")
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def _resolve_as_of(as_of, what: str = "as_of") -> pd.Timestamp:
    if as_of is None:
        return pd.Timestamp.now(tz="UTC").tz_localize(None)
    return _to_utc_naive(as_of, what)


def _check_purpose(purpose: str) -> None:
    if purpose not in TCF_PURPOSES:
        raise ConsentError(f"Unknown consent purpose {purpose!r}. Known purposes: {', '.join(TCF_PURPOSES)}.")


def _prepare_consent(consent: pd.DataFrame, key: str) -> tuple[pd.DataFrame, pd.Index]:
    """Check the records; return them (naive-UTC times, ``_code``) and the customers the codes index."""
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
    out = out[out[key].notna()]
    # customers as integer codes: grouping a million text keys once, not once per question
    codes, keys = pd.factorize(out[key].astype(object))
    out["_code"] = codes
    return out, pd.Index(keys, dtype=object)


_NEVER = np.iinfo(np.int64).min


def _ns(t: pd.Timestamp) -> int:
    return pd.Timestamp(t).as_unit("ns").value


@dataclass(frozen=True)
class _Timeline:
    """Grant and withdrawal events of one purpose, customers as codes into ``keys``, times in ns."""

    keys: pd.Index
    grant_code: np.ndarray
    grant_t: np.ndarray
    withdrawal_code: np.ndarray
    withdrawal_t: np.ndarray
    tcf_mismatched: int

    def _latest(self, codes: np.ndarray, times: np.ndarray, t: pd.Timestamp) -> np.ndarray:
        out = np.full(len(self.keys), _NEVER, dtype=np.int64)
        up_to = times <= _ns(t)
        np.maximum.at(out, codes[up_to], times[up_to])
        return out

    def consenting_at(self, t: pd.Timestamp) -> np.ndarray:
        """Tell per key whether its latest grant up to ``t`` is later than its latest withdrawal up to ``t``."""
        g = self._latest(self.grant_code, self.grant_t, t)
        w = self._latest(self.withdrawal_code, self.withdrawal_t, t)
        return (g != _NEVER) & (g > w)

    def consenting(self, as_of: pd.Timestamp, now: pd.Timestamp) -> np.ndarray:
        """Per key: consenting at ``as_of`` and still at the later of ``as_of`` and ``now``."""
        ok = self.consenting_at(as_of)
        later = max(as_of, now)
        return ok if later == as_of else ok & self.consenting_at(later)

    def codes_of(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Code of each customer value (-1 for a customer without records or a missing value)."""
        return self.keys.get_indexer(pd.Index(np.asarray(values, dtype=object)))

    def consenting_at_each(self, codes: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Per (code, time) pair: did the customer consent at that time? Code -1 or a missing time: False."""
        ev = pd.DataFrame({"_pos": np.arange(len(codes)), "_code": codes, "_t": times})
        ev = ev[(ev["_code"] >= 0) & ev["_t"].notna()]
        out = np.zeros(len(codes), dtype=bool)
        if ev.empty:
            return out
        ev["_t"] = ev["_t"].astype("datetime64[ns]").to_numpy().view(np.int64)
        ev = ev.sort_values("_t", kind="stable")
        asof = {"left_on": "_t", "by": "_code", "direction": "backward", "allow_exact_matches": True}
        grants = pd.DataFrame({"_code": self.grant_code, "_g": self.grant_t}).sort_values("_g", kind="stable")
        ends = pd.DataFrame({"_code": self.withdrawal_code, "_w": self.withdrawal_t}).sort_values("_w", kind="stable")
        ev = pd.merge_asof(ev, grants, right_on="_g", **asof)
        ev = pd.merge_asof(ev, ends, right_on="_w", **asof)
        ok = ev["_g"].notna() & (ev["_w"].isna() | (ev["_g"] > ev["_w"]))
        out[ev.loc[ok, "_pos"].to_numpy()] = True
        return out


def _timeline(consent: pd.DataFrame, keys: pd.Index, purpose: str) -> _Timeline:
    """Grant and withdrawal events of ``purpose`` from the records and keys of :func:`_prepare_consent`.

    A record grants at ``granted_at`` when its ``tcf_purposes`` cover the purpose and
    it is not withdrawn at or before its own grant (such a record is inconsistent:
    its grant is ignored). Every ``withdrawn_at`` of the purpose is a withdrawal,
    whatever its TCF purposes: a withdrawal is never ignored.
    """
    c = consent[consent["purpose"] == purpose]
    covers = tcf_covers(c["purpose"], c["tcf_purposes"])
    granted = c["granted_at"].to_numpy().view(np.int64)
    withdrawn = c["withdrawn_at"].notna().to_numpy()
    ended = c["withdrawn_at"].to_numpy().view(np.int64)  # NaT is the smallest int64: never > granted
    grants = covers & (~withdrawn | (ended > granted))
    codes = c["_code"].to_numpy()
    return _Timeline(
        keys=keys,
        grant_code=codes[grants],
        grant_t=granted[grants],
        withdrawal_code=codes[withdrawn],
        withdrawal_t=ended[withdrawn],
        tcf_mismatched=int((~covers).sum()),
    )


# --------------------------------------------------------------------------- the public functions


def consent_valid_at(consent: pd.DataFrame, purpose: str, at, key: str = "customer_key", now=None) -> pd.Index:
    """Keys whose consent to ``purpose`` holds at ``at`` and has not been withdrawn since.

    Parameters
    ----------
    consent
        Consent records (``key``, ``purpose``, ``tcf_purposes``, ``granted_at``, ``withdrawn_at``).
    purpose
        One of :data:`TCF_PURPOSES`.
    at
        Timestamp (None = now). Timezone-aware values are converted to naive UTC.
    key
        Customer column.
    now
        The present (None = the wall clock). A key counts only if its consent also
        holds at the later of ``at`` and ``now``: a withdrawal recorded since ``at``
        removes it (see the module docstring).

    Returns
    -------
    pandas.Index
        Unique keys.
    """
    _check_purpose(purpose)
    t = _resolve_as_of(at, "at")
    timeline = _timeline(*_prepare_consent(consent, key), purpose)
    return timeline.keys[timeline.consenting(t, _resolve_as_of(now, "now"))]


def filter_by_consent(
    df: pd.DataFrame,
    consent: pd.DataFrame,
    purpose: str,
    as_of=None,
    key: str = "customer_key",
    time_col: str | None = None,
    now=None,
) -> ConsentFilterResult:
    """Keep the rows of ``df`` whose customer's consent covers ``purpose``.

    Parameters
    ----------
    df
        Customer-level rows (events, features, experiment outcomes) with a ``key`` column.
    consent
        Consent records with ``key``, ``purpose``, ``tcf_purposes``, ``granted_at``, ``withdrawn_at``.
    purpose
        One of :data:`TCF_PURPOSES` (``measurement``, ``personalisation``, ``advertising``, ``content``).
    as_of
        The moment of processing (None = now, naive UTC). A customer counts when their
        consent holds at ``as_of`` (their latest grant up to ``as_of`` is later than their
        latest withdrawal up to it) and still holds at the later of ``as_of`` and ``now``,
        so a customer who has withdrawn since a past ``as_of`` is excluded.
    key
        Customer column present in both tables (``customer_key`` in staged data,
        ``customer_id`` in raw).
    time_col
        Optional event-time column of ``df``. When given, a row is kept only if consent
        held **at the row's own time** as well: data collected before the grant or
        after a withdrawal (and before a new grant) is excluded, and after a
        withdrawal no earlier row is processed either (withdrawal stops further
        processing, GDPR Art. 7(3)). Rows with a missing event time are excluded.
    now
        The present (None = the wall clock); pin it for reproducible results.

    Returns
    -------
    ConsentFilterResult
        ``kept`` plus counts of excluded rows and customers. Rows with a null key are
        excluded. Records whose TCF purposes do not cover ``purpose`` grant nothing and
        are counted in ``tcf_mismatched``.

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
    later = max(t, _resolve_as_of(now, "now"))
    timeline = _timeline(*_prepare_consent(consent, key), purpose)
    consenting = timeline.consenting(t, later)

    keys = df[key]
    codes = timeline.codes_of(keys)
    keep = (codes >= 0) & consenting[np.maximum(codes, 0)] if len(consenting) else np.zeros(len(df), dtype=bool)
    if time_col is not None and keep.any():
        event_t = _to_utc_naive(df[time_col], f"{time_col}")
        pos = np.flatnonzero(keep)
        at_event = timeline.consenting_at_each(codes[pos], event_t.to_numpy()[pos])
        keep = np.zeros(len(df), dtype=bool)
        keep[pos[at_event]] = True

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
        withdrawals_until=later,
        tcf_mismatched=timeline.tcf_mismatched,
    )


def consent_coverage(
    consent: pd.DataFrame,
    customers: pd.DataFrame,
    as_of=None,
    key: str = "customer_key",
    now=None,
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
    now
        The present (None = the wall clock): withdrawals up to the later of
        ``as_of`` and ``now`` count, as in :func:`filter_by_consent`.

    Returns
    -------
    pandas.DataFrame
        One row per purpose in :data:`TCF_PURPOSES` order with columns ``purpose``,
        ``tcf_purposes`` (e.g. ``"1,7,9"``), ``customers`` (distinct customers),
        ``consented`` (of those, with valid consent) and ``share`` (NaN when there
        are no customers). Consent records of customers absent from ``customers``
        are not counted.
    """
    if not isinstance(customers, pd.DataFrame) or key not in customers.columns:
        cols = ", ".join(map(str, getattr(customers, "columns", [])))
        raise ConsentError(f"The customers table has no key column {key!r} (it has: {cols}). Pass key=...")
    t = _resolve_as_of(as_of)
    later = _resolve_as_of(now, "now")
    c, keys = _prepare_consent(consent, key)
    population = pd.Index(customers[key].dropna().unique())
    n = len(population)
    codes = keys.get_indexer(population.astype(object))
    codes = codes[codes >= 0]  # customers with a consent record
    rows = []
    for purpose, tcf in TCF_PURPOSES.items():
        consented = int(_timeline(c, keys, purpose).consenting(t, later)[codes].sum())
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
