"""Geo-test inputs: the test spec, the design table and every check made before a geo readout is fitted.

A geo test changed one channel's spend in one geo for a few weeks; the readout
(:mod:`galaxy_lib.experiments.geo`) compares that geo's KPI with a counterfactual
built from the other geos. This module turns the inputs into what the model needs
and refuses, with the column or geo and the fix, everything that would make the
readout meaningless:

* a test geo that is not in the KPI table, a channel that is not in the spend table;
* missing weeks or values in the KPI table (the counterfactual needs every week of
  every geo it uses), duplicate ``(week, geo)`` rows;
* a pre-period shorter than :func:`min_pre_weeks` usable weeks;
* no donor geo (every other geo is itself under test at the same time);
* two tests on one geo whose windows, cool-down included, overlap (their effects
  cannot be told apart).

The last two are conflicts between the tests of a design (:class:`GeoDesignConflict`):
:func:`galaxy_lib.experiments.geo.geo_lift_readouts` can leave such tests out instead.

Other tests of the same design are not errors but are kept out of the way: a geo
whose own test (window plus cool-down) overlaps this one's is dropped from the
donors, and pre-period weeks in which the test geo or a donor was under test are
left out of the fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from galaxy_lib.experiments.ab import ExperimentDataError

__all__ = [
    "DEFAULT_COOLDOWN_WEEKS",
    "DESIGN_COLUMNS",
    "MIN_PRE_WEEKS",
    "PRE_WEEKS_PER_TEST_WEEK",
    "GeoDesignConflict",
    "GeoTest",
    "PreparedGeoTest",
    "check_overlaps",
    "min_pre_weeks",
    "overlapping_pairs",
    "prepare_geo_test",
    "tests_from_design",
]

#: Cool-down after the last test week, counted into the lift: an adstock window of 8 weeks
#: (the MMM's ``l_max``) carries a week's spend into the 7 weeks after it.
DEFAULT_COOLDOWN_WEEKS = 7
#: Fewest usable pre-period weeks, whatever the test length: a quarter of weekly data.
MIN_PRE_WEEKS = 12
#: The pre-period must also be this many times the number of test weeks.
PRE_WEEKS_PER_TEST_WEEK = 3
#: Columns a lift-test design table needs (``cooldown_weeks`` and ``planned_spend`` are optional).
DESIGN_COLUMNS: tuple[str, ...] = ("test_id", "channel", "geo", "start_week", "end_week")

_WEEK = pd.Timedelta(weeks=1)


class GeoDesignConflict(ExperimentDataError):
    """Tests of one design get in each other's way (same geo at once, or no geo left as donor)."""


def min_pre_weeks(test_weeks: int) -> int:
    """Usable pre-period weeks a test of ``test_weeks`` weeks needs.

    ``max(MIN_PRE_WEEKS, PRE_WEEKS_PER_TEST_WEEK * test_weeks)``: the counterfactual is a
    regression on the donor geos fitted to the pre-period, and its error over the test
    is only estimated honestly when the fit has seen clearly more weeks than it has to
    predict (three times the test, and never less than a quarter).
    """
    return max(MIN_PRE_WEEKS, PRE_WEEKS_PER_TEST_WEEK * int(test_weeks))


