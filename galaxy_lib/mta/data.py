"""Load and validate the inputs of multi-touch attribution.

Two ways in, one validated result (:class:`PathTable`):

* :func:`build_journeys` turns the staged ``touchpoints`` and ``conversions`` of a
  :class:`~galaxy_lib.core.store.DataStore` into customer journeys with DuckDB:
  per customer, the touches ordered in time within a lookback window, ending in a
  conversion or not. Only customers whose consent covers ``measurement`` are used
  and the result says how many were excluded. Conversions with no touch before
  them go to quarantine with the reason.
* :func:`read_path_table` / :func:`parse_path_table` accept an aggregated path
  table in ChannelAttribution's format (``path``, ``total_conversions``,
  ``total_conversion_value``, ``total_null``) with any path separator.

Paths are parsed once into integer channel codes (``codes`` + ``offsets``, the
CSR layout of a ragged array) so every model works on NumPy arrays, and memory
grows with the number of unique paths, not with the number of journeys.

Bad rows (empty paths or channels, unknown channels, negative or missing counts,
zero journeys) go to :attr:`PathTable.quarantine` with ``_rule`` and ``_reason``;
problems with the whole table (a missing column, a wrong separator) raise
:class:`PathTableError` with a message that says what to change.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pydantic import Field

from galaxy_lib.core.config import GalaxyConfig
from galaxy_lib.core.contracts import ContractError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from galaxy_lib.core.store import DataStore

__all__ = [
    "MtaParams",
    "MtaInputs",
    "load_inputs",
    "IncrementalEstimate",
    "incremental_from_lift_tests",
    "read_incremental",
    "incremental_from_mmm_run",
    "latest_mmm_run",
    "LATEST_MMM_RUN",
    "PATH_COLUMNS",
    "DEFAULT_SEPARATOR",
    "PathTableError",
    "PathTable",
    "JourneyData",
    "parse_path_table",
    "read_path_table",
    "build_journeys",
]

#: Column names of an aggregated path table (ChannelAttribution's names).
PATH_COLUMNS: tuple[str, ...] = ("path", "total_conversions", "total_conversion_value", "total_null")
#: Separator of the path tables this package writes.
DEFAULT_SEPARATOR = " > "
#: Separators people use between channels; used to recognise a wrong ``separator``.
_CANDIDATE_SEPARATORS: tuple[str, ...] = (">", "→", "|", ",", ";", "/", "\t")
_NUMERIC = ("total_conversions", "total_conversion_value", "total_null")
_LAG_COLUMN = "lag_days"


class PathTableError(ContractError):
    """The path table cannot be used at all (missing column, wrong separator, nothing valid left)."""


@dataclass(frozen=True, eq=False)
class PathTable:
    """A validated, aggregated path table, parsed into integer channel codes.

    Attributes
    ----------
    table
        The valid rows: ``path``, ``total_conversions``, ``total_conversion_value``,
        ``total_null`` (and ``lag_days`` when built from events), index reset.
    channels
        Channel names; ``codes`` index into this tuple.
    codes
        Channel code of every touch, paths concatenated (int32).
    offsets
        Path ``i`` is ``codes[offsets[i]:offsets[i + 1]]`` (int64, length ``n_paths + 1``).
    conversions, value, nulls
        Per-path totals (float64): converting journeys, their revenue, non-converting journeys.
    lags
        Per touch, days from the touch to the end of its journey (float64), or ``None`` when
        the table carries no timing (then time decay counts touches instead of days).
    separator
        The separator the ``path`` strings use.
    quarantine
        Rejected rows with the original columns plus ``_rule``, ``_reason``, ``_source``, ``_row``.
    source
        Where the table came from (file name or ``"events"``), quoted in messages.
    """

    table: pd.DataFrame
    channels: tuple[str, ...]
    codes: np.ndarray
    offsets: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray
    lags: np.ndarray | None
    separator: str
    quarantine: pd.DataFrame
    source: str = "paths"

    @property
    def n_paths(self) -> int:
        """Number of (unique) paths."""
        return int(self.offsets.size - 1)

    @property
    def lengths(self) -> np.ndarray:
        """Touches per path."""
        return np.diff(self.offsets)

    @property
    def journeys(self) -> np.ndarray:
        """Journeys per path (conversions + nulls)."""
        return self.conversions + self.nulls

    @property
    def total_conversions(self) -> float:
        return float(self.conversions.sum())

    @property
    def total_value(self) -> float:
        return float(self.value.sum())

    @property
    def total_journeys(self) -> float:
        return float(self.journeys.sum())

    def summary(self) -> dict[str, Any]:
        """Counts for reports: paths, journeys, conversions, revenue, channels, quarantined rows."""
        return {
            "source": self.source,
            "paths": self.n_paths,
            "journeys": self.total_journeys,
            "conversions": self.total_conversions,
            "revenue": self.total_value,
            "channels": len(self.channels),
            "mean_touches_per_path": float(self.lengths.mean()) if self.n_paths else 0.0,
            "quarantined_rows": int(len(self.quarantine)),
        }

    def aggregate(self) -> PathTable:
        """Merge rows with the same channel sequence (drops ``lag_days``).

        Tables built from events carry one row per (path, timing) so time decay can use
        days; the position- and sequence-based models only need unique paths. Used by
        :func:`~galaxy_lib.mta.model.markov_attribution` and Shapley internally.
        """
        if self.lags is None:
            return self
        return self._aggregated

    @cached_property
    def _aggregated(self) -> PathTable:
        grouped = self.table.groupby("path", sort=True, observed=True)[list(_NUMERIC)].sum().reset_index()
        return parse_path_table(grouped, separator=self.separator, channels=self.channels, source=self.source)


@dataclass(frozen=True, eq=False)
class JourneyData:
    """Journeys built from events, with what was excluded and why.

    Attributes
    ----------
    paths
        The aggregated :class:`PathTable` (one row per channel sequence and timing profile).
    journeys
        Number of journeys (converting + non-converting).
    conversions
        Conversions attached to a journey.
    excluded_customers, excluded_touchpoints, excluded_conversions
        Removed because the customer's consent does not cover ``purpose``.
    null_journeys
        Non-converting journeys (lookback-sized windows of touches that led to no conversion).
    quarantine
        Conversions that could not be attributed, with ``_rule`` and ``_reason``
        (``conversion_before_first_touch``, ``no_touch_in_lookback``, ``unknown_channel``).
    lookback_days, purpose
        The settings used.
    """

    paths: PathTable
    journeys: int
    conversions: int
    excluded_customers: int
    excluded_touchpoints: int
    excluded_conversions: int
    null_journeys: int
    quarantine: pd.DataFrame
    lookback_days: float
    purpose: str = "measurement"

    def summary(self) -> dict[str, Any]:
        """Counts for the report."""
        return {
            "journeys": self.journeys,
            "conversions": self.conversions,
            "unique_paths": self.paths.aggregate().n_paths,
            "consent_excluded_customers": self.excluded_customers,
            "consent_excluded_touchpoints": self.excluded_touchpoints,
            "consent_excluded_conversions": self.excluded_conversions,
            "null_journeys": self.null_journeys,
            "quarantined_conversions": int(len(self.quarantine)),
            "lookback_days": self.lookback_days,
        }


# -- parsing ---------------------------------------------------------------------------
def _split_separator(separator: str) -> str:
    """The pattern to split on: the separator without surrounding whitespace (or one space)."""
    if not isinstance(separator, str) or separator == "":
        raise PathTableError("separator must be a non-empty string such as ' > ' or '>' or '|'.")
    core = separator.strip()
    return core if core else " "  # whitespace separated paths: "search social email"


_PARSE_ROWS = 1 << 15  # paths split per slice (bounds the temporary token strings)


def _tokenise(paths: np.ndarray, separator: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Split path strings into channel codes: (int32 codes into ``vocab``, ``vocab``, CSR offsets).

    Null paths get zero tokens. Paths are split in slices so the temporary token strings
    stay small, and tokens are whitespace-trimmed through each slice's (small) dictionary
    rather than token by token, which keeps parsing at pyarrow speed.
    """
    pattern = _split_separator(separator)
    vocab: dict[str, int] = {}
    code_parts: list[np.ndarray] = []
    len_parts: list[np.ndarray] = []
    for start in range(0, max(len(paths), 1), _PARSE_ROWS):
        part = pa.array(paths[start : start + _PARSE_ROWS], from_pandas=True, type=pa.large_string())
        if pattern == " ":
            lists = pc.split_pattern_regex(pc.utf8_trim_whitespace(part), r"\s+")
        else:
            lists = pc.split_pattern(part, pattern)
        offs = np.asarray(lists.offsets, dtype=np.int64)
        len_parts.append(np.diff(offs))
        encoded = pc.dictionary_encode(pc.list_flatten(lists))
        del lists
        local = [str(v).strip() for v in encoded.dictionary.to_pylist()]
        remap = np.array([vocab.setdefault(v, len(vocab)) for v in local], dtype=np.int32)
        idx = np.asarray(encoded.indices)
        code_parts.append(remap[idx] if idx.size else np.zeros(0, dtype=np.int32))
    lengths = np.concatenate(len_parts) if len_parts else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    codes = np.concatenate(code_parts) if code_parts else np.zeros(0, dtype=np.int32)
    return codes, list(vocab), offsets


