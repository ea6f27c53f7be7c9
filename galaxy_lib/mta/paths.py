"""Aggregated path tables: validation and parsing into integer channel codes.

A path table has one row per channel sequence in ChannelAttribution's format
(``path``, ``total_conversions``, ``total_conversion_value``, ``total_null``), with
any separator between channels. :func:`read_path_table` reads one from a file
(through :func:`galaxy_lib.core.files.read_table_file`), :func:`parse_path_table`
validates a DataFrame, and :func:`galaxy_lib.mta.journeys.build_journeys` builds one
from the store's events.

Paths are parsed once into integer channel codes (``codes`` + ``offsets``, the
CSR layout of a ragged array) so every model works on NumPy arrays, and memory
grows with the number of unique paths, not with the number of journeys.

Bad rows (empty paths or channels, unknown channels, negative or missing counts,
zero journeys) go to :attr:`PathTable.quarantine` with ``_rule`` and ``_reason``;
problems with the whole table (a missing column, a wrong separator) raise
:class:`PathTableError` with a message that says what to change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from galaxy_lib.core.contracts import ContractError
from galaxy_lib.core.files import PARQUET_SUFFIXES, read_table_file

__all__ = [
    "DEFAULT_SEPARATOR",
    "PATH_COLUMNS",
    "PathTable",
    "PathTableError",
    "parse_path_table",
    "read_path_table",
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
    customers
        Distinct customers behind each path (indexed by the ``path`` string), when the table
        was built from events (:func:`~galaxy_lib.mta.journeys.build_journeys`); ``None`` for
        an aggregated table from a file, which cannot say who travelled a path. This is what
        k-anonymity counts (:func:`~galaxy_lib.mta.analysis.publishable_paths`).
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
    customers: pd.Series | None = None

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
        """Converting journeys over every path."""
        return float(self.conversions.sum())

    @property
    def total_value(self) -> float:
        """Revenue over every path."""
        return float(self.value.sum())

    @property
    def total_journeys(self) -> float:
        """Journeys (converting or not) over every path."""
        return float(self.journeys.sum())

    def summary(self) -> dict[str, Any]:
        """Count paths, journeys, conversions, revenue, channels and quarantined rows (for reports)."""
        return {
            "source": self.source,
            "paths": self.n_paths,
            "journeys": self.total_journeys,
            "conversions": self.total_conversions,
            "revenue": self.total_value,
            "channels": len(self.channels),
            "mean_touches_per_path": float(self.lengths.mean()) if self.n_paths else 0.0,
            "quarantined_rows": len(self.quarantine),
        }

    def aggregate(self) -> PathTable:
        """Merge rows with the same channel sequence (drops ``lag_days``).

        Tables built from events carry one row per (path, timing) so time decay can use
        days; the position- and sequence-based models only need unique paths. Used by
        :func:`~galaxy_lib.mta.models.markov_attribution` and Shapley internally.
        """
        if self.lags is None:
            return self
        return self._aggregated

    @cached_property
    def _aggregated(self) -> PathTable:
        grouped = self.table.groupby("path", sort=True, observed=True)[list(_NUMERIC)].sum().reset_index()
        merged = parse_path_table(grouped, separator=self.separator, channels=self.channels, source=self.source)
        return replace(merged, customers=self.customers)


# -- parsing ---------------------------------------------------------------------------
def _split_separator(separator: str) -> str:
    """Return the pattern to split on: the separator without surrounding whitespace (or one space)."""
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
        lag_codes, lag_vocab, lag_off = _tokenise(
            np.array([None if v is None else str(v) for v in lag_obj], dtype=object), separator
        )
        lag_num = (
            pd.to_numeric(pd.Series(lag_vocab, dtype=object), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )[lag_codes]
            if lag_vocab
            else np.zeros(0)
        )
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
        quarantine = df.iloc[:0].assign(
            _rule=pd.Series(dtype=str),
            _reason=pd.Series(dtype=str),
            _source=pd.Series(dtype=str),
            _row=pd.Series(dtype=np.int64),
        )
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
        ``.csv`` / ``.txt`` / ``.tsv`` (optionally compressed; the field delimiter is detected
        from the header line among ``,``, ``;``, tab and ``|`` unless ``delimiter`` is given)
        or ``.parquet``. Read with :func:`galaxy_lib.core.files.read_table_file`.
    separator
        Separator between channels inside the ``path`` column (ChannelAttribution's ``sep``).
    channels, mapping
        See :func:`parse_path_table`.
    delimiter
        CSV field delimiter; ``None`` detects it from the header line.

    Returns
    -------
    PathTable
        Valid rows parsed into codes, plus the quarantine of rejected rows.

    Raises
    ------
    PathTableError
        When the file is missing or unreadable, or the table cannot be used (see :func:`parse_path_table`).
    """
    p = Path(path)
    df = read_table_file(p, "path table", delimiter=delimiter, dtype={"path": str}, error=PathTableError)
    if p.suffix.lower() not in PARQUET_SUFFIXES and "path" in df.columns:
        df["path"] = df["path"].fillna("")  # an empty text field is an empty path, not a missing one
    return parse_path_table(df, separator=separator, channels=channels, mapping=mapping, source=p.name)