@dataclass(frozen=True)
class GeoTest:
    """One geo test: spend of ``channel`` changed in ``geo`` from ``start_week`` to ``end_week`` (inclusive).

    Attributes
    ----------
    test_id
        Name of the test (rows and errors carry it).
    channel
        Channel whose spend was changed (a ``channel`` value of the spend table).
    geo
        The test geo (a ``geo`` value of the KPI and spend tables).
    start_week, end_week
        First and last test week (week starts, as in the KPI table's week column).
    cooldown_weeks
        Weeks after ``end_week`` whose KPI still counts (adstock carry-over); cut at the
        end of the data.
    planned_spend
        Spend per week the geo-channel would have had without the test (pymc-marketing's
        ``x``), when the planner knows it; ``None``: estimated from the donors' spend.
    """

    test_id: str
    channel: str
    geo: str
    start_week: pd.Timestamp
    end_week: pd.Timestamp
    cooldown_weeks: int = DEFAULT_COOLDOWN_WEEKS
    planned_spend: float | None = None

    def __post_init__(self) -> None:
        for name in ("start_week", "end_week"):
            try:
                week = pd.Timestamp(getattr(self, name))
                if pd.isna(week):
                    raise ValueError("it is empty")
                object.__setattr__(self, name, week)
            except (TypeError, ValueError) as err:
                raise ExperimentDataError(
                    f"test {self.test_id}: {name} {getattr(self, name)!r} is not a date ({err}); give a week start."
                ) from None
        if self.end_week < self.start_week:
            raise ExperimentDataError(
                f"test {self.test_id}: end_week {self.end_week.date()} is before start_week "
                f"{self.start_week.date()}; end_week is the last test week (inclusive)."
            )
        if int(self.cooldown_weeks) < 0:
            raise ExperimentDataError(f"test {self.test_id}: cooldown_weeks must be >= 0, got {self.cooldown_weeks}.")
        if self.planned_spend is not None and not (np.isfinite(self.planned_spend) and self.planned_spend >= 0):
            raise ExperimentDataError(
                f"test {self.test_id}: planned_spend must be a spend per week >= 0, got {self.planned_spend}; "
                "leave it empty to estimate it from the donor geos."
            )

    @property
    def test_weeks(self) -> int:
        """Number of test weeks (window, inclusive)."""
        return round((self.end_week - self.start_week) / _WEEK) + 1

    @property
    def last_counted_week(self) -> pd.Timestamp:
        """Last week whose KPI counts into the lift (end of the cool-down, before cutting at the data's end)."""
        return self.end_week + int(self.cooldown_weeks) * _WEEK

    def overlaps(self, other: GeoTest) -> bool:
        """Tell whether the two tests' windows, cool-downs included, share a week."""
        return not (other.last_counted_week < self.start_week or self.last_counted_week < other.start_week)


def tests_from_design(design: pd.DataFrame, cooldown_weeks: int = DEFAULT_COOLDOWN_WEEKS) -> list[GeoTest]:
    """Read a lift-test design table (``test_id, channel, geo, start_week, end_week``) into :class:`GeoTest` s.

    Optional columns ``cooldown_weeks`` and ``planned_spend`` override the defaults per test.
    The world's ``lift_tests`` table is such a table (its measurement columns are ignored).

    Raises
    ------
    ExperimentDataError
        When a column is missing, a test id repeats or a row is not a valid test.
    """
    missing = [c for c in DESIGN_COLUMNS if c not in design.columns]
    if missing:
        raise ExperimentDataError(
            f"the lift-test design lacks column(s) {missing} (has {list(design.columns)}); "
            f"it needs {list(DESIGN_COLUMNS)}, one row per test."
        )
    dupes = sorted(design.loc[design["test_id"].duplicated(), "test_id"].astype(str).unique())
    if dupes:
        raise ExperimentDataError(f"the lift-test design repeats test_id {dupes}; give each test its own id.")
    tests = []
    for row in design.to_dict("records"):
        cool = row.get("cooldown_weeks", cooldown_weeks)
        planned = row.get("planned_spend")
        tests.append(
            GeoTest(
                test_id=str(row["test_id"]),
                channel=str(row["channel"]),
                geo=str(row["geo"]),
                start_week=row["start_week"],
                end_week=row["end_week"],
                cooldown_weeks=int(cooldown_weeks if pd.isna(cool) else cool),
                planned_spend=None if planned is None or pd.isna(planned) else float(planned),
            )
        )
    return tests


def overlapping_pairs(tests: Sequence[GeoTest]) -> list[tuple[GeoTest, GeoTest]]:
    """Pairs of tests in one geo whose windows (cool-down included) overlap."""
    return [(a, b) for i, a in enumerate(tests) for b in tests[i + 1 :] if a.geo == b.geo and a.overlaps(b)]


def check_overlaps(tests: Sequence[GeoTest]) -> None:
    """Refuse two tests on one geo whose windows (cool-down included) overlap.

    Raises
    ------
    ExperimentDataError
        Naming both tests: their effects land in the same weeks of the same geo.
    """
    for a, b in overlapping_pairs(tests):
        raise GeoDesignConflict(
            f"tests {a.test_id} and {b.test_id} both run in geo {a.geo!r} and their windows overlap "
            f"({a.start_week.date()}..{a.last_counted_week.date()} and "
            f"{b.start_week.date()}..{b.last_counted_week.date()}, cool-down included): their effects "
            "cannot be told apart. Read them out as one test (one row spanning both), shorten "
            "cooldown_weeks so the windows no longer meet, or leave them out (conflicts='skip')."
        )