def _looks_joined(token: str, separator: str) -> str | None:
    """Return the separator ``token`` seems to be joined with, if it is not ours."""
    ours = separator.strip() or " "
    for cand in _CANDIDATE_SEPARATORS:
        if cand != ours and cand in token:
            parts = [p.strip() for p in token.split(cand)]
            if len(parts) > 1 and all(parts):
                return cand
    return None


def _coerce_numeric(df: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Numeric columns as float arrays; rows that do not parse (or are NaN / inf) are flagged."""
    out: dict[str, np.ndarray] = {}
    bad = np.zeros(len(df), dtype=bool)
    for col in _NUMERIC:
        raw = df[col]
        if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
            vals = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        out[col] = vals
        bad |= ~np.isfinite(vals)
    return out, bad


def parse_path_table(
    df: pd.DataFrame,
    separator: str = DEFAULT_SEPARATOR,
    channels: Sequence[str] | None = None,
    mapping: Mapping[str, str] | None = None,
    source: str = "paths",
) -> PathTable:
    """Validate an aggregated path table and parse it into channel codes.

    Parameters
    ----------
    df
        One row per path with ``path`` and ``total_conversions``; ``total_conversion_value``
        and ``total_null`` are optional (taken as 0 when absent: without nulls the Markov
        model only sees converting journeys, as in ChannelAttribution). An optional
        ``lag_days`` column holds, per touch and with the same separator, the days from the
        touch to the end of its journey (used by time decay).
    separator
        Separator between channels in ``path``. Whitespace around it is ignored, so
        ``" > "`` also reads ``"a>b"``.
    channels
        Allowed channel names. When given, a row with any other channel goes to quarantine.
    mapping
        Your column name -> our column name, e.g. ``{"journey": "path", "conv": "total_conversions"}``.
    source
        Name of the input, quoted in errors and in the quarantine.

    Returns
    -------
    PathTable
        Valid rows parsed into codes, plus the quarantine of rejected rows.

    Raises
    ------
    PathTableError
        A required column is missing, the separator is evidently wrong, or no valid row is left.

    Notes
    -----
    The rules are checked with NumPy over the parsed token arrays rather than with a pandera
    schema: most of them concern the tokens inside the ``path`` string (empty or unknown
    channels, separators), and the models' speed target (faster than ChannelAttribution on
    millions of paths) leaves no room for row-wise checks.
    """
    if not isinstance(df, pd.DataFrame):
        raise PathTableError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}.")
    if mapping:
        unknown = [k for k in mapping if k not in df.columns]
        if unknown:
            raise PathTableError(
                f"{source}: mapping names columns {unknown} that are not in the table; columns are {list(df.columns)}."
            )
        df = df.rename(columns=dict(mapping))
    for col in ("path", "total_conversions"):
        if col not in df.columns:
            raise PathTableError(
                f"{source}: required column {col!r} is missing (columns: {list(df.columns)}). "
                f"Rename it or pass mapping={{'<your column>': {col!r}}}."
            )
    df = df.reset_index(drop=True)
    n = len(df)
    extra: dict[str, Any] = {}
    for col in ("total_conversion_value", "total_null"):
        if col not in df.columns:
            extra[col] = 0.0
    if extra:
        df = df.assign(**extra)

    nums, bad_num = _coerce_numeric(df)
    conv, val, nul = nums["total_conversions"], nums["total_conversion_value"], nums["total_null"]

    raw_paths = df["path"]
    if raw_paths.dtype != object:
        raw_paths = raw_paths.astype(object).where(raw_paths.notna(), None)
    indices, vocab, offsets = _tokenise(raw_paths.to_numpy(), separator)
    lengths = np.diff(offsets)
    _rows: list[np.ndarray] = []

    def token_rows() -> np.ndarray:
        """Row of every token (built only when a row-level token check needs it)."""
        if not _rows:
            _rows.append(np.repeat(np.arange(n, dtype=np.int32 if n < 2**31 - 1 else np.int64), lengths))
        return _rows[0]

    # rule codes per row (0 = valid); the first rule that fires wins
    rule_names: list[str] = [""]
    rule_reasons: list[str] = [""]
    rule_of = np.zeros(n, dtype=np.int32)
    row_reason = np.full(n, None, dtype=object)

    def flag(mask: np.ndarray, rule: str, reason: str | np.ndarray) -> None:
        new = mask & (rule_of == 0)
        if not new.any():
            return
        rule_names.append(rule)
        rule_reasons.append(reason if isinstance(reason, str) else "")
        rule_of[new] = len(rule_names) - 1
        if not isinstance(reason, str):
            row_reason[new] = reason[new]

    # empty paths and empty channels ("a >  > b", trailing separators)
    empty_vocab = np.array([v == "" for v in vocab], dtype=bool)
    empty_path = lengths == 0
    if empty_vocab.any():
        empty_tok = empty_vocab[indices]
        n_empty = np.bincount(token_rows()[empty_tok], minlength=n)
        empty_path |= n_empty == lengths
        flag(empty_path, "empty_path", "path is empty: a journey needs at least one channel")
        flag(
            n_empty > 0,
            "empty_channel",
            f"path has an empty channel between separators {separator!r} (doubled or trailing separator)",
        )
    else:
        flag(empty_path, "empty_path", "path is empty: a journey needs at least one channel")

    # wrong separator: every path a single token, and the tokens are joined by another separator
    joined = {v: _looks_joined(v, separator) for v in vocab if v}
    valid_rows = ~empty_path
    if valid_rows.any() and (lengths[valid_rows] <= 1).all():
        cands = [c for c in joined.values() if c]
        if cands and len(cands) >= max(1, int(0.2 * len(vocab))):
            best = max(set(cands), key=cands.count)
            example = next(v for v, c in joined.items() if c == best)
            raise PathTableError(
                f"{source}: every path is a single channel with separator {separator!r}, but channel names "
                f"such as {example!r} contain {best!r}. The paths look separated by {best!r}: "
                f"pass separator={best!r} (or ' {best} ')."
            )

    known: set[str] | None = None
    if channels is not None:
        known = {str(c) for c in channels}
        unknown_vocab = np.array([(v != "" and v not in known) for v in vocab], dtype=bool)
        if unknown_vocab.any():
            bad_tok = unknown_vocab[indices]
            rows_unknown = np.zeros(n, dtype=bool)
            rows_unknown[token_rows()[bad_tok]] = True
            # the first unknown channel of each row, for the reason
            first_bad = np.full(n, -1, dtype=np.int64)
            pos = np.flatnonzero(bad_tok)
            rows = token_rows()[pos]
            first_idx = np.unique(rows, return_index=True)[1]
            first_bad[rows[first_idx]] = indices[pos[first_idx]]
            msg = np.full(n, "", dtype=object)
            for code in np.unique(first_bad[first_bad >= 0]):
                name = vocab[code]
                hint = joined.get(name)
                text = f"unknown channel {name!r}; allowed: {sorted(known)}"
                if hint:
                    text += f" (it looks like channels joined by {hint!r}: is the separator {hint!r}?)"
                msg[first_bad == code] = text
            if rows_unknown.sum() > 0.5 * max(valid_rows.sum(), 1):
                hints = {joined.get(vocab[c]) for c in np.unique(first_bad[first_bad >= 0])} - {None}
                if hints:
                    h = sorted(hints)[0]
                    raise PathTableError(
                        f"{source}: most paths contain unknown channels that look like channels joined by {h!r} "
                        f"(separator given: {separator!r}). Pass separator={h!r}."
                    )
            flag(rows_unknown, "unknown_channel", msg)

    flag(bad_num, "not_a_number", "total_conversions / total_conversion_value / total_null must be numbers")
    flag(conv < 0, "negative_conversions", "total_conversions is negative")
    flag(nul < 0, "negative_null", "total_null is negative")
    flag(val < 0, "negative_value", "total_conversion_value is negative")
    flag((val > 0) & (conv == 0), "value_without_conversion", "total_conversion_value > 0 but total_conversions = 0")
    flag((conv + nul) == 0, "no_journeys", "total_conversions + total_null = 0: the path was never travelled")

    lag_num: np.ndarray | None = None
    lag_len: np.ndarray | None = None
    if _LAG_COLUMN in df.columns:
        lag_col = df[_LAG_COLUMN]
        lag_obj = lag_col.astype(object).where(lag_col.notna(), None).to_numpy()
        lag_codes, lag_vocab, lag_off = _tokenise(np.array([None if v is None else str(v) for v in lag_obj],
                                                           dtype=object), separator)
        lag_num = pd.to_numeric(pd.Series(lag_vocab, dtype=object), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )[lag_codes] if lag_vocab else np.zeros(0)
        lag_len = np.diff(lag_off)
        flag(lag_len != lengths, "lag_mismatch", "lag_days must hold one number per channel of the path")
        if lag_num.size:
            lag_row = np.repeat(np.arange(n), lag_len)
            bad_lag = np.zeros(n, dtype=bool)
            bad_lag[lag_row[~np.isfinite(lag_num) | (lag_num < 0)]] = True
            flag(bad_lag, "bad_lag", "lag_days must be non-negative numbers")

    bad = rule_of > 0
    if bad.any():
        quarantine = df.loc[bad].copy()
        names = np.asarray(rule_names, dtype=object)
        texts = np.asarray(rule_reasons, dtype=object)
        per_row = row_reason[bad]
        quarantine["_rule"] = names[rule_of[bad]]
        quarantine["_reason"] = np.where(pd.isna(per_row), texts[rule_of[bad]], per_row)
        quarantine["_source"] = source
        quarantine["_row"] = np.flatnonzero(bad)
    else:
        quarantine = df.iloc[:0].assign(_rule=pd.Series(dtype=str), _reason=pd.Series(dtype=str),
                                        _source=pd.Series(dtype=str), _row=pd.Series(dtype=np.int64))
    keep = ~bad
    if not keep.any():
        top = pd.Series(np.asarray(rule_names, dtype=object)[rule_of]).value_counts().head(3).to_dict()
        raise PathTableError(f"{source}: no valid path left ({n} rows, rejected by rule: {top}).")

    # re-code the kept tokens against a sorted channel list
    all_kept = bool(keep.all())
    keep_tok = None if all_kept else np.repeat(keep, lengths)
    kept_indices = indices if all_kept else indices[keep_tok]
    used = np.flatnonzero(np.bincount(kept_indices, minlength=len(vocab)))
    names = [vocab[i] for i in used]
    order = np.argsort(names, kind="stable")
    channel_tuple = tuple(names[i] for i in order)
    remap = np.full(len(vocab), -1, dtype=np.int32)
    remap[used[order]] = np.arange(len(used), dtype=np.int32)
    codes = remap[kept_indices]
    new_lengths = lengths[keep]
    new_offsets = np.zeros(new_lengths.size + 1, dtype=np.int64)
    np.cumsum(new_lengths, out=new_offsets[1:])

    columns = {
        "path": df["path"].to_numpy()[keep],
        "total_conversions": conv[keep],
        "total_conversion_value": val[keep],
        "total_null": nul[keep],
    }
    if _LAG_COLUMN in df.columns:
        columns[_LAG_COLUMN] = df[_LAG_COLUMN].to_numpy()[keep]
    table = pd.DataFrame(columns)
    lags = None
    if lag_num is not None and lag_len is not None:
        lags = np.ascontiguousarray(lag_num[np.repeat(keep, lag_len)])
    return PathTable(
        table=table,
        channels=channel_tuple,
        codes=np.ascontiguousarray(codes),
        offsets=new_offsets,
        conversions=np.ascontiguousarray(conv[keep]),
        value=np.ascontiguousarray(val[keep]),
        nulls=np.ascontiguousarray(nul[keep]),
        lags=lags,
        separator=separator,
        quarantine=quarantine.reset_index(drop=True),
        source=source,
    )


def read_path_table(
    path: str | Path,
    separator: str = DEFAULT_SEPARATOR,
    channels: Sequence[str] | None = None,
    mapping: Mapping[str, str] | None = None,
    delimiter: str | None = None,
) -> PathTable:
    """Read a ChannelAttribution-format path table from CSV or Parquet and validate it.

    Parameters
    ----------
    path
        ``.csv`` / ``.txt`` (field delimiter detected among ``;``, ``,``, tab, ``|`` unless
        ``delimiter`` is given) or ``.parquet``.
    separator
        Separator between channels inside the ``path`` column (ChannelAttribution's ``sep``).
    channels, mapping
        See :func:`parse_path_table`.
    delimiter
        CSV field delimiter; ``None`` detects it from the header line.
    """
    p = Path(path)
    if not p.is_file():
        raise PathTableError(f"Path table {p} does not exist.")
    if p.suffix.lower() == ".parquet":
        df = pd.read_parquet(p)
    else:
        if delimiter is None:
            with p.open(encoding="utf-8") as fh:
                header = fh.readline()
            counts = {d: header.count(d) for d in (";", ",", "\t", "|")}
            delimiter = max(counts, key=counts.get) if max(counts.values()) > 0 else ","
        df = pd.read_csv(p, sep=delimiter, dtype={"path": str}, keep_default_na=False, na_values=[""])
        if "path" in df.columns:
            df["path"] = df["path"].fillna("")
    return parse_path_table(df, separator=separator, channels=channels, mapping=mapping, source=p.name)


# -- journeys from events -----------------------------------------------------------------
# Every touch is assigned to exactly one journey. A touch belongs to the journey of the
# customer's next conversion (ASOF join: the first conversion at or after the touch) when
# it falls within the lookback window before it; every other touch is "non-converting"
# and is grouped per customer into consecutive lookback-sized windows, each window one
# non-converting journey (the first window starts at the customer's first such touch).
_ASSIGN_SQL = """
CREATE OR REPLACE TEMP TABLE assigned AS
WITH nxt AS (
    SELECT t.customer_key, t.event_id, t.ts, t.channel, c.conversion_id, c.conv_ts, c.revenue
    FROM touch_in t ASOF LEFT JOIN conv_in c
      ON t.customer_key = c.customer_key AND t.ts <= c.conv_ts
),
flagged AS (
    SELECT *, (conversion_id IS NOT NULL AND epoch_us(conv_ts) - epoch_us(ts) < $lookback_us) AS converting
    FROM nxt
),
nulls AS (
    SELECT *, MIN(ts) OVER (PARTITION BY customer_key) AS t0 FROM flagged WHERE NOT converting
)
SELECT customer_key, event_id, ts, channel, conversion_id AS journey_id, conv_ts AS end_ts, revenue, 1 AS converted
FROM flagged WHERE converting
UNION ALL
SELECT customer_key, event_id, ts, channel,
       'null:' || customer_key || ':' || CAST((epoch_us(ts) - epoch_us(t0)) // $lookback_us AS VARCHAR) AS journey_id,
       NULL AS end_ts, 0.0 AS revenue, 0 AS converted
FROM nulls
"""

_PATHS_SQL = """
WITH ends AS (
    SELECT journey_id, COALESCE(MAX(end_ts), MAX(ts)) AS jend FROM assigned GROUP BY journey_id
),
touches AS (
    SELECT a.journey_id, a.converted, a.revenue, a.channel, a.ts, a.event_id,
           CAST(floor((epoch(e.jend) - epoch(a.ts)) / 86400.0) AS BIGINT) AS lag_d
    FROM assigned a JOIN ends e USING (journey_id)
),
journeys AS (
    SELECT journey_id, ANY_VALUE(converted) AS converted, ANY_VALUE(revenue) AS revenue,
           string_agg(channel, $sep ORDER BY ts, event_id) AS path,
           string_agg(CAST(lag_d AS VARCHAR), $sep ORDER BY ts, event_id) AS lag_days
    FROM touches GROUP BY journey_id
)
SELECT path, lag_days,
       SUM(converted)::DOUBLE AS total_conversions,
       SUM(revenue)::DOUBLE AS total_conversion_value,
       SUM(1 - converted)::DOUBLE AS total_null
FROM journeys
GROUP BY path, lag_days
ORDER BY path, lag_days
"""

_ORPHAN_SQL = """
WITH first_touch AS (SELECT customer_key, MIN(ts) AS first_ts FROM touch_in GROUP BY customer_key),
attached AS (SELECT DISTINCT journey_id FROM assigned WHERE converted = 1)
SELECT c.conversion_id, c.customer_key, c.conv_ts AS ts, c.revenue, f.first_ts
FROM conv_in c LEFT JOIN first_touch f ON f.customer_key = c.customer_key
WHERE c.conversion_id NOT IN (SELECT journey_id FROM attached)
ORDER BY c.conv_ts, c.conversion_id
"""


def _consent_filter(df: pd.DataFrame, consent: pd.DataFrame, purpose: str, as_of: Any) -> tuple[pd.DataFrame, int, int]:
    from galaxy_lib.governance.consent import filter_by_consent

    res = filter_by_consent(df, consent, purpose, as_of=as_of, key="customer_key", time_col="ts")
    return res.kept, int(res.excluded_rows), int(res.excluded_customers)


def build_journeys(
    store: DataStore,
    lookback_days: float = 30.0,
    purpose: str = "measurement",
    as_of: dt.datetime | str | None = None,
    channels: Sequence[str] | None = None,
    separator: str = DEFAULT_SEPARATOR,
) -> JourneyData:
    """Build customer journeys from the staged touchpoints and conversions.

    Every touch belongs to exactly one journey. A converting journey is the customer's
    touches in the ``lookback_days`` before a conversion and after the customer's
    previous conversion, in time order (ties by ``event_id``). Every other touch did not
    lead to a conversion within the window: a customer's such touches are cut into
    consecutive ``lookback_days`` windows (from their first one), each window a
    non-converting journey. Journeys are aggregated by channel sequence and timing
    profile (whole days from each touch to the journey end: the conversion, or the
    window's last touch) with DuckDB, so the result grows with unique paths. Consent is
    checked at each event's own time and at ``as_of`` (see
    :func:`galaxy_lib.governance.consent.filter_by_consent`).

    Parameters
    ----------
    store
        A staged :class:`~galaxy_lib.core.store.DataStore` (tables keyed by ``customer_key``).
    lookback_days
        Attribution window: touches older than this before the journey end are not part of it.
    purpose
        Consent purpose that must cover a customer for their events to be used.
    as_of
        Date at which consent is evaluated (default: now).
    channels
        Allowed channels (default: every channel seen); others go to quarantine.
    separator
        Separator written between channels in the ``path`` column.

    Returns
    -------
    JourneyData
        The path table, the consent exclusions and the quarantined conversions.
    """
    import duckdb

    if not lookback_days or lookback_days <= 0:
        raise ValueError(f"lookback_days must be > 0 (got {lookback_days!r}).")
    for table in ("touchpoints", "conversions", "consent"):
        if not store.exists("staged", table):
            raise FileNotFoundError(
                f"staged.{table} is missing under {store.root}: build and stage the world first "
                "(galaxy_lib.pipeline.staging.ensure_world) or ingest your own events."
            )
    touch = store.read("staged", "touchpoints", columns=["event_id", "customer_key", "ts", "channel"])
    conv = store.read("staged", "conversions", columns=["conversion_id", "customer_key", "ts", "revenue"])
    consent = store.read("staged", "consent")

    touch_kept, ex_touch_rows, ex_touch_cust = _consent_filter(touch, consent, purpose, as_of)
    conv_kept, ex_conv_rows, ex_conv_cust = _consent_filter(conv, consent, purpose, as_of)
    excluded_customers = len(
        (set(touch["customer_key"]) | set(conv["customer_key"]))
        - (set(touch_kept["customer_key"]) | set(conv_kept["customer_key"]))
    )

    quarantine_parts: list[pd.DataFrame] = []
    if channels is not None:
        allowed = {str(c) for c in channels}
        bad_ch = ~touch_kept["channel"].isin(allowed)
        if bad_ch.any():
            q = touch_kept.loc[bad_ch].copy()
            q["_rule"] = "unknown_channel"
            q["_reason"] = "touchpoint channel " + q["channel"].astype(str) + f" is not one of {sorted(allowed)}"
            quarantine_parts.append(q)
            touch_kept = touch_kept.loc[~bad_ch]

    lookback_us = int(round(float(lookback_days) * 86400e6))
    conv_in = conv_kept.rename(columns={"ts": "conv_ts"})[["customer_key", "conversion_id", "conv_ts", "revenue"]]
    touch_in = touch_kept[["customer_key", "event_id", "ts", "channel"]]
    con = duckdb.connect()
    try:
        con.register("touch_in", touch_in)
        con.register("conv_in", conv_in)
        con.execute(_ASSIGN_SQL.replace("$lookback_us", str(lookback_us)))
        agg = con.execute(_PATHS_SQL, {"sep": separator}).df()
        orphans = con.execute(_ORPHAN_SQL).df()
        n_null = int(con.execute("SELECT COUNT(DISTINCT journey_id) FROM assigned WHERE converted = 0").fetchone()[0])
    finally:
        con.close()

    if len(orphans):
        before = orphans["first_ts"].isna() | (orphans["first_ts"] > orphans["ts"])
        orphans["_rule"] = np.where(before, "conversion_before_first_touch", "no_touch_in_lookback")
        orphans["_reason"] = np.where(
            before,
            "conversion happened before the customer's first touchpoint (or the customer has none)",
            f"no touchpoint in the {lookback_days:g} days before the conversion (after any previous conversion)",
        )
        quarantine_parts.append(orphans.drop(columns=["first_ts"]))
    quarantine = pd.concat(quarantine_parts, ignore_index=True) if quarantine_parts else pd.DataFrame(
        columns=["_rule", "_reason"]
    )
    if len(quarantine):
        quarantine["_source"] = "events"

    if agg.empty:
        raise PathTableError(
            f"No journeys could be built from {store.root}: {len(touch_kept)} consented touchpoints, "
            f"{len(conv_kept)} consented conversions. Check consent coverage and lookback_days."
        )
    paths = parse_path_table(agg, separator=separator, channels=channels, source="events")
    n_conv = int(paths.conversions.sum())
    return JourneyData(
        paths=paths,
        journeys=int(round(paths.total_journeys)),
        conversions=n_conv,
        excluded_customers=int(excluded_customers),
        excluded_touchpoints=int(ex_touch_rows),
        excluded_conversions=int(ex_conv_rows),
        null_journeys=n_null,
        quarantine=quarantine,
        lookback_days=float(lookback_days),
        purpose=purpose,
    )


# -- incremental estimates (calibration targets) -------------------------------------------------
@dataclass(frozen=True, eq=False)
class IncrementalEstimate:
    """Incremental effect per channel from an experiment or a model.

    Attributes
    ----------
    table
        Indexed by channel: ``incremental`` (total effect over the period), ``std_error``
        (NaN when unknown) and, for lift tests, ``iroas``, ``n_tests``, ``spend``.
    unit
        ``"revenue"`` or ``"conversions"``.
    source
        Where it came from, for the report.
    """

    table: pd.DataFrame
    unit: str
    source: str

    def shares(self) -> pd.Series:
        """Share of the total incremental effect per channel."""
        inc = self.table["incremental"]
        return inc / inc.sum()


def incremental_from_lift_tests(lift_tests: pd.DataFrame, spend: pd.DataFrame) -> IncrementalEstimate:
    """Incremental revenue per channel from geo lift tests, scaled by the channel's spend.

    Each test measures ``delta_y`` (incremental revenue per test week) for a spend change
    ``delta_x`` (per week): its incremental return on ad spend is ``delta_y / delta_x``
    with standard error ``sigma / |delta_x|``. Per channel the tests are pooled with
    inverse-variance weights and the channel's incremental revenue is estimated as
    ``iROAS x total spend`` of the channel in ``spend``. This is linear: under saturation
    a test's return is marginal, not average, so treat the result as a calibration
    target for shares (``mode="relative"``), not as an exact total. Ratios of revenue to
    spend are the same in geo and national units, so geo tests need no rescaling.

    Parameters
    ----------
    lift_tests
        ``channel``, ``delta_x``, ``delta_y``, ``sigma`` (the ``lift_tests`` contract).
    spend
        ``channel``, ``spend`` (the ``spend`` contract, any granularity).
    """
    for name, df, cols in (
        ("lift_tests", lift_tests, ("channel", "delta_x", "delta_y", "sigma")),
        ("spend", spend, ("channel", "spend")),
    ):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise PathTableError(f"{name} lacks columns {missing} (has {list(df.columns)}).")
    lt = lift_tests.loc[lift_tests["delta_x"].abs() > 0].copy()
    if lt.empty:
        raise PathTableError("No lift test with a non-zero spend change (delta_x): nothing to calibrate to.")
    lt["iroas"] = lt["delta_y"] / lt["delta_x"]
    lt["w"] = (lt["delta_x"].abs() / lt["sigma"]) ** 2
    g = lt.assign(wi=lt["w"] * lt["iroas"]).groupby("channel").agg(w=("w", "sum"), wi=("wi", "sum"),
                                                                    n_tests=("iroas", "size"))
    total_spend = spend.groupby("channel")["spend"].sum()
    out = pd.DataFrame(index=pd.Index(g.index, name="channel"))
    out["iroas"] = g["wi"] / g["w"]
    out["iroas_se"] = 1.0 / np.sqrt(g["w"])
    out["n_tests"] = g["n_tests"].astype(int)
    out["spend"] = total_spend.reindex(out.index).fillna(0.0)
    out["incremental"] = out["iroas"] * out["spend"]
    out["std_error"] = out["iroas_se"] * out["spend"]
    return IncrementalEstimate(table=out, unit="revenue", source=f"lift_tests ({len(lt)} tests)")


#: ``incremental_path`` value meaning "the newest 02_mmm run under reports/ that passed its gate".
LATEST_MMM_RUN = "latest:mmm"
#: Half-width of a normal 94% interval in standard deviations.
_Z94 = 1.8808


def incremental_from_mmm_run(metrics_path: str | Path) -> IncrementalEstimate:
    """Incremental revenue per channel from a ``02_mmm`` run's ``metrics.json``.

    A channel's MMM contribution over the model's data window is ``roi_mean x spend``
    (the MMM's own definition of ROI); its standard error is read off the 94% ROI interval
    under a normal approximation (``(hdi_high - hdi_low) / (2 x 1.88) x spend``). Use it
    with ``mode="relative"``: the MMM's window and the journeys' lookback differ, so only
    the shares carry over.

    Raises
    ------
    PathTableError
        When the file is not a 02_mmm run, or the run failed its diagnostics gate (its
        results are withheld and must not calibrate anything).
    """
    p = Path(metrics_path)
    return _mmm_estimate(json.loads(p.read_text()), p)


def _is_mmm_run(raw: Any) -> bool:
    return isinstance(raw, dict) and raw.get("notebook") == "02_mmm"


def _mmm_gate_passed(raw: dict) -> bool:
    return raw.get("status") != "failed" and not raw.get("metrics", {}).get("results_withheld")


def _mmm_estimate(raw: Any, p: Path) -> IncrementalEstimate:
    """:func:`incremental_from_mmm_run` on an already parsed ``metrics.json``."""
    if not _is_mmm_run(raw):
        notebook = raw.get("notebook") if isinstance(raw, dict) else None
        raise PathTableError(f"{p} is not the metrics.json of a 02_mmm run (notebook: {notebook!r}).")
    metrics = raw.get("metrics", {})
    if not _mmm_gate_passed(raw):
        raise PathTableError(
            f"the MMM run {p.parent.name} failed its diagnostics gate ({raw.get('status_reason', 'no reason given')}); "
            "its results are withheld. Calibrate to a run that passed (incremental_path: latest:mmm picks one)."
        )
    rows = {}
    for ch, m in (metrics.get("channels") or {}).items():
        missing = [k for k in ("roi_mean", "roi_hdi_low", "roi_hdi_high", "spend") if k not in m]
        if missing:
            raise PathTableError(f"{p.name}: channel {ch!r} lacks {missing}; re-run 02_mmm with this version.")
        rows[ch] = {"incremental": m["roi_mean"] * m["spend"],
                    "std_error": (m["roi_hdi_high"] - m["roi_hdi_low"]) / (2 * _Z94) * m["spend"],
                    "roi": m["roi_mean"], "spend": m["spend"]}
    if not rows:
        raise PathTableError(f"{p.name}: the MMM run lists no channels.")
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("channel")
    return IncrementalEstimate(table=table, unit="revenue", source=f"MMM run {p.parent.name}")


def latest_mmm_run(reports_dir: str | Path | None = None) -> Path:
    """``metrics.json`` of the newest ``02_mmm`` run under ``reports_dir`` whose gate did not fail.

    Raises
    ------
    PathTableError
        When there is none yet.
    """
    from galaxy_lib.core.paths import ProjectPaths

    reports = Path(reports_dir) if reports_dir else ProjectPaths.discover().reports
    # run folders are named <UTC timestamp>-<suffix>, so the name orders them in time
    for metrics in sorted(reports.glob("*/*/metrics.json"), key=lambda m: m.parent.name, reverse=True):
        try:
            raw = json.loads(metrics.read_text())
        except (OSError, ValueError):
            continue
        if _is_mmm_run(raw) and _mmm_gate_passed(raw):
            return metrics
    raise PathTableError(
        f"incremental_path {LATEST_MMM_RUN!r}: no 02_mmm run under {reports} passed its gate yet. "
        "Run `galaxy run 02_mmm` first, or point incremental_path at a file."
    )


def read_incremental(path: str | Path, unit: str = "revenue") -> IncrementalEstimate:
    """Read per-channel incremental estimates.

    ``path`` is a CSV / Parquet table (``channel``, ``incremental`` [, ``std_error``]), a
    JSON object (``{"channel": value}`` or ``{"channels": {"ch": {"incremental": v}}}``), or
    a ``02_mmm`` run (its folder or its ``metrics.json``: see :func:`incremental_from_mmm_run`).
    """
    p = Path(path)
    if p.is_dir() and (p / "metrics.json").is_file():
        p = p / "metrics.json"
    if not p.is_file():
        raise PathTableError(f"Incremental estimates file {p} does not exist.")
    if unit not in ("revenue", "conversions"):
        raise ValueError(f"unit must be 'revenue' or 'conversions' (got {unit!r}).")
    if p.suffix.lower() == ".json":
        raw = json.loads(p.read_text())
        if _is_mmm_run(raw):
            return _mmm_estimate(raw, p)
        data = raw.get("channels", raw) if isinstance(raw, dict) else None
        if not isinstance(data, dict):
            raise PathTableError(f"{p.name}: expected a JSON object channel -> value.")
        rows = {}
        for ch, v in data.items():
            if isinstance(v, Mapping):
                val = v.get("incremental", v.get("total_contribution", v.get("contribution")))
            else:
                val = v
            if val is None:
                raise PathTableError(f"{p.name}: channel {ch!r} has no 'incremental' value.")
            rows[ch] = float(val)
        table = pd.DataFrame({"incremental": pd.Series(rows)})
        table["std_error"] = np.nan
    else:
        df = pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p, sep=None, engine="python")
        for col in ("channel", "incremental"):
            if col not in df.columns:
                raise PathTableError(f"{p.name}: required column {col!r} is missing (columns: {list(df.columns)}).")
        table = df.set_index("channel")[["incremental"]].astype(float)
        table["std_error"] = df.set_index("channel")["std_error"].astype(float) if "std_error" in df else np.nan
    table.index.name = "channel"
    bad = table.index[~np.isfinite(table["incremental"]) | (table["incremental"] < 0)]
    if len(bad):
        raise PathTableError(f"{p.name}: incremental must be a non-negative number; bad channels: {list(bad)}.")
    return IncrementalEstimate(table=table, unit=unit, source=p.name)




# -- notebook parameters and inputs ----------------------------------------------------------------
class MtaParams(GalaxyConfig):
    """Parameters of ``notebooks/03_mta`` (validated in the cell after the parameters cell)."""

    data_dir: str = Field("data/ci", description="Store root (a Galaxy world is built there when empty).")
    world_size: Literal["ci", "demo", "bench"] = Field("ci", description="World built when data_dir is empty.")
    output_dir: str = Field("", description="Run folder; empty = reports/adhoc/03_mta.")
    paths_path: str = Field("", description="Your own path table (ChannelAttribution format, CSV or Parquet); "
                                            "empty = journeys built from the store's events.")
    separator: str = Field(" > ", min_length=1, description="Separator between channels in paths_path.")
    lookback_days: float = Field(30.0, gt=0, le=365, description="Attribution window before a conversion (days).")
    half_life_days: float = Field(7.0, gt=0, description="Time-decay half-life (days; touches for a path table).")
    markov_order: int = Field(3, ge=1, le=3, description="Highest Markov order fitted (orders 1..markov_order).")
    k_min_paths: int = Field(10, ge=2, description="Paths with fewer journeys are suppressed in published tables.")
    calibration_model: Literal[
        "markov", "shapley", "first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based"
    ] = Field("markov", description="Model whose credit is calibrated ('markov' = the highest order fitted).")
    calibration_mode: Literal["relative", "absolute"] = Field("relative", description="See mta.analysis.calibrate.")
    incremental_path: str = Field("", description="Per-channel incremental estimates: a CSV/JSON table, a 02_mmm "
                                                  "run folder or metrics.json, or 'latest:mmm' (the newest passing "
                                                  "MMM run); empty = the store's lift tests, if any.")
    direct_channel: str = Field("direct", min_length=1, description="Channel skipped by last non-direct.")
    as_of: str = Field("", description="Consent evaluated at this date (ISO); empty = now.")
    top_n_paths: int = Field(15, ge=1, le=200, description="Journeys drawn in the Sankey chart.")

    @property
    def calibrated_model_name(self) -> str:
        """Name of the fitted model to calibrate."""
        return f"markov_order_{self.markov_order}" if self.calibration_model == "markov" else self.calibration_model


@dataclass(frozen=True, eq=False)
class MtaInputs:
    """Everything the MTA notebook reads, validated.

    Attributes
    ----------
    paths
        The path table the models run on.
    journeys
        Journey statistics when built from events (``None`` for an external path table).
    truth
        True channel shares (``ground_truth["mta"]["channel_credit"]``) when the store is a Galaxy world.
    incremental
        Calibration targets (from ``incremental_path`` or the store's lift tests), or ``None``.
    source
        Human-readable origin of the paths.
    """

    paths: PathTable
    journeys: JourneyData | None
    truth: dict[str, float] | None
    incremental: IncrementalEstimate | None
    source: str

    def summary(self) -> dict[str, Any]:
        """One flat dict of counts for the report."""
        out: dict[str, Any] = {**self.paths.aggregate().summary(), "source": self.source}
        out["quarantined_path_rows"] = int(len(self.paths.quarantine))
        if self.journeys is not None:
            out.update(self.journeys.summary())
        out["calibration_source"] = self.incremental.source if self.incremental is not None else "none"
        out["truth_known"] = self.truth is not None
        return out

    def quarantine(self) -> pd.DataFrame:
        """Rejected path rows and conversions, with rule and reason (for the report)."""
        parts = [self.paths.quarantine]
        if self.journeys is not None:
            parts.append(self.journeys.quarantine)
        parts = [p for p in parts if len(p)]
        if not parts:
            return pd.DataFrame(columns=["_rule", "_reason", "_source"])
        return pd.concat(parts, ignore_index=True)


def load_inputs(params: MtaParams) -> MtaInputs:
    """Load the path table (your file or the world's journeys), the calibration targets and the truth.

    With ``paths_path`` the table is read and validated (bad rows quarantined). Otherwise
    the Galaxy world at ``data_dir`` is built and staged if needed
    (:func:`galaxy_lib.pipeline.staging.ensure_world`) and journeys are built from its events.
    Calibration targets come from ``incremental_path`` or, failing that, from the store's
    staged ``lift_tests`` and ``spend``.
    """
    from galaxy_lib.core.config import resolve_path

    store = None
    journeys: JourneyData | None = None
    if params.paths_path:
        paths = read_path_table(resolve_path(params.paths_path), separator=params.separator)
        source = f"path table {Path(params.paths_path).name}"
    else:
        from galaxy_lib.simulate import ensure_world

        store = ensure_world(params.data_dir, size=params.world_size, progress=False)
        journeys = build_journeys(store, lookback_days=params.lookback_days, as_of=params.as_of or None)
        paths = journeys.paths
        source = f"events in {store.root.name} ({params.lookback_days:g}-day lookback)"

    incremental: IncrementalEstimate | None = None
    if params.incremental_path == LATEST_MMM_RUN:
        incremental = incremental_from_mmm_run(latest_mmm_run())
    elif params.incremental_path:
        incremental = read_incremental(resolve_path(params.incremental_path))
    elif store is not None and store.exists("staged", "lift_tests") and store.exists("staged", "spend"):
        incremental = incremental_from_lift_tests(store.read("staged", "lift_tests"), store.read("staged", "spend"))

    truth = None
    if store is not None and (store.root / "ground_truth.json").is_file():
        gt = json.loads((store.root / "ground_truth.json").read_text())
        credit = gt.get("mta", {}).get("channel_credit")
        truth = {str(k): float(v) for k, v in credit.items()} if credit else None
    return MtaInputs(paths=paths, journeys=journeys, truth=truth, incremental=incremental, source=source)
