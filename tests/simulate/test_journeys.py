"""Journeys: known causes of conversions, true credit, position bias, coherence with spend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.core.contracts import TOUCH_CHANNELS


@pytest.fixture(scope="module")
def journeys(ci_world):
    return ci_world.table("touchpoints"), ci_world.table("conversions"), ci_world.truth_table("conversions")


def test_channel_credit_sums_to_one_and_matches_the_cause_table(ci_world, journeys):
    _, _, causes = journeys
    mta = ci_world.truth["mta"]
    assert sum(mta["channel_credit"].values()) == pytest.approx(1.0, abs=1e-12)
    assert set(mta["channel_credit"]) == set(TOUCH_CHANNELS)
    counts = causes["cause"].value_counts()
    marketing = counts.drop("baseline")
    for c in TOUCH_CHANNELS:
        assert mta["channel_credit"][c] == pytest.approx(marketing.get(c, 0) / marketing.sum(), abs=1e-12)
    assert mta["baseline_share"] == pytest.approx(counts["baseline"] / counts.sum(), abs=1e-12)
    assert 0.15 < mta["baseline_share"] < 0.5


def test_upper_funnel_channels_carry_the_causal_credit(ci_world):
    credit = ci_world.truth["mta"]["channel_credit"]
    for upper in ("social", "display", "video"):
        assert credit[upper] > 2 * credit["search"] and credit[upper] > 2 * credit["direct"]


def test_cause_table_matches_conversions(journeys):
    _, conv, causes = journeys
    merged = conv.merge(causes, on="conversion_id", suffixes=("", "_truth"), validate="one_to_one")
    assert len(merged) == len(conv) == len(causes)
    assert (merged["customer_id"] == merged["customer_id_truth"]).all()
    assert (merged["ts"] == merged["ts_truth"]).all()
    assert (causes["trigger_event_id"].isna() == (causes["cause"] == "baseline")).all()


def test_no_conversion_is_attributed_to_a_touch_before_the_first_touch(journeys):
    touches, _, causes = journeys
    att = causes.dropna(subset=["trigger_event_id"]).merge(
        touches[["event_id", "customer_id", "ts", "channel"]],
        left_on="trigger_event_id",
        right_on="event_id",
        suffixes=("", "_touch"),
        validate="one_to_one",
    )
    assert len(att) == causes["trigger_event_id"].notna().sum()
    assert (att["customer_id"] == att["customer_id_touch"]).all()
    assert (att["channel"] == att["cause"]).all()
    assert (att["ts"] > att["ts_touch"]).all()
    first = touches.groupby("customer_id")["ts"].min()
    assert (att["ts"] > first.loc[att["customer_id"]].to_numpy()).all()
    assert (att["ts_touch"] >= first.loc[att["customer_id"]].to_numpy()).all()


def _last_touch(touches: pd.DataFrame, conv: pd.DataFrame) -> pd.Series:
    t = touches.sort_values("ts")[["customer_id", "ts", "channel"]]
    c = conv.sort_values("ts")[["conversion_id", "customer_id", "ts"]]
    m = pd.merge_asof(c, t, on="ts", by="customer_id", direction="backward", allow_exact_matches=True)
    return m["channel"].dropna().value_counts(normalize=True)


def test_last_touch_is_biased_towards_navigational_channels(ci_world, journeys):
    touches, conv, _ = journeys
    lt = _last_touch(touches, conv)
    recorded = ci_world.truth["mta"]["last_touch_share"]
    for c in TOUCH_CHANNELS:
        assert recorded[c] == pytest.approx(lt.get(c, 0.0), abs=0.005)
    credit = ci_world.truth["mta"]["channel_credit"]
    nav_last = lt.get("search", 0) + lt.get("direct", 0)
    assert nav_last > 0.5
    assert nav_last > 3 * (credit["search"] + credit["direct"])


def test_navigational_touch_precedes_most_conversions(journeys):
    touches, conv, _ = journeys
    nav = touches[touches["channel"].isin(["search", "direct"])].sort_values("ts")
    c = conv.sort_values("ts")
    m = pd.merge_asof(
        c,
        nav[["customer_id", "ts"]].rename(columns={"ts": "nav_ts"}),
        left_on="ts",
        right_on="nav_ts",
        by="customer_id",
        direction="backward",
    )
    within_day = ((m["ts"] - m["nav_ts"]) < pd.Timedelta(days=1)).mean()
    assert 0.55 < within_day < 0.8  # NAV_PROB = 0.65 plus chance organic touches


def test_touch_volume_follows_spend_in_the_customer_geo(ci_world, journeys):
    touches, _, _ = journeys
    cust = ci_world.table("customers")[["customer_id", "geo"]]
    t = touches.merge(cust, on="customer_id")
    t["week"] = t["ts"].dt.to_period("W-SUN").dt.start_time
    spend = ci_world.table("spend")
    for channel in ("social", "display", "video"):
        weekly = t[t.channel == channel].groupby("week").size()
        s = spend[spend.channel == channel].groupby("week")["spend"].sum()
        joined = pd.concat([weekly.rename("n"), s.rename("spend")], axis=1).fillna(0)
        joined = joined.iloc[20:]  # after the customer base has mostly signed up
        assert np.corrcoef(joined["n"], joined["spend"])[0, 1] > 0.5, channel


def test_touches_carry_campaigns_and_creatives_of_their_channel(ci_world, journeys):
    touches, _, _ = journeys
    creatives = ci_world.table("creatives").set_index("creative_id")
    with_creative = touches.dropna(subset=["creative_id"])
    assert set(with_creative["channel"]) == {"social", "display", "video", "email"}
    assert (creatives.loc[with_creative["creative_id"], "channel"].to_numpy() == with_creative["channel"]).all()
    assert touches.loc[touches.channel.isin(["search", "direct"]), "creative_id"].isna().all()
    paid = touches[touches.channel != "direct"]
    quarter = paid["ts"].dt.year.astype(str) + "Q" + paid["ts"].dt.quarter.astype(str)
    assert (paid["campaign_id"] == paid["channel"] + "-" + quarter).all()
    assert (touches.loc[touches.channel == "direct", "campaign_id"] == "direct").all()


def test_touches_per_customer_and_revenue_per_conversion(ci_world, journeys):
    touches, conv, _ = journeys
    assert 10 <= len(touches) / 2000 <= 20
    cust = ci_world.table("customers").set_index("customer_id")
    ratio = conv["revenue"].to_numpy() / cust.loc[conv["customer_id"], "avg_order_value"].to_numpy()
    assert 0.8 < np.mean(ratio) < 1.2
    assert (conv["revenue"] > 0).all()
