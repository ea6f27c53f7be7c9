"""Load and validate the inputs of a media-mix model.

Two sources give the same validated :class:`MMMData`:

* the Galaxy world: ``curated/mmm_weekly`` (national rows ``geo = "ALL"`` or the
  per-geo rows) and ``staged/lift_tests`` of a data store;
* your own CSV or Parquet file, described by an :class:`MMMDataConfig` (which
  column is the date, the KPI, the spend per channel, the controls ...), with an
  optional table of lift tests.

Files are read by :func:`galaxy_lib.core.files.read_table_file` (CSV, TSV or
Parquet by suffix; pandas' missing-value strings such as ``NA`` count as missing).
Every check runs here (:mod:`galaxy_lib.mmm.validation`,
:mod:`galaxy_lib.mmm.lift_tests`), before any sampling, and a failure raises
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
from pydantic import field_validator

from galaxy_lib.core.config import GalaxyConfig, resolve_path
from galaxy_lib.core.files import read_table_file
from galaxy_lib.core.params import InputPath
from galaxy_lib.mmm.curated import NATIONAL
from galaxy_lib.mmm.lift_tests import prepare_lift_tests
from galaxy_lib.mmm.validation import MMMDataError, missing_columns, validate_frame

__all__ = [
    "MMMData",
    "MMMDataConfig",
    "MMMDataError",
    "channel_label",
    "load_mmm_data",
    "prepare_frame",
]

#: Event-column values that mean "no event".
_NO_EVENT = {"", "na", "n/a", "nan", "none", "null", "0", "false"}


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

    data_path: InputPath = ""
    date_column: str = "week"
    target_column: str = "revenue"
    target_multiplier_column: str = ""
    channel_columns: tuple[str, ...] = ()
    control_columns: tuple[str, ...] = ("price_index", "holiday")
    event_columns: tuple[str, ...] = ()
    geo_column: str = ""
    lift_tests_path: InputPath = ""
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


def _read_file(path: str | Path, what: str) -> pd.DataFrame:
    """Read a user's CSV / TSV / Parquet file (relative paths from the project root) or raise :class:`MMMDataError`."""
    return read_table_file(resolve_path(path), what, na_strings=True, error=MMMDataError)


def channel_label(column: str) -> str:
    """Display / model label of a spend column: the Galaxy ``spend_`` prefix is dropped."""
    return column[len("spend_") :] if column.startswith("spend_") and len(column) > len("spend_") else column


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


def prepare_frame(
    df: pd.DataFrame, config: MMMDataConfig, source: str = "the data"
) -> tuple[pd.DataFrame, dict[str, str], tuple[str, ...]]:
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
    missing_columns(df, [config.date_column], "date_column", source)
    missing_columns(df, [config.target_column], "target_column", source)
    missing_columns(df, channel_cols, "channel_columns", source)
    missing_columns(df, list(config.control_columns), "control_columns", source)
    missing_columns(df, list(config.event_columns), "event_columns", source)
    if config.target_multiplier_column:
        missing_columns(df, [config.target_multiplier_column], "target_multiplier_column", source)
    if config.geo_column:
        missing_columns(df, [config.geo_column], "geo_column", source)
    roles: dict[str, str] = {}
    for param, cols in (
        ("date_column", [config.date_column]),
        ("target_column", [config.target_column]),
        ("channel_columns", channel_cols),
        ("control_columns", list(config.control_columns)),
        ("event_columns", list(config.event_columns)),
        ("geo_column", [config.geo_column] if config.geo_column else []),
    ):
        for c in cols:
            if c in roles:
                raise MMMDataError(f"column {c!r} is used as both {roles[c]} and {param}; give each column one role.")
            roles[c] = param

    labels = {channel_label(c): c for c in channel_cols}
    if len(labels) != len(channel_cols):
        raise MMMDataError(
            f"channel_columns {channel_cols} give duplicate channel labels {list(labels)}; rename a column."
        )
    reserved = {"date", "geo", "kpi"}
    clash = reserved & (set(labels) | set(config.control_columns))
    if clash:
        raise MMMDataError(
            f"channel/control names {sorted(clash)} are reserved ({sorted(reserved)}); rename those columns."
        )

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
            raise MMMDataError(
                f"geo_column {config.geo_column!r} has {int(geo.isna().sum())} empty value(s); fill them."
            )
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
                raise MMMDataError(
                    f"event column {col!r} makes indicator {c!r}, which clashes with a column; rename it."
                )
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


def load_mmm_data(
    config: MMMDataConfig, l_max: int = 8, data_dir: str | Path = "data/ci", world_size: str = "ci", store: Any = None
) -> MMMData:
    """Load, map and validate the MMM data described by ``config``.

    Parameters
    ----------
    config
        Column roles and file paths.
    l_max
        Adstock window of the model to be fitted (for the period-count check).
    data_dir, world_size
        The Galaxy world store used when ``config.data_path`` is empty (built and
        staged on first use through :func:`galaxy_lib.simulate.ensure_world`).
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
                missing_columns(table, [config.geo_column], "geo_column", source)
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
        raw = _read_file(config.data_path, "data_path")
        frame, labels, controls = prepare_frame(raw, config, source)
    if config.use_lift_tests and config.lift_tests_path:
        lift_raw = _read_file(config.lift_tests_path, "lift_tests_path")
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