@dataclass(frozen=True, eq=False)
class PreparedGeoTest:
    """A checked test and the data its readout needs.

    Attributes
    ----------
    test
        The test.
    kpi
        KPI by week (index) and geo (columns): the test geo and its donors, from the first
        week to the end of the cool-down; pre-period weeks in which a geo was under another
        test are dropped.
    donors
        Donor geos (the other geos not under test in this test's window).
    controls
        Control columns by week (same index as ``kpi``), possibly empty.
    treatment_week
        First test week: rows before it are the pre-period.
    pre_weeks
        Usable pre-period weeks.
    cooldown_weeks
        Cool-down weeks inside the data (``test.cooldown_weeks`` cut at the data's end).
    x, delta_x
        Planned spend per test week and the mean change of spend per test week.
    planned_spend_source
        ``"given"`` or how ``x`` was estimated.
    geo_share
        The test geo's share of the channel's spend outside the test window (for a national MMM;
        the share :func:`galaxy_lib.mmm.lift_tests.prepare_lift_tests` would measure itself).
    """

    test: GeoTest
    kpi: pd.DataFrame
    donors: tuple[str, ...]
    controls: pd.DataFrame
    treatment_week: pd.Timestamp
    pre_weeks: int
    cooldown_weeks: int
    x: float
    delta_x: float
    planned_spend_source: str
    geo_share: float
    excluded_donors: tuple[str, ...] = field(default=())


