"""Load and validate the inputs of a media-mix model.

Two sources give the same validated :class:`MMMData`:

* the Galaxy world: ``curated/mmm_weekly`` (national rows ``geo = "ALL"`` or the
  per-geo rows) and ``staged/lift_tests`` of a data store;
* your own CSV or Parquet file, described by an :class:`MMMDataConfig` (which
  column is the date, the KPI, the spend per channel, the controls ...), with an
  optional table of lift tests.

Every check runs here, before any sampling, and a failure raises
:class:`MMMDataError` naming the column and saying how to fix it: a channel or
control that is not a column, missing, duplicated or irregular dates, a KPI with
missing values, negative spend, a channel that is all zeros or constant, too few
periods for the adstock window. Nothing is dropped silently: the loader either
returns every row or refuses the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from galaxy_lib.core.config import GalaxyConfig, resolve_path

__all__ = [
    "MMMDataError",
    "MMMDataConfig",
    "MMMData",
    "NATIONAL",
    "LIFT_TEST_COLUMNS",
    "MIN_PERIODS_PER_LMAX",
    "channel_label",
    "read_table",
    "prepare_frame",
    "validate_frame",
    "prepare_lift_tests",
    "load_mmm_data",
]

#: Geo value of the national total rows in ``curated/mmm_weekly``.
NATIONAL: str = "ALL"
#: Columns a lift-test table must have (pymc-marketing ``add_lift_test_measurements`` semantics).
LIFT_TEST_COLUMNS: tuple[str, ...] = ("channel", "x", "delta_x", "delta_y", "sigma")
#: The data must hold at least this many times ``l_max`` periods (per geo).
MIN_PERIODS_PER_LMAX: int = 4
#: Event-column values that mean "no event".
_NO_EVENT = {"", "na", "n/a", "nan", "none", "null", "0", "false"}


class MMMDataError(ValueError):
    """The MMM input cannot be used as it is; the message names the column and the fix."""


class MMMDataConfig(GalaxyConfig):
    """Where the MMM data comes from and what each column means.

    Parameters
    ----------
    data_path
        CSV or Parquet file with one row per period (and geo). Empty: the Galaxy
        world's ``curated/mmm_weekly`` table in the notebook's data store.
    date_column
        Column with the period start date (weekly or daily, regular, no gaps).
    target_column
        The KPI column (revenue, or conversions).
    target_multiplier_column
        Optional column multiplied into the KPI, e.g. Meridian's
        ``revenue_per_conversion`` to model revenue from conversions.
    channel_columns
        Spend columns, one per paid channel. Empty: every ``spend_*`` column.
        ROI is KPI per unit of these columns, so give spend, not impressions.
    control_columns
        Numeric controls (price, distribution, competitor activity, 0/1 holiday flags).
    event_columns
        Categorical columns whose values name events (``"na"``/empty = none); each
        distinct event becomes a 0/1 control.
    geo_column
        Empty for a national model. Otherwise the column with the geo; one row per
        date and geo, and the model gets per-geo parameters (partially pooled).
    lift_tests_path
        CSV or Parquet of lift tests (``channel, x, delta_x, delta_y, sigma``, optional
        ``geo``, ``geo_share``, ``test_id``, ``start_week``, ``end_week``). Empty with the
        Galaxy world: its ``staged/lift_tests``; empty with your own file: no lift tests.
    use_lift_tests
        Set false to fit without lift-test calibration.
    """

    data_path: str = ""
    date_column: str = "week"
    target_column: str = "revenue"
    target_multiplier_column: str = ""
    channel_columns: tuple[str, ...] = ()
    control_columns: tuple[str, ...] = ("price_index", "holiday")
    event_columns: tuple[str, ...] = ()
    geo_column: str = ""
    lift_tests_path: str = ""
    use_lift_tests: bool = True

    @field_validator("channel_columns", "control_columns", "event_columns")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        dupes = sorted({c for c in v if v.count(c) > 1})
        if dupes:
            raise ValueError(f"lists each column once; {dupes} appear more than once")
        return v

    @property
    def uses_world(self) -> bool:
        """True when the data comes from the Galaxy world store (no ``data_path``)."""
        return not self.data_path


@dataclass(frozen=True)
class MMMData:
    """Validated, model-ready MMM data.

    Attributes
    ----------
    frame
        Canonical table sorted by (geo,) date: ``date``, ``geo`` (per-geo models
        only), one column per channel label, one per control, and ``kpi``.
    channels
        Channel labels (column names of ``frame``), in model order.
    channel_columns
        Label -> source column name.
    controls
        Control column names in ``frame`` (numeric controls, then event indicators).
    geos
        Geo names, empty for a national model.
    freq
        Period length as a pandas offset alias (``"7D"`` for weekly data).
    target_name
        Name of the KPI in the source (for labels).
    lift_tests
        Lift tests in model units (``channel`` is a label; national units for a
        national model), or ``None``.
    source
        Where the data came from (for reports).
    notes
        Things the report should say about the input (e.g. how lift tests were scaled).
    """

    frame: pd.DataFrame
    channels: tuple[str, ...]
    channel_columns: dict[str, str]
    controls: tuple[str, ...]
    geos: tuple[str, ...]
    freq: str
    target_name: str
    lift_tests: pd.DataFrame | None = None
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def is_geo(self) -> bool:
        """True for a per-geo model."""
        return bool(self.geos)

    @property
    def n_periods(self) -> int:
        """Number of distinct dates."""
        return int(self.frame["date"].nunique())

    @property
    def dates(self) -> pd.DatetimeIndex:
        """Sorted distinct dates."""
        return pd.DatetimeIndex(np.sort(self.frame["date"].unique()))

    def spend_totals(self) -> pd.Series:
        """Total spend per channel over all periods (and geos)."""
        return self.frame[list(self.channels)].sum()

    def mean_period_spend(self) -> pd.Series:
        """Mean spend per period per channel (summed over geos)."""
        return self.spend_totals() / self.n_periods

    def to_metadata(self) -> dict[str, Any]:
        """JSON-safe description (no rows) saved with a fitted model."""
        return {
            "channels": list(self.channels),
            "channel_columns": dict(self.channel_columns),
            "controls": list(self.controls),
            "geos": list(self.geos),
            "freq": self.freq,
            "target_name": self.target_name,
            "source": self.source,
            "notes": list(self.notes),
            "lift_tests": None if self.lift_tests is None else _records(self.lift_tests),
        }


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d")
    return out.to_dict(orient="records")


def channel_label(column: str) -> str:
    """Display / model label of a spend column: the Galaxy ``spend_`` prefix is dropped."""
    return column[len("spend_"):] if column.startswith("spend_") and len(column) > len("spend_") else column


def read_table(path: str | Path, what: str = "data") -> pd.DataFrame:
    """Read a CSV or Parquet file (by suffix) with an error that names the file.

    Parameters
    ----------
    path
        File path; relative paths resolve against the project root.
    what
        What the file is (quoted in errors), e.g. ``"data_path"``.
    """
    p = resolve_path(path)
    if not p.is_file():
        raise MMMDataError(f"{what}: file {p} does not exist. Give the path of a CSV or Parquet file.")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(p)
    if suffix in (".csv", ".txt"):
        return pd.read_csv(p, keep_default_na=True)
    if suffix == ".tsv":
        return pd.read_csv(p, sep="\t")
    raise MMMDataError(f"{what}: {p.name} is neither CSV nor Parquet (suffix {suffix!r}); use .csv or .parquet.")


def _missing_columns(df: pd.DataFrame, names: list[str], param: str, source: str) -> None:
    missing = [n for n in names if n not in df.columns]
    if missing:
        cols = ", ".join(map(str, df.columns[:40])) + (" ..." if len(df.columns) > 40 else "")
        raise MMMDataError(
            f"{param}: {missing} {'is' if len(missing) == 1 else 'are'} not a column of {source}. "
            f"Its columns are: {cols}. Fix {param} in the parameters file to use existing column names."
        )


def _numeric(df: pd.DataFrame, col: str, role: str, param: str) -> pd.Series:
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float)
    if not pd.api.types.is_numeric_dtype(s):
        bad = s[pd.to_numeric(s, errors="coerce").isna() & s.notna()]
        example = bad.iloc[0] if len(bad) else s.iloc[0]
        raise MMMDataError(
            f"{role} column {col!r} is not numeric (e.g. {example!r}). "
            f"Clean it to numbers, or move it to event_columns if it names events; see {param}."
        )
    return s.astype(float)


def _event_indicators(df: pd.DataFrame, col: str) -> pd.DataFrame:
    """0/1 columns ``<col>_<event>`` for each distinct event name in ``col``."""
    values = df[col].astype("string").str.strip()
    is_event = values.notna() & ~values.str.lower().isin(_NO_EVENT)
    names = sorted(values[is_event].unique())
    if not names:
        raise MMMDataError(
            f"event column {col!r} has no events (every value is empty or one of {sorted(_NO_EVENT)}); "
            "remove it from event_columns."
        )
    out = {}
    for name in names:
        safe = re.sub(r"[^0-9A-Za-z]+", "_", str(name)).strip("_") or "event"
        out[f"{col}_{safe}"] = (values == name).fillna(False).astype(float).to_numpy()
    return pd.DataFrame(out, index=df.index)


def prepare_frame(df: pd.DataFrame, config: MMMDataConfig, source: str = "the data") -> tuple[pd.DataFrame, dict[str, str], tuple[str, ...]]:
    """Map a user table to the canonical frame (without the period-count check).

    Parameters
    ----------
    df
        The raw table.
    config
        Column roles.
    source
        Name of the table in error messages.

    Returns
    -------
    frame, channel_columns, controls
        Canonical frame (``date``, ``geo``?, channel labels, controls, ``kpi``),
        label -> source column, control names.
    """
    channel_cols = list(config.channel_columns) or [c for c in df.columns if str(c).startswith("spend_")]
    if not channel_cols:
        raise MMMDataError(
            f"channel_columns: none given and {source} has no spend_* columns. "
            "List the spend column of each channel in channel_columns."
        )
    _missing_columns(df, [config.date_column], "date_column", source)
    _missing_columns(df, [config.target_column], "target_column", source)
    _missing_columns(df, channel_cols, "channel_columns", source)
    _missing_columns(df, list(config.control_columns), "control_columns", source)
    _missing_columns(df, list(config.event_columns), "event_columns", source)
    if config.target_multiplier_column:
        _missing_columns(df, [config.target_multiplier_column], "target_multiplier_column", source)
    if config.geo_column:
        _missing_columns(df, [config.geo_column], "geo_column", source)
    roles: dict[str, str] = {}
    for param, cols in (("date_column", [config.date_column]), ("target_column", [config.target_column]),
                        ("channel_columns", channel_cols), ("control_columns", list(config.control_columns)),
                        ("event_columns", list(config.event_columns)),
                        ("geo_column", [config.geo_column] if config.geo_column else [])):
        for c in cols:
            if c in roles:
                raise MMMDataError(f"column {c!r} is used as both {roles[c]} and {param}; give each column one role.")
            roles[c] = param

    labels = {channel_label(c): c for c in channel_cols}
    if len(labels) != len(channel_cols):
        raise MMMDataError(f"channel_columns {channel_cols} give duplicate channel labels {list(labels)}; rename a column.")
    reserved = {"date", "geo", "kpi"}
    clash = reserved & (set(labels) | set(config.control_columns))
    if clash:
        raise MMMDataError(f"channel/control names {sorted(clash)} are reserved ({sorted(reserved)}); rename those columns.")

    dates = pd.to_datetime(df[config.date_column], errors="coerce")
    bad = dates.isna()
    if bad.any():
        rows = list(np.flatnonzero(bad.to_numpy())[:5])
        raise MMMDataError(
            f"date_column {config.date_column!r} has {int(bad.sum())} missing or unparseable value(s) "
            f"(rows {rows}: {df[config.date_column].iloc[rows].tolist()}). Fix those dates or drop those rows."
        )
    frame = pd.DataFrame({"date": dates.dt.tz_localize(None) if dates.dt.tz is not None else dates})
    if config.geo_column:
        geo = df[config.geo_column]
        if geo.isna().any():
            raise MMMDataError(f"geo_column {config.geo_column!r} has {int(geo.isna().sum())} empty value(s); fill them.")
        frame["geo"] = geo.astype(str).to_numpy()
    for label, col in labels.items():
        frame[label] = _numeric(df, col, "spend", "channel_columns").to_numpy()
    controls: list[str] = []
    for col in config.control_columns:
        frame[col] = _numeric(df, col, "control", "control_columns").to_numpy()
        controls.append(col)
    for col in config.event_columns:
        ind = _event_indicators(df, col)
        for c in ind.columns:
            if c in frame.columns:
                raise MMMDataError(f"event column {col!r} makes indicator {c!r}, which clashes with a column; rename it.")
            frame[c] = ind[c].to_numpy()
            controls.append(c)
    kpi = _numeric(df, config.target_column, "target", "target_column")
    if config.target_multiplier_column:
        mult = _numeric(df, config.target_multiplier_column, "target multiplier", "target_multiplier_column")
        if mult.isna().any():
            raise MMMDataError(
                f"target_multiplier_column {config.target_multiplier_column!r} has "
                f"{int(mult.isna().sum())} missing value(s); fill them."
            )
        kpi = kpi * mult
    frame["kpi"] = kpi.to_numpy()
    sort = ["geo", "date"] if config.geo_column else ["date"]
    frame = frame.sort_values(sort, kind="stable", ignore_index=True)
    return frame, labels, tuple(controls)


def _fmt_dates(values: Any, n: int = 5) -> str:
    vals = [pd.Timestamp(v).strftime("%Y-%m-%d") for v in list(values)[:n]]
    return ", ".join(vals) + (" ..." if len(list(values)) > n else "")


def _check_dates(frame: pd.DataFrame, geo: str | None) -> str:
    """Duplicated / missing / irregular dates -> error; returns the period as an offset alias."""
    where = f" in geo {geo!r}" if geo is not None else ""
    d = frame["date"]
    dup = d[d.duplicated(keep=False)]
    if len(dup):
        hint = ("set geo_column to the geo column so each geo is its own series, or aggregate to one row per date"
                if geo is None else "keep one row per date and geo")
        raise MMMDataError(
            f"date_column has {int(d.duplicated().sum())} duplicated date(s){where}: {_fmt_dates(dup.unique())}; {hint}."
        )
    ds = pd.DatetimeIndex(np.sort(d.to_numpy()))
    if len(ds) < 3:
        raise MMMDataError(f"only {len(ds)} dates{where}: an MMM needs a long, regular time series.")
    diffs = np.diff(ds.asi8)
    step = int(pd.Series(diffs).mode().iloc[0])
    if step <= 0:
        raise MMMDataError("date_column: dates do not increase.")
    irregular = np.flatnonzero(diffs != step)
    if len(irregular):
        expected = pd.date_range(ds[0], ds[-1], freq=pd.Timedelta(step))
        missing = expected.difference(ds)
        if len(missing) and (ds.isin(expected)).all():
            raise MMMDataError(
                f"date_column has {len(missing)} missing period(s){where}: {_fmt_dates(missing)}. "
                "Add those periods (spend 0 if nothing ran) so the series is regular."
            )
        raise MMMDataError(
            f"date_column is irregular{where}: periods of {pd.Timedelta(step)} but a different gap after "
            f"{_fmt_dates(ds[irregular])}. Align every date to the same weekday (weekly) or day (daily)."
        )
    return pd.tseries.frequencies.to_offset(pd.Timedelta(step)).freqstr


def validate_frame(frame: pd.DataFrame, channels: tuple[str, ...] | list[str], controls: tuple[str, ...] | list[str],
                   l_max: int, channel_columns: dict[str, str] | None = None) -> str:
    """Check a canonical frame before any sampling; raise :class:`MMMDataError` on the first problem.

    Checks, in order: dates (duplicated, missing, irregular; per geo, same dates in
    every geo), enough periods for ``l_max`` (at least :data:`MIN_PERIODS_PER_LMAX`
    times ``l_max``), the KPI (no missing values, not constant), each channel (no
    missing values, no negative spend, not all zeros, not constant) and each control
    (no missing values, not constant).

    Parameters
    ----------
    frame
        Canonical frame (see :class:`MMMData`).
    channels, controls
        Channel labels and control names in ``frame``.
    l_max
        Adstock window (periods).
    channel_columns
        Label -> source column, so errors name the user's column.

    Returns
    -------
    str
        The period length as a pandas offset alias (``"7D"`` for weekly data).
    """
    names = channel_columns or {c: c for c in channels}
    if "geo" in frame.columns:
        freq = None
        first_dates = None
        for g, part in frame.groupby("geo", sort=True):
            f = _check_dates(part, str(g))
            freq = freq or f
            if f != freq:
                raise MMMDataError(f"geo {g!r} has periods of {f} while other geos have {freq}; use one frequency.")
            dates = pd.DatetimeIndex(np.sort(part["date"].to_numpy()))
            if first_dates is None:
                first_dates = (g, dates)
            elif not dates.equals(first_dates[1]):
                only = dates.symmetric_difference(first_dates[1])
                raise MMMDataError(
                    f"geo {g!r} and geo {first_dates[0]!r} cover different dates (e.g. {_fmt_dates(only)}); "
                    "every geo needs the same dates (add rows with spend 0 where nothing ran)."
                )
        assert freq is not None
    else:
        freq = _check_dates(frame, None)
    n_periods = int(frame["date"].nunique())
    need = MIN_PERIODS_PER_LMAX * l_max
    if n_periods < need:
        raise MMMDataError(
            f"only {n_periods} periods for an adstock window of l_max={l_max}: the model needs at least "
            f"{need} ({MIN_PERIODS_PER_LMAX} x l_max) to tell carry-over from noise. "
            f"Supply more history or lower l_max to {max(1, n_periods // MIN_PERIODS_PER_LMAX)} or less."
        )
    kpi = frame["kpi"]
    if kpi.isna().any():
        rows = frame.loc[kpi.isna(), "date"]
        raise MMMDataError(
            f"target_column has {int(kpi.isna().sum())} missing value(s) (dates {_fmt_dates(rows)}). "
            "Fill them (or drop those periods from every table) before fitting."
        )
    if np.isclose(kpi.std(), 0):
        raise MMMDataError("target_column is constant: there is nothing to explain.")
    for ch in channels:
        col = names.get(ch, ch)
        x = frame[ch]
        if x.isna().any():
            raise MMMDataError(
                f"spend column {col!r} has {int(x.isna().sum())} missing value(s) "
                f"(dates {_fmt_dates(frame.loc[x.isna(), 'date'])}); fill with 0 where nothing ran."
            )
        if (x < 0).any():
            rows = frame.loc[x < 0, "date"]
            raise MMMDataError(
                f"spend column {col!r} has {int((x < 0).sum())} negative value(s) (dates {_fmt_dates(rows)}, "
                f"min {x.min():.4g}); spend cannot be negative: correct those rows (refunds belong in another column)."
            )
        if (x == 0).all():
            raise MMMDataError(
                f"spend column {col!r} is all zeros: the model cannot learn an effect without spend. "
                "Remove it from channel_columns."
            )
        if np.isclose(x.std(), 0):
            raise MMMDataError(
                f"spend column {col!r} is constant ({x.iloc[0]:.4g} every period): its effect cannot be told "
                "apart from the baseline. Remove it from channel_columns (or add history where it varied)."
            )
    for c in controls:
        x = frame[c]
        if x.isna().any():
            raise MMMDataError(
                f"control column {c!r} has {int(x.isna().sum())} missing value(s) "
                f"(dates {_fmt_dates(frame.loc[x.isna(), 'date'])}); fill them or drop the control."
            )
        if np.isclose(x.std(), 0):
            raise MMMDataError(
                f"control column {c!r} is constant: it duplicates the intercept. Remove it from control_columns."
            )
    return freq


def _geo_spend_share(geo_frame: pd.DataFrame, channel: str, geo: str, start: Any, end: Any) -> float:
    """Share of national spend of ``channel`` that ran in ``geo``, outside the test window."""
    part = geo_frame
    if start is not None and end is not None and not (pd.isna(start) or pd.isna(end)):
        inside = (part["date"] >= pd.Timestamp(start)) & (part["date"] <= pd.Timestamp(end))
        part = part.loc[~inside]
    total = float(part[channel].sum())
    mine = float(part.loc[part["geo"] == geo, channel].sum())
    if total <= 0:
        return float("nan")
    return mine / total


def prepare_lift_tests(tests: pd.DataFrame, data_frame: pd.DataFrame, channel_columns: dict[str, str],
                       geos: tuple[str, ...], geo_frame: pd.DataFrame | None = None,
                       source: str = "lift tests") -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Validate a lift-test table and express it in the model's units.

    Rows follow pymc-marketing's ``add_lift_test_measurements`` semantics: ``x`` is
    the spend per period without the test, ``delta_x`` the change of spend per
    period, ``delta_y`` the measured change of the KPI per period (carry-over
    included), ``sigma`` its standard error.

    For a national model, a test run in one geo is scaled to national units with
    that geo's share ``s`` of national spend (column ``geo_share`` when given,
    otherwise the share of the channel's spend in that geo outside the test window,
    measured on ``geo_frame``): ``x / s``, ``delta_x / s``, ``delta_y / s`` and
    ``sigma / s``. This assumes the geo's response curve is the national curve at
    population scale, ``f_g(x) = s f(x / s)``.

    Parameters
    ----------
    tests
        Raw lift tests.
    data_frame
        The model's canonical frame (for channel labels and geos).
    channel_columns
        Label -> source column; a test's ``channel`` may be either.
    geos
        The model's geos (empty for national).
    geo_frame
        Per-geo canonical frame (``date``, ``geo``, channel labels) used to estimate
        geo shares for a national model.
    source
        Name of the table in errors.

    Returns
    -------
    tests, notes
        Lift tests with ``channel`` as labels (and ``geo`` for a per-geo model), and
        notes for the report.
    """
    _missing_columns(tests, list(LIFT_TEST_COLUMNS), "lift_tests_path", source)
    out = tests.copy()
    lookup = {**{lab: lab for lab in channel_columns}, **{col: lab for lab, col in channel_columns.items()}}
    unknown = sorted(set(out["channel"].astype(str)) - set(lookup))
    if unknown:
        raise MMMDataError(
            f"{source}: channel(s) {unknown} are not channels of the model ({sorted(channel_columns)}). "
            "Use the channel names (or their spend column names), or drop those tests."
        )
    out["channel"] = out["channel"].astype(str).map(lookup)
    for c in ("x", "delta_x", "delta_y", "sigma"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
        if out[c].isna().any():
            raise MMMDataError(f"{source}: column {c!r} has missing or non-numeric values; every test needs x, delta_x, delta_y, sigma.")
    if (out["sigma"] <= 0).any():
        raise MMMDataError(f"{source}: sigma must be > 0 (the standard error of delta_y); fix rows {list(np.flatnonzero(out['sigma'] <= 0))}.")
    if (out["x"] < 0).any() or ((out["x"] + out["delta_x"]) < 0).any():
        raise MMMDataError(f"{source}: spend x and x + delta_x must be >= 0.")
    if (out["delta_x"] == 0).any():
        raise MMMDataError(f"{source}: a test with delta_x = 0 changed no spend; remove it.")
    same_sign = np.sign(out["delta_x"]) == np.sign(out["delta_y"])
    if (~same_sign).any():
        raise MMMDataError(
            f"{source}: tests {out.loc[~same_sign].index.tolist()} measured an effect of the opposite sign to the "
            "spend change; the model (saturating, positive effects) cannot use them. Check or drop those tests."
        )
    notes: list[str] = []
    has_geo = "geo" in out.columns
    if geos:
        if not has_geo:
            raise MMMDataError(f"{source}: the model is per geo, so each lift test needs a 'geo' column.")
        bad = sorted(set(out["geo"].astype(str)) - set(geos))
        if bad:
            raise MMMDataError(f"{source}: geo(s) {bad} are not geos of the data ({list(geos)}).")
        out["geo"] = out["geo"].astype(str)
        return out.reset_index(drop=True), tuple(notes)

    # National model: scale geo tests to national units.
    if has_geo:
        geo_values = out["geo"].astype("string")
        national = geo_values.isna() | geo_values.isin([NATIONAL, "national", "", "ALL"])
    else:
        national = pd.Series(True, index=out.index)
    if "geo_share" in out.columns:
        share = pd.to_numeric(out["geo_share"], errors="coerce")
        share = share.where(~national, 1.0)
        how = "the geo_share column"
    elif (~national).any():
        if geo_frame is None:
            raise MMMDataError(
                f"{source}: tests {out.loc[~national].index.tolist()} ran in single geos but the model is national "
                "and the data has no per-geo rows to measure each geo's share of spend. Add a 'geo_share' column "
                "(the geo's share of national spend, 0-1) or fit per geo (geo_column)."
            )
        starts = out["start_week"] if "start_week" in out.columns else pd.Series(None, index=out.index)
        ends = out["end_week"] if "end_week" in out.columns else pd.Series(None, index=out.index)
        share = pd.Series(
            [1.0 if national[i] else _geo_spend_share(geo_frame, out.at[i, "channel"], str(out.at[i, "geo"]),
                                                      starts[i], ends[i]) for i in out.index],
            index=out.index,
        )
        how = "each geo's share of the channel's national spend outside the test window"
    else:
        share = pd.Series(1.0, index=out.index)
        how = ""
    if share.isna().any() or (share <= 0).any() or (share > 1).any():
        raise MMMDataError(f"{source}: geo shares must be in (0, 1]; got {share.round(4).tolist()}.")
    for c in ("x", "delta_x", "delta_y", "sigma"):
        out[c] = out[c] / share
    out["geo_share"] = share
    if has_geo:
        out = out.rename(columns={"geo": "test_geo"})
    if how and (share < 1).any():
        notes.append(f"{int((share < 1).sum())} geo lift test(s) scaled to national units by {how}.")
    return out.reset_index(drop=True), tuple(notes)


def load_mmm_data(config: MMMDataConfig, l_max: int = 8, data_dir: str | Path = "data/ci",
                  world_size: str = "ci", store: Any = None) -> MMMData:
    """Load, map and validate the MMM data described by ``config``.

    Parameters
    ----------
    config
        Column roles and file paths.
    l_max
        Adstock window of the model to be fitted (for the period-count check).
    data_dir, world_size
        The Galaxy world store used when ``config.data_path`` is empty (built and
        staged on first use through :func:`galaxy_lib.pipeline.staging.ensure_world`).
    store
        An already open :class:`galaxy_lib.core.store.DataStore` (overrides ``data_dir``).

    Returns
    -------
    MMMData

    Raises
    ------
    MMMDataError
        With the column and the fix, for every problem listed in :func:`validate_frame`.
    """
    geo_frame = None
    lift_raw: pd.DataFrame | None = None
    lift_source = ""
    if config.uses_world:
        if store is None:
            from galaxy_lib.simulate import ensure_world

            store = ensure_world(data_dir, size=world_size)
        table = store.read("curated", "mmm_weekly")
        source = f"curated.mmm_weekly in {store.root}"
        if config.geo_column:
            if config.geo_column not in table.columns:
                _missing_columns(table, [config.geo_column], "geo_column", source)
            table = table.loc[table[config.geo_column] != NATIONAL].reset_index(drop=True)
        else:
            per_geo = table.loc[table["geo"] != NATIONAL].reset_index(drop=True)
            table = table.loc[table["geo"] == NATIONAL].reset_index(drop=True)
            if len(per_geo):
                geo_cfg = config.model_copy(update={"geo_column": "geo", "control_columns": (), "event_columns": ()})
                geo_frame, _, _ = prepare_frame(per_geo, geo_cfg, source)
        if config.use_lift_tests and not config.lift_tests_path and store.exists("staged", "lift_tests"):
            lift_raw = store.read("staged", "lift_tests")
            lift_source = f"staged.lift_tests in {store.root}"
        frame, labels, controls = prepare_frame(table, config, source)
    else:
        source = str(config.data_path)
        raw = read_table(config.data_path, "data_path")
        frame, labels, controls = prepare_frame(raw, config, source)
    if config.use_lift_tests and config.lift_tests_path:
        lift_raw = read_table(config.lift_tests_path, "lift_tests_path")
        lift_source = str(config.lift_tests_path)

    channels = tuple(labels)
    freq = validate_frame(frame, channels, controls, l_max, labels)
    geos = tuple(sorted(frame["geo"].unique())) if "geo" in frame.columns else ()
    notes: list[str] = []
    lift = None
    if lift_raw is not None and len(lift_raw):
        lift, lift_notes = prepare_lift_tests(lift_raw, frame, labels, geos, geo_frame, lift_source)
        notes.extend(lift_notes)
    elif config.use_lift_tests and lift_raw is not None:
        notes.append("the lift-test table is empty: fitted without calibration.")
    return MMMData(
        frame=frame,
        channels=channels,
        channel_columns=labels,
        controls=controls,
        geos=geos,
        freq=freq,
        target_name=config.target_column,
        lift_tests=lift,
        source=source,
        notes=tuple(notes),
    )
