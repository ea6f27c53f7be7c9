"""Journeys from staged events: windows, null journeys, consent and quarantine, on a hand-made store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from galaxy_lib.core.store import DataStore
from galaxy_lib.mta import build_journeys, heuristic_attribution
from galaxy_lib.mta.analysis import publishable_paths, top_paths

from .conftest import SMALL_PATHS

DAY0 = pd.Timestamp("2024-01-01 12:00")


def d(days: float) -> pd.Timestamp:
    return DAY0 + pd.Timedelta(days=days)


@pytest.fixture()
def store(tmp_path: Path) -> DataStore:
    touches = [
        # k1: converts on day 22 after three touches, then two touches 40 days apart and no conversion
        ("k1", 1, "search"),
        ("k1", 5, "email"),
        ("k1", 20, "display"),
        ("k1", 40, "social"),
        ("k1", 80, "video"),
        # k2: converts on day 3, before the first touch (day 10)
        ("k2", 10, "direct"),
        # k3: converts on day 50, the only touch is on day 1 (outside a 30-day lookback)
        ("k3", 1, "search"),
        # k4: no measurement consent
        ("k4", 1, "search"),
        ("k4", 2, "video"),
        # k5: two conversions, each with its own journey
        ("k5", 1, "video"),
        ("k5", 2, "social"),
        ("k5", 4, "search"),
    ]
    tp = pd.DataFrame(
        {
            "event_id": [f"E{i:03d}" for i in range(len(touches))],
            "customer_key": [t[0] for t in touches],
            "ts": [d(t[1]) for t in touches],
            "channel": [t[2] for t in touches],
            "campaign_id": "c",
            "creative_id": None,
            "ingested_at": [d(t[1]) for t in touches],
        }
    )
    convs = [("k1", 22, 50.0), ("k2", 3, 7.0), ("k3", 50, 9.0), ("k4", 3, 11.0), ("k5", 3, 10.0), ("k5", 5, 20.0)]
    cv = pd.DataFrame(
        {
            "conversion_id": [f"V{i:03d}" for i in range(len(convs))],
            "customer_key": [c[0] for c in convs],
            "ts": [d(c[1]) for c in convs],
            "revenue": [c[2] for c in convs],
            "ingested_at": [d(c[1]) for c in convs],
        }
    )
    consent = pd.DataFrame(
        {
            "customer_key": ["k1", "k2", "k3", "k5", "k4"],
            "purpose": ["measurement"] * 4 + ["advertising"],
            "tcf_purposes": "1,7,9",
            "granted_at": [pd.Timestamp("2023-01-01")] * 5,
            "withdrawn_at": [pd.NaT] * 5,
        }
    )
    s = DataStore(tmp_path / "world")
    s.write("staged", "touchpoints", tp)
    s.write("staged", "conversions", cv)
    s.write("staged", "consent", consent)
    return s


def test_journeys_windows_and_nulls(store: DataStore) -> None:
    j = build_journeys(store, lookback_days=30, as_of="2025-01-01")
    t = j.paths.table.set_index(["path", "lag_days"])
    assert t.loc[("search > email > display", "21 > 17 > 2"), "total_conversions"] == 1
    assert t.loc[("search > email > display", "21 > 17 > 2"), "total_conversion_value"] == 50
    assert t.loc[("video > social", "2 > 1"), "total_conversion_value"] == 10
    assert t.loc[("search", "1"), "total_conversion_value"] == 20  # k5's second journey
    # non-converting windows: k1's day-40 and day-80 touches (30-day windows), k2's and k3's touches
    nulls = j.paths.table.groupby("path")["total_null"].sum()
    assert nulls.to_dict() == {
        "direct": 1,
        "search": 1,
        "search > email > display": 0,
        "social": 1,
        "video": 1,
        "video > social": 0,
    }
    assert j.null_journeys == 4 and j.conversions == 3 and j.journeys == 7


def test_quarantine_and_consent(store: DataStore) -> None:
    j = build_journeys(store, lookback_days=30, as_of="2025-01-01")
    q = j.quarantine.set_index("conversion_id")
    assert q.loc["V001", "_rule"] == "conversion_before_first_touch"
    assert q.loc["V002", "_rule"] == "no_touch_in_lookback"
    assert "30 days" in q.loc["V002", "_reason"]
    assert j.excluded_customers == 1
    assert j.excluded_touchpoints == 2 and j.excluded_conversions == 1
    s = j.summary()
    assert s["quarantined_conversions"] == 2 and s["consent_excluded_customers"] == 1


def test_longer_lookback_reaches_older_touches(store: DataStore) -> None:
    j = build_journeys(store, lookback_days=60, as_of="2025-01-01")
    paths = set(j.paths.table.loc[j.paths.table["total_conversions"] > 0, "path"])
    assert "search" in paths and j.conversions == 4  # k3's day-1 search now converts on day 50
    assert "V002" not in set(j.quarantine.get("conversion_id", []))


def test_unknown_channels_are_quarantined(store: DataStore) -> None:
    j = build_journeys(
        store, lookback_days=30, channels=["search", "email", "display", "social", "direct"], as_of="2025-01-01"
    )
    assert "video" not in j.paths.channels
    bad = j.quarantine[j.quarantine["_rule"] == "unknown_channel"]
    assert len(bad) == 2 and bad["_reason"].str.contains("video").all()  # k4 is excluded by consent first


def test_time_decay_uses_days_from_events(store: DataStore) -> None:
    j = build_journeys(store, lookback_days=30, as_of="2025-01-01")
    res = heuristic_attribution(j.paths, "time_decay", half_life=7.0)
    assert res.params["decay_unit"] == "days"
    w = pd.Series({"search": 0.5 ** (21 / 7), "email": 0.5 ** (17 / 7), "display": 0.5 ** (2 / 7)})
    expected_display = w["display"] / w.sum() + 0.0
    k5 = pd.Series({"video": 0.5 ** (2 / 7), "social": 0.5 ** (1 / 7)})
    assert res.credit.loc["display", "conversions"] == pytest.approx(expected_display)
    assert res.credit.loc["social", "conversions"] == pytest.approx(k5["social"] / k5.sum())


def test_missing_tables_and_bad_lookback(tmp_path: Path, store: DataStore) -> None:
    with pytest.raises(FileNotFoundError, match=r"staged\.touchpoints is missing"):
        build_journeys(DataStore(tmp_path / "empty"))
    with pytest.raises(ValueError, match="lookback_days must be > 0"):
        build_journeys(store, lookback_days=0)


def _store_of(tmp_path: Path, journeys: list[tuple[str, list[str]]]) -> DataStore:
    """A store where each ``(customer, channels)`` is one converting journey, 20 days after the previous one."""
    touches, convs, last = [], [], {}
    for customer, channels in journeys:
        start = last.get(customer, -20) + 20
        last[customer] = start
        touches += [(customer, start + i, ch) for i, ch in enumerate(channels)]
        convs.append((customer, start + len(channels)))
    tp = pd.DataFrame(
        {
            "event_id": [f"E{i:04d}" for i in range(len(touches))],
            "customer_key": [t[0] for t in touches],
            "ts": [d(t[1]) for t in touches],
            "channel": [t[2] for t in touches],
        }
    )
    cv = pd.DataFrame(
        {
            "conversion_id": [f"V{i:04d}" for i in range(len(convs))],
            "customer_key": [c[0] for c in convs],
            "ts": [d(c[1]) for c in convs],
            "revenue": 10.0,
        }
    )
    customers = sorted({c for c, _ in journeys})
    consent = pd.DataFrame(
        {
            "customer_key": customers,
            "purpose": "measurement",
            "tcf_purposes": "1,7,9",
            "granted_at": pd.Timestamp("2023-01-01"),
            "withdrawn_at": pd.NaT,
        }
    )
    s = DataStore(tmp_path / "kworld")
    s.write("staged", "touchpoints", tp)
    s.write("staged", "conversions", cv)
    s.write("staged", "consent", consent)
    return s


def test_k_anonymity_counts_distinct_customers_not_journeys(tmp_path: Path) -> None:
    """12 journeys of 2 customers are 2 people: suppressed at k=10; 12 journeys of 12 customers are shown."""
    store = _store_of(
        tmp_path,
        [(c, ["search", "video"]) for c in ("a", "b") for _ in range(6)]
        + [(f"c{i:02d}", ["email"]) for i in range(12)],
    )
    j = build_journeys(store, lookback_days=15, as_of="2025-01-01")
    journeys = j.paths.aggregate().table.set_index("path")["total_conversions"]
    assert journeys.to_dict() == {"email": 12, "search > video": 12}
    assert j.paths.customers.to_dict() == {"email": 12, "search > video": 2}

    pub = publishable_paths(j.paths, k=10)
    shown = pub.table.set_index("path")
    assert "search > video" not in shown.index, "12 journeys of 2 customers must not be published at k=10"
    assert pub.suppressed_paths == 1 and pub.suppressed_journeys == 12 and pub.counted_by == "customers"
    assert shown.loc["email", "customers"] == 12 and shown.loc["email", "journeys"] == 12
    other = shown.loc["(paths with fewer than 10 customers)"]
    assert other.isna().all()  # how many distinct customers the merged paths share is unknown: blanked
    assert "seen by fewer than 10 customers" in pub.summary()
    assert top_paths(j.paths, min_journeys=10)["path"].tolist() == ["email"]

    # an aggregated table from a file cannot say who travelled a path: journeys are counted, as said
    assert SMALL_PATHS.customers is None and publishable_paths(SMALL_PATHS, k=10).counted_by == "journeys"


def test_batches_give_the_same_journeys(store: DataStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Events are streamed through the consent filter in batches: the batch size changes nothing."""
    import galaxy_lib.mta.journeys as journeys_module

    whole = build_journeys(store, lookback_days=30, as_of="2025-01-01")
    monkeypatch.setattr(journeys_module, "BATCH_ROWS", 2)
    batched = build_journeys(store, lookback_days=30, as_of="2025-01-01")
    pd.testing.assert_frame_equal(whole.paths.table, batched.paths.table)
    pd.testing.assert_frame_equal(whole.quarantine, batched.quarantine)
    pd.testing.assert_series_equal(whole.paths.customers, batched.paths.customers)
    assert whole.summary() == batched.summary()