def _require_columns(df: pd.DataFrame, cols: Sequence[str], table: str, role: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ExperimentDataError(
            f"the {table} table lacks column(s) {missing} (has {list(df.columns)}); "
            f"pass its {role} or rename the column(s)."
        )


def _kpi_wide(
    kpi: pd.DataFrame, kpi_column: str, week_column: str, geo_column: str, control_columns: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check the KPI table and pivot it to week x geo (plus the controls by week)."""
    _require_columns(kpi, [week_column, geo_column], "KPI", "week_column / geo_column")
    _require_columns(kpi, [kpi_column], "KPI", "kpi_column")
    _require_columns(kpi, list(control_columns), "KPI", "control_columns")
    df = kpi[[week_column, geo_column, kpi_column, *control_columns]].copy()
    df[week_column] = pd.to_datetime(df[week_column])
    df[geo_column] = df[geo_column].astype(str)
    values = pd.to_numeric(df[kpi_column], errors="coerce")
    if values.isna().any():
        bad = df.loc[values.isna()]
        first = bad.iloc[0]
        raise ExperimentDataError(
            f"KPI column {kpi_column!r} has {len(bad)} missing or non-numeric value(s) (first: geo "
            f"{first[geo_column]!r}, week {first[week_column].date()}); fill them or drop the geo."
        )
    df[kpi_column] = values
    dup = df.duplicated([week_column, geo_column])
    if dup.any():
        first = df.loc[dup].iloc[0]
        raise ExperimentDataError(
            f"the KPI table has {int(dup.sum())} repeated ({week_column}, {geo_column}) row(s) (first: "
            f"{first[geo_column]!r}, {first[week_column].date()}); aggregate to one row per week and geo."
        )
    wide = df.pivot(index=week_column, columns=geo_column, values=kpi_column).sort_index()
    weeks = pd.date_range(wide.index.min(), wide.index.max(), freq="7D")
    if len(weeks) != len(wide.index) or not weeks.equals(pd.DatetimeIndex(wide.index)):
        raise ExperimentDataError(
            f"the KPI table's {week_column!r} is not a regular weekly series from {wide.index.min().date()} "
            f"to {wide.index.max().date()} (missing weeks: {[w.date() for w in weeks.difference(wide.index)[:5]]}); "
            "give one row per geo for every week (week starts on the same weekday)."
        )
    holes = wide.isna()
    if holes.any().any():
        geo = holes.sum().idxmax()
        missing_weeks = [w.date() for w in wide.index[holes[geo]][:5]]
        raise ExperimentDataError(
            f"geo {geo!r} has no KPI row for {int(holes[geo].sum())} week(s) (first: {missing_weeks}); "
            "fill the weeks or drop the geo from the KPI table."
        )
    wide.columns = wide.columns.astype(str)
    controls = df.groupby(week_column)[list(control_columns)].mean() if control_columns else pd.DataFrame()
    if len(control_columns):
        controls = controls.apply(pd.to_numeric, errors="coerce").reindex(wide.index)
        bad_controls = [c for c in control_columns if controls[c].isna().any()]
        if bad_controls:
            raise ExperimentDataError(
                f"control column(s) {bad_controls} have missing or non-numeric values; fill them."
            )
    return wide, controls


def _spend_wide(
    spend: pd.DataFrame, test: GeoTest, spend_column: str, week_column: str, geo_column: str, weeks: pd.Index
) -> pd.DataFrame:
    """Weekly spend of the test's channel by geo (0 where no row), checked."""
    _require_columns(spend, [week_column, geo_column, "channel"], "spend", "week_column / geo_column")
    _require_columns(spend, [spend_column], "spend", "spend_column")
    channels = sorted(spend["channel"].astype(str).unique())
    if test.channel not in channels:
        raise ExperimentDataError(
            f"test {test.test_id}: channel {test.channel!r} is not in the spend table's 'channel' column "
            f"(channels: {channels}); fix the test's channel or add its spend rows."
        )
    part = spend.loc[spend["channel"].astype(str) == test.channel]
    wide = part.assign(**{week_column: pd.to_datetime(part[week_column]), geo_column: part[geo_column].astype(str)})
    wide = wide.pivot_table(index=week_column, columns=geo_column, values=spend_column, aggfunc="sum")
    if test.geo not in wide.columns:
        raise ExperimentDataError(
            f"test {test.test_id}: the spend table has no {test.channel!r} rows for geo {test.geo!r} "
            f"(geos with {test.channel} spend: {sorted(wide.columns)}); add them or fix the test's geo."
        )
    return wide.reindex(weeks).fillna(0.0)


def _planned_spend(test: GeoTest, sp: pd.DataFrame, donors: Sequence[str], pre_index: pd.Index) -> tuple[float, str]:
    """Planned spend per test week: given, or the donors' spend scaled by the pre-period ratio."""
    if test.planned_spend is not None:
        return float(test.planned_spend), "given"
    recent = pre_index[-26:]
    donor_pre = float(sp.loc[recent, list(donors)].to_numpy().sum())
    own_pre = float(sp.loc[recent, test.geo].sum())
    window = sp.loc[test.start_week : test.end_week]
    donor_window = window[list(donors)].to_numpy().sum(axis=1)
    if donor_pre <= 0 or own_pre <= 0 or (donor_window <= 0).all():
        raise ExperimentDataError(
            f"test {test.test_id}: the planned spend (x) of {test.channel!r} in {test.geo!r} cannot be estimated: "
            f"the donors {list(donors)} and the test geo need {test.channel} spend in the {len(recent)} weeks "
            "before the test and the donors during it. Give planned_spend (spend per week without the test)."
        )
    ratio = own_pre / donor_pre
    how = f"donors' spend x {ratio:.3f} (test geo / donors over the last {len(recent)} usable pre-period weeks)"
    return float(ratio * donor_window.mean()), how


def prepare_geo_test(
    kpi: pd.DataFrame,
    spend: pd.DataFrame,
    test: GeoTest,
    *,
    other_tests: Sequence[GeoTest] = (),
    kpi_column: str = "revenue",
    spend_column: str = "spend",
    week_column: str = "week",
    geo_column: str = "geo",
    control_columns: Sequence[str] = (),
    min_pre: int | None = None,
) -> PreparedGeoTest:
    """Check one geo test against its data and assemble what the readout fits (nothing is fitted here).

    Parameters
    ----------
    kpi
        Per-geo weekly KPI: ``week_column``, ``geo_column``, ``kpi_column`` (and ``control_columns``).
    spend
        Per-geo weekly spend by channel: ``week_column``, ``geo_column``, ``channel``, ``spend_column``.
    test
        The test.
    other_tests
        Other tests of the same design: their geos leave the donor pool while they run, and
        their weeks leave the pre-period (see the module docstring).
    kpi_column, spend_column, week_column, geo_column, control_columns
        Column names.
    min_pre
        Usable pre-period weeks required; default :func:`min_pre_weeks` of the test length.

    Raises
    ------
    ExperimentDataError
        With the column, geo or test and the fix (module docstring lists the checks).
    """
    wide, controls = _kpi_wide(kpi, kpi_column, week_column, geo_column, control_columns)
    geos = list(wide.columns)
    if test.geo not in geos:
        raise ExperimentDataError(
            f"test {test.test_id}: test geo {test.geo!r} is not in the KPI table's {geo_column!r} column "
            f"(geos: {geos}); fix the test's geo or add its KPI rows."
        )
    first, last = wide.index.min(), wide.index.max()
    for name, week in (("start_week", test.start_week), ("end_week", test.end_week)):
        if week not in wide.index:
            raise ExperimentDataError(
                f"test {test.test_id}: {name} {week.date()} is not a week of the KPI table's {week_column!r} "
                f"({first.date()}..{last.date()}, weekly); give a week start inside the data."
            )
    sp = _spend_wide(spend, test, spend_column, week_column, geo_column, wide.index)
    others = [o for o in other_tests if o.test_id != test.test_id]
    for o in others:
        check_overlaps([test, o])
    concurrent = {o.geo for o in others if o.overlaps(test)}
    excluded = tuple(sorted(g for g in concurrent if g != test.geo))
    donors = tuple(g for g in geos if g != test.geo and g not in concurrent)
    if not donors:
        if not excluded:
            raise ExperimentDataError(
                f"test {test.test_id}: no donor geo for {test.geo!r}: it is the only geo of the KPI table. "
                "The counterfactual needs at least one other geo; add the KPI of geos without the test."
            )
        raise GeoDesignConflict(
            f"test {test.test_id}: no donor geo for {test.geo!r}: the other geos {excluded} are under test at "
            "the same time. The counterfactual needs at least one geo without a test in the window (cool-down "
            "included); move a test, add geos, or leave this test out (conflicts='skip')."
        )
    stop = min(test.last_counted_week, last)
    keep = wide.index <= stop
    busy = pd.Series(False, index=wide.index)
    for o in others:
        if o.geo in (test.geo, *donors):
            busy |= (wide.index >= o.start_week) & (wide.index <= o.last_counted_week)
    keep &= ~(busy.to_numpy() & (wide.index < test.start_week))
    panel = wide.loc[keep, [test.geo, *donors]]
    pre_index = panel.index[panel.index < test.start_week]
    needed = min_pre if min_pre is not None else min_pre_weeks(test.test_weeks)
    if len(pre_index) < needed:
        dropped = int((wide.index < test.start_week).sum()) - len(pre_index)
        raise ExperimentDataError(
            f"test {test.test_id}: the pre-period has {len(pre_index)} usable week(s) before start_week "
            f"{test.start_week.date()}"
            + (f" ({dropped} more were under other tests)" if dropped else "")
            + f"; a {test.test_weeks}-week test needs at least {needed} (max({MIN_PRE_WEEKS}, "
            f"{PRE_WEEKS_PER_TEST_WEEK} x test weeks)). Give KPI history further back, start the test later, "
            "or lower min_pre_weeks knowingly."
        )
    x, how = _planned_spend(test, sp, donors, pre_index)
    delta_x = float(sp.loc[test.start_week : test.end_week, test.geo].mean()) - x
    outside = (sp.index < test.start_week) | (sp.index > test.end_week)
    total = float(sp.loc[outside].to_numpy().sum())
    share = float(sp.loc[outside, test.geo].sum()) / total if total > 0 else float("nan")
    return PreparedGeoTest(
        test=test,
        kpi=panel,
        donors=donors,
        controls=controls.loc[panel.index] if len(control_columns) else pd.DataFrame(index=panel.index),
        treatment_week=test.start_week,
        pre_weeks=len(pre_index),
        cooldown_weeks=round((stop - test.end_week) / _WEEK),
        x=x,
        delta_x=delta_x,
        planned_spend_source=how,
        geo_share=share,
        excluded_donors=excluded,
    )
