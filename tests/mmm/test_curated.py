"""The MMM's curated table: mmm_weekly built by staging from staged kpi and spend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.core.contracts import ContractError
from galaxy_lib.core.store import DataStore
from galaxy_lib.mmm.curated import MMM_WEEKLY, NATIONAL, build_mmm_weekly
from galaxy_lib.pipeline.staging import stage_world
from tests.fixtures.raw_world import SALT, WEEKS, write_raw


@pytest.fixture()
def raw_store(tmp_path: Path) -> DataStore:
    return write_raw(tmp_path / "world")


@pytest.fixture()
def staged(raw_store: DataStore) -> tuple[DataStore, object]:
    return raw_store, stage_world(raw_store, SALT, progress=False, curated_tables=[MMM_WEEKLY])


def test_mmm_weekly_is_declared_by_the_mmm() -> None:
    assert (MMM_WEEKLY.name, MMM_WEEKLY.requires, MMM_WEEKLY.owner) == ("mmm_weekly", ("spend", "kpi"), "mmm")
    assert MMM_WEEKLY.build is build_mmm_weekly and NATIONAL == "ALL"


def test_mmm_weekly_national_total_is_the_sum_of_geos(staged) -> None:
    store, _ = staged
    mmm = store.read("curated", "mmm_weekly")
    assert list(mmm.columns) == [
        "week",
        "geo",
        "revenue",
        "conversions",
        "price_index",
        "holiday",
        "spend_tv",
        "impressions_tv",
        "spend_search",
        "impressions_search",
    ]
    geos = mmm[mmm["geo"] != "ALL"]
    national = mmm[mmm["geo"] == "ALL"].set_index("week")
    assert len(geos) == 6 and len(national) == 3
    summed = geos.groupby("week")[["revenue", "conversions", "spend_tv", "spend_search", "impressions_tv"]].sum()
    pd.testing.assert_frame_equal(national[summed.columns], summed, check_names=False)
    assert np.allclose(national["price_index"], geos.groupby("week")["price_index"].mean())
    assert national["holiday"].tolist() == [0, 1, 0]
    # per-geo values come straight from staged kpi and spend
    kpi = store.read("staged", "kpi").set_index(["week", "geo"])
    per = geos.set_index(["week", "geo"])
    assert np.allclose(per["revenue"], kpi.loc[per.index, "revenue"])
    spend = store.read("staged", "spend")
    tv = spend[spend["channel"] == "tv"].set_index(["week", "geo"])["spend"]
    assert np.allclose(per.loc[tv.index, "spend_tv"], tv)
    # the quarantined negative spend is not in the table: that cell has no tv spend
    assert per.loc[(WEEKS[1], "south"), "spend_tv"] == 0.0
    assert national.loc[WEEKS[1], "spend_tv"] == tv.xs(WEEKS[1], level="week").sum()


def test_reserved_national_geo(raw_store: DataStore) -> None:
    kpi = raw_store.read("raw", "kpi")
    kpi.loc[0, "geo"] = "ALL"
    raw_store.write("raw", "kpi", kpi)
    with pytest.raises(ContractError, match="reserves for the national total"):
        stage_world(raw_store, SALT, progress=False, curated_tables=[MMM_WEEKLY])


def test_spend_geos_without_kpi_are_refused(staged) -> None:
    """A national spend file next to a per-geo KPI file would join nothing: spend silently zero."""
    store, _ = staged
    spend = store.read("staged", "spend")
    store.write("staged", "spend", spend.assign(geo="national"))
    with pytest.raises(ContractError, match=r"Spend geo\(s\) \['national'\] have no KPI rows"):
        build_mmm_weekly(store)


def test_other_channels_follow_the_mmm_channels_with_safe_column_names(staged) -> None:
    store, _ = staged
    spend = store.read("staged", "spend")
    extra = spend[spend["channel"] == "search"].assign(channel="Radio / Podcast", spend=7.0)
    store.write("staged", "spend", pd.concat([spend, extra], ignore_index=True))
    built = build_mmm_weekly(store)
    mmm = store.read("curated", "mmm_weekly")
    assert built.rows == len(mmm) == 9 and built.notes == ()
    assert [c for c in mmm.columns if c.startswith("spend_")] == ["spend_tv", "spend_search", "spend_radio_podcast"]
    national = mmm[mmm["geo"] == NATIONAL]
    assert national["spend_radio_podcast"].tolist() == [14.0, 14.0, 14.0]


def test_channels_that_collide_after_renaming_are_refused(staged) -> None:
    store, _ = staged
    spend = store.read("staged", "spend")
    extra = spend[spend["channel"] == "search"].assign(channel="Search")
    store.write("staged", "spend", pd.concat([spend, extra], ignore_index=True))
    with pytest.raises(ContractError, match="do not give distinct column names"):
        build_mmm_weekly(store)
