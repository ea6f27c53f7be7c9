"""Ingestion of a user's own files: structural errors, quarantined rows, counts that add up."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from galaxy_lib.core.channels import ChannelMap
from galaxy_lib.core.config import ConfigError, validate_params
from galaxy_lib.core.contracts import NATIONAL_GEO, ContractError, contract_for
from galaxy_lib.core.quarantine import META_COLUMNS, quarantine_summary, read_quarantine
from galaxy_lib.core.store import DataStore
from galaxy_lib.pipeline.ingest import IngestConfig, IngestResult, ingest_file
from galaxy_lib.pipeline.rowchecks import check_rows, describe_failure
from galaxy_lib.pipeline.staging import stage_world

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"


@pytest.fixture()
def store(tmp_path: Path) -> DataStore:
    return DataStore(tmp_path / "store")


def _assert_adds_up(r: IngestResult) -> None:
    assert r.rows_in == r.rows_accepted + r.rows_quarantined
    assert sum(r.reasons.values()) == r.rows_quarantined


# --------------------------------------------------------------------------- the acceptance case


def test_missing_column_names_it_and_the_mapping_fix(store: DataStore) -> None:
    with pytest.raises(ContractError) as exc:
        ingest_file(FIXTURES / "spend_missing_column.csv", "spend", store)
    msg = str(exc.value)
    assert "'spend'" in msg
    assert "add mapping: {'spend': '<your column>'}" in msg
    # the file's columns are listed so the user can pick theirs
    for col in ("week", "geo", "channel", "cost", "impressions", "clicks"):
        assert repr(col) in msg
    # only spend is missing: the other columns are not asked for
    assert "'week': '<your column>'" not in msg
    assert not store.exists("raw", "spend") and not store.exists("quarantine", "spend")


def test_the_suggested_mapping_fixes_it(store: DataStore) -> None:
    r = ingest_file(FIXTURES / "spend_missing_column.csv", "spend", store, mapping={"spend": "cost"})
    assert (r.rows_in, r.rows_accepted, r.rows_quarantined) == (3, 3, 0)
    stored = store.read("raw", "spend")
    assert "cost" not in stored.columns
    assert stored["spend"].tolist() == [1000.0, 400.0, 800.0]


def test_dirty_spend_rows_are_quarantined_with_rule_and_reason(store: DataStore) -> None:
    r = ingest_file(FIXTURES / "spend_dirty.csv", "spend", store, source="acme_spend_export")
    _assert_adds_up(r)
    assert (r.rows_in, r.rows_accepted, r.rows_quarantined) == (7, 3, 4)
    assert r.reasons == {
        "greater_than_or_equal_to(0)": 1,
        "unparseable_date": 1,
        "duplicate_key": 1,
        "coerce_dtype('float64')": 1,
    }

    q = read_quarantine(store, "spend").sort_values("_row").reset_index(drop=True)
    assert q["_row"].tolist() == [2, 3, 4, 6]
    by_row = dict(zip(q["_row"], zip(q["_rule"], q["_reason"], strict=True), strict=True))
    assert by_row[2] == ("greater_than_or_equal_to(0)", "row 2: spend = -120.0 is negative; spend must be >= 0")
    assert by_row[3] == ("unparseable_date", "row 3: unparseable date in column 'week': '2023-13-45'")
    assert by_row[4] == (
        "duplicate_key",
        "row 4: duplicate key (week, geo, channel) = ('2023-01-02', 'North', 'tv'); first seen at row 1",
    )
    assert by_row[6] == ("coerce_dtype('float64')", "row 6: spend = '12O.5' is not a number")
    # original values survive as text, junk included
    assert q.loc[q["_row"] == 6, "spend"].item() == "12O.5"
    assert q.loc[q["_row"] == 3, "week"].item() == "2023-13-45"
    assert set(META_COLUMNS) <= set(q.columns)
    assert (q["_source"] == "acme_spend_export").all()
    assert q["_quarantined_at"].notna().all()

    good = store.read("raw", "spend").sort_values(["week", "channel"]).reset_index(drop=True)
    assert good[["geo", "channel", "spend"]].values.tolist() == [
        ["North", "tv", 1000.0],
        ["South", "display", 300.5],
        ["South", "tv", 800.0],
    ]
    assert str(good["week"].dtype) == "datetime64[ns]"


def test_duplicate_event_id_in_touchpoints(store: DataStore) -> None:
    r = ingest_file(FIXTURES / "touchpoints_dup.csv", "touchpoints", store)
    _assert_adds_up(r)
    assert (r.rows_in, r.rows_accepted, r.rows_quarantined) == (4, 3, 1)
    assert r.reasons == {"duplicate_key": 1}
    q = read_quarantine(store, "touchpoints")
    assert q["_reason"].item() == "row 3: duplicate key (event_id) = ('E0000002'); first seen at row 2"
    stored = store.read("raw", "touchpoints")
    assert sorted(stored["event_id"]) == ["E0000001", "E0000002", "E0000003"]
    # the first copy is the one kept
    assert stored.loc[stored["event_id"] == "E0000002", "channel"].item() == "email"
    # empty creative ids are missing values, not the text "nan"
    assert stored["creative_id"].isna().sum() == 2


def test_summary_counts_rules_per_table(store: DataStore) -> None:
    ingest_file(FIXTURES / "spend_dirty.csv", "spend", store)
    ingest_file(FIXTURES / "touchpoints_dup.csv", "touchpoints", store)
    s = quarantine_summary(store)
    assert list(s.columns) == ["table", "rule", "rows", "example_reason"]
    assert s["rows"].sum() == 5
    assert s.groupby("table")["rows"].sum().to_dict() == {"spend": 4, "touchpoints": 1}
    dup = s[(s["table"] == "touchpoints") & (s["rule"] == "duplicate_key")]
    assert dup["example_reason"].item().startswith("row 3: duplicate key (event_id)")


# --------------------------------------------------------------------------- appending


def test_ingesting_twice_appends_and_never_doubles(store: DataStore) -> None:
    first = ingest_file(FIXTURES / "spend_dirty.csv", "spend", store)
    again = ingest_file(FIXTURES / "spend_dirty.csv", "spend", store)
    _assert_adds_up(again)
    assert again.rows_accepted == 0
    # the 3 rows accepted the first time are now duplicates of stored rows
    assert again.reasons["duplicate_key"] == 1 + first.rows_accepted
    assert len(store.read("raw", "spend")) == first.rows_accepted
    q = read_quarantine(store, "spend")
    assert q["_reason"].str.contains("already stored in raw.spend").sum() == first.rows_accepted

    # a file of new weeks extends the table
    new = pd.DataFrame(
        {
            "week": ["2023-02-06"],
            "geo": ["North"],
            "channel": ["tv"],
            "spend": ["5"],
            "impressions": ["10"],
            "clicks": ["1"],
        }
    )
    path = store.root.parent / "more.csv"
    new.to_csv(path, index=False)
    r = ingest_file(path, "spend", store)
    assert r.rows_accepted == 1
    assert len(store.read("raw", "spend")) == first.rows_accepted + 1


# --------------------------------------------------------------------------- formats and options


def test_parquet_input_and_unsupported_suffix(store: DataStore, tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "week": pd.to_datetime(["2023-01-02", "2023-01-09"]),
            "geo": ["N", "N"],
            "revenue": [10.0, -1.0],
            "conversions": [1.0, 2.0],
            "price_index": [1.0, 1.0],
            "holiday": [0, 1],
        }
    )
    path = tmp_path / "kpi.parquet"
    df.to_parquet(path)
    r = ingest_file(path, "kpi", store)
    assert (r.rows_accepted, r.reasons) == (1, {"greater_than_or_equal_to(0)": 1})
    xlsx = tmp_path / "kpi.xlsx"
    xlsx.write_bytes(b"not really")
    with pytest.raises(ContractError, match=r"unsupported file type \.xlsx.*CSV.*Parquet"):
        ingest_file(xlsx, "kpi", store)


def test_date_format_and_wrong_mapping_source(store: DataStore, tmp_path: Path) -> None:
    path = tmp_path / "kpi_uk.csv"
    path.write_text(
        "Week,geo,revenue,conversions,price_index,holiday\n"
        "02/01/2023,N,10,1,1.0,0\n13/01/2023,N,11,1,1.0,1\n2023-01-20,N,12,1,1.0,0\n"
    )
    with pytest.raises(ContractError, match=r"not in the file: 'week' -> 'week_start'.*'Week'"):
        ingest_file(path, "kpi", store, mapping={"week": "week_start"})
    r = ingest_file(path, "kpi", store, mapping={"week": "Week"}, date_format="%d/%m/%Y")
    assert r.rows_accepted == 2
    assert store.read("raw", "kpi")["week"].dt.strftime("%Y-%m-%d").tolist() == ["2023-01-02", "2023-01-13"]
    reason = read_quarantine(store, "kpi")["_reason"].item()
    assert reason == "row 3: unparseable date in column 'week': '2023-01-20' (expected format '%d/%m/%Y')"


def test_ingest_config_from_a_params_file(store: DataStore) -> None:
    cfg = validate_params(
        IngestConfig,
        {"path": str(FIXTURES / "spend_missing_column.csv"), "table": "spend", "mapping": {"spend": "cost"}},
    )
    r = ingest_file(cfg, store=store)
    assert (r.table, r.rows_accepted) == ("spend", 3)
    with pytest.raises(ConfigError, match="unknown table 'spends'"):
        validate_params(IngestConfig, {"path": "x.csv", "table": "spends"})
    with pytest.raises(ConfigError, match="unknown parameter"):
        validate_params(IngestConfig, {"path": "x.csv", "table": "spend", "maping": {}})


def test_pii_tables_only_into_raw_and_reasons_mask_pii(store: DataStore, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,email,phone,geo,signup_date,age,segment,past_purchases,avg_order_value,email_engagement\n"
        "C00000001,ann@example.com,+44 7700 900123,north,2022-01-01,30,new,0,50,0.2\n"
        "C00000002,bob.example.com,+44 7700 900456,south,2022-01-02,31,new,0,50,0.2\n"
    )
    with pytest.raises(ContractError, match="ingest it into 'raw'"):
        ingest_file(path, "customers", store, zone="staged")
    r = ingest_file(path, "customers", store)
    assert r.reasons == {"str_contains('@')": 1}
    reason = read_quarantine(store, "customers")["_reason"].item()
    assert "bob.example.com" not in reason and reason.startswith("row 2: email = 'b")
    assert "does not contain '@'" in reason


# --------------------------------------------------------------------------- the shared row checks


def test_check_rows_collects_every_failure_of_a_row() -> None:
    contract = contract_for("creatives")
    df = pd.DataFrame(
        {
            "creative_id": ["a", "b", "c", ""],
            "channel": ["social"] * 4,
            "format": ["square"] * 4,
            "headline": ["h"] * 4,
            "product_sku": [None] * 4,
            "body": [None] * 4,
            "disclaimer": [None] * 4,
            "dominant_color": ["blue"] * 4,
            "has_logo": ["yes", "maybe", "0", "1"],
            "text_density": ["0.2", "0.3", "1.7", "0.1"],
            "image_path": ["x.png"] * 4,
            "impressions": ["10", "10", "-5", "10"],
            "clicks": ["1", "1", "1", None],
        }
    )
    out = check_rows(df, contract)
    assert len(out.accepted) + len(out.rejected) == 4
    assert out.accepted["creative_id"].tolist() == ["a"]
    assert out.accepted["has_logo"].tolist() == [True]
    rej = out.rejected.set_index("_row")
    assert rej.loc[2, "_rule"] == "coerce_dtype('bool')"
    assert "has_logo = 'maybe' is not true/false" in rej.loc[2, "_reason"]
    # row 3 breaks two rules: both are in the reason, the first is the rule
    assert rej.loc[3, "_rule"] == "in_range(0, 1)"
    assert "text_density = 1.7 is out of range" in rej.loc[3, "_reason"]
    assert "impressions = -5.0 is negative" in rej.loc[3, "_reason"]
    assert "creative_id is empty" in rej.loc[4, "_reason"] and "clicks is missing" in rej.loc[4, "_reason"]


@pytest.mark.parametrize(
    ("column", "check", "value", "expected"),
    [
        ("spend", "greater_than_or_equal_to(0)", -120.0, "spend = -120.0 is negative; spend must be >= 0"),
        ("age", "in_range(16, 110)", 150, "age = 150 is out of range; age must be between 16 and 110"),
        (
            "purpose",
            "isin(['measurement', 'content'])",
            "ads",
            "purpose = 'ads' is not an allowed value; purpose must be one of 'measurement', 'content'",
        ),
        ("price_index", "greater_than(0)", 0.0, "price_index = 0.0 is too small; price_index must be > 0"),
        ("geo", "not_nullable", None, "geo is missing; geo is required"),
        ("age", "coerce_dtype('int64')", "3.5", "age = '3.5' is not a whole number"),
        ("customer_id", "str_length(1, None)", "C00000042x", "customer_id = 'C*******2x' has the wrong length"),
        ("x", "custom_check", 1, "x = 1 fails custom_check"),
    ],
)
def test_describe_failure(column: str, check: str, value: object, expected: str) -> None:
    assert describe_failure(column, check, value).startswith(expected)


_junk = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.2f}"),
    st.sampled_from(["", "abc", "-1", "1e3", "NaN", " 7 ", "12O.5"]),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    weeks=st.lists(
        st.sampled_from(["2023-01-02", "2023-01-09", "2023-13-45", "", "Jan 16 2023"]), min_size=1, max_size=12
    ),
    data=st.data(),
)
def test_nothing_is_silently_dropped(
    tmp_path_factory: pytest.TempPathFactory, weeks: list[str], data: st.DataObject
) -> None:
    n = len(weeks)
    df = pd.DataFrame(
        {
            "week": weeks,
            "geo": data.draw(st.lists(st.sampled_from(["N", "S", ""]), min_size=n, max_size=n)),
            "channel": data.draw(st.lists(st.sampled_from(["tv", "search"]), min_size=n, max_size=n)),
            "spend": data.draw(st.lists(_junk, min_size=n, max_size=n)),
            "impressions": data.draw(st.lists(_junk, min_size=n, max_size=n)),
            "clicks": ["1"] * n,
        }
    )
    folder = tmp_path_factory.mktemp("prop")
    path = folder / "spend.csv"
    df.to_csv(path, index=False)
    store = DataStore(folder / "store")
    r = ingest_file(path, "spend", store)
    _assert_adds_up(r)
    stored = len(store.read("raw", "spend")) if store.exists("raw", "spend") else 0
    q = read_quarantine(store, "spend")
    assert stored == r.rows_accepted and len(q) == r.rows_quarantined
    # every input row is in exactly one place: quarantined row numbers are distinct and in range
    assert q["_row"].is_unique and set(q["_row"]) <= set(range(1, n + 1))
    assert all(re.match(r"^row \d+: ", s) for s in q["_reason"])
    if stored:
        good = store.read("raw", "spend")
        assert (good["spend"] >= 0).all() and good[["week", "geo", "channel"]].notna().all().all()
        assert not good.duplicated(["week", "geo", "channel"]).any()


def test_fractional_values_are_not_truncated_to_integers() -> None:
    df = pd.DataFrame(
        {
            "week": pd.to_datetime(["2023-01-02"] * 3),
            "geo": ["N", "S", "E"],
            "revenue": [1.0, 2.0, 3.0],
            "conversions": [1.0, 1.0, 1.0],
            "price_index": [1.0, 1.0, 1.0],
            "holiday": [0.0, 1.0, 0.5],
        }
    )
    out = check_rows(df, contract_for("kpi"))
    assert out.accepted["holiday"].tolist() == [0, 1] and str(out.accepted["holiday"].dtype) == "int64"
    assert out.rejected[["_rule", "_reason"]].values.tolist() == [
        ["coerce_dtype('int64')", "row 3: holiday = 0.5 is not a whole number"]
    ]


# --------------------------------------------------------------------------- minimal files and their defaults


def _minimal_spend(tmp_path: Path) -> Path:
    path = tmp_path / "media_costs.csv"
    path.write_text(
        "Date,Medium,Cost\n"
        "2023-01-02,TV,1000\n"
        "2023-01-02,Paid Search,400\n"
        "2023-01-09,tv ,900\n"
        "2023-01-09,Television,50\n"
        "2023-01-09, Radio ,10\n"
    )
    return path


def test_a_three_column_spend_file_loads_as_national_spend(store: DataStore, tmp_path: Path) -> None:
    path = _minimal_spend(tmp_path)
    with pytest.raises(ContractError, match="required columns 'week', 'channel', 'spend' missing") as exc:
        ingest_file(path, "spend", store)
    assert "geo" not in str(exc.value) and "impressions" not in str(exc.value)  # they have defaults

    r = ingest_file(path, "spend", store, mapping={"week": "Date", "channel": "Medium", "spend": "Cost"})
    _assert_adds_up(r)
    assert r.filled == {"geo": NATIONAL_GEO, "impressions": None, "clicks": None}
    assert "geo = 'national', impressions = null (unknown), clicks = null (unknown)" in str(r)
    # 'TV', 'tv ' and 'Television' are one channel: the third copy of (2023-01-09, national, tv) is a duplicate
    assert (r.rows_in, r.rows_accepted, r.rows_quarantined) == (5, 4, 1)
    stored = store.read("raw", "spend").sort_values(["week", "channel"]).reset_index(drop=True)
    assert stored[["channel", "spend"]].values.tolist() == [
        ["search", 400.0],
        ["tv", 1000.0],
        ["Radio", 10.0],
        ["tv", 900.0],
    ]
    assert (stored["geo"] == "national").all()
    assert stored["impressions"].isna().all() and stored["clicks"].isna().all()
    assert str(stored["impressions"].dtype) == "float64"
    q = read_quarantine(store, "spend")
    assert q["_reason"].item() == (
        "row 4: duplicate key (week, geo, channel) = ('2023-01-09', 'national', 'tv'); first seen at row 3"
    )
    assert q["channel"].item() == "Television"  # quarantine keeps the value as it arrived
    # the unknown channel is kept (trimmed) and named, with where to add it
    assert r.unknown_channels == ("Radio",)
    assert r.channels_source.endswith("parameters/channels.yaml")
    assert "Channels not in the channel map" in str(r) and "'Radio'" in str(r)


def test_a_national_spend_file_gives_a_correct_mmm_weekly(store: DataStore, tmp_path: Path) -> None:
    ingest_file(
        _minimal_spend(tmp_path), "spend", store, mapping={"week": "Date", "channel": "Medium", "spend": "Cost"}
    )
    kpi = tmp_path / "sales.csv"  # a national KPI file: no geo column either
    kpi.write_text("week,revenue,conversions,price_index,holiday\n2023-01-02,5000,50,1.0,0\n2023-01-09,5200,52,1.0,1\n")
    assert ingest_file(kpi, "kpi", store).filled == {"geo": NATIONAL_GEO}
    report = stage_world(store, salt="test-salt-0123456789abcdef", progress=False)
    assert report.curated["mmm_weekly"] == 4
    weekly = store.read("curated", "mmm_weekly").sort_values(["geo", "week"]).reset_index(drop=True)
    # the user's national rows, and the curated table's own national total ('ALL') equal to them
    assert weekly["geo"].tolist() == ["ALL", "ALL", NATIONAL_GEO, NATIONAL_GEO]
    national = weekly[weekly["geo"] == NATIONAL_GEO].reset_index(drop=True)
    total = weekly[weekly["geo"] == "ALL"].reset_index(drop=True)
    assert national["spend_tv"].tolist() == [1000.0, 900.0]
    assert national["spend_search"].tolist() == [400.0, 0.0]
    assert national["spend_radio"].tolist() == [0.0, 10.0]
    assert national["revenue"].tolist() == [5000.0, 5200.0]
    cols = ["revenue", "spend_tv", "spend_search", "spend_radio"]
    assert total[cols].values.tolist() == national[cols].values.tolist()
    # the data inventory names the channel the map does not know
    from galaxy_lib.inventory.analysis import unknown_channels

    assert unknown_channels(store) == ["Radio"]
    assert unknown_channels(store, ChannelMap(channels={"radio": []})) == ["search", "tv"]


def test_a_column_the_file_has_is_not_defaulted(store: DataStore, tmp_path: Path) -> None:
    path = tmp_path / "spend.csv"
    path.write_text("week,geo,channel,spend\n2023-01-02,North,tv,10\n2023-01-02,,tv,5\n")
    r = ingest_file(path, "spend", store)
    assert r.filled == {"impressions": None, "clicks": None}
    assert r.reasons == {"not_nullable": 1}  # a blank geo is still an error, not 'national'
    assert store.read("raw", "spend")["geo"].tolist() == ["North"]


# --------------------------------------------------------------------------- channel names


def test_channel_names_are_canonical_in_every_table(store: DataStore, tmp_path: Path) -> None:
    path = tmp_path / "touchpoints.csv"
    path.write_text(
        "event_id,customer_id,ts,channel,campaign_id,creative_id,ingested_at\n"
        "E1,C00000001,2023-03-01T10:15:00,Paid Search,c1,,2023-03-01T10:20:00\n"
        "E2,C00000001,2023-03-02T08:00:00,E-MAIL ,c2,,2023-03-02T08:05:00\n"
        "E3,C00000002,2023-03-02T09:00:00,  social,c3,,2023-03-02T09:01:00\n"
        "E4,C00000002,2023-03-03T12:30:00,Podcast,c4,,2023-03-03T12:31:00\n"
    )
    r = ingest_file(path, "touchpoints", store)
    assert store.read("raw", "touchpoints")["channel"].tolist() == ["search", "email", "social", "Podcast"]
    assert r.unknown_channels == ("Podcast",)

    lift = tmp_path / "lift.csv"
    lift.write_text(
        "test_id,channel,geo,start_week,end_week,x,delta_x,delta_y,sigma\n"
        "T1,Television,North,2023-01-02,2023-02-27,100,50,80,10\n"
    )
    mine = tmp_path / "channels.yaml"
    mine.write_text("linear_tv: [Television]\n")
    r = ingest_file(lift, "lift_tests", store, channels=mine)
    assert store.read("raw", "lift_tests")["channel"].tolist() == ["linear_tv"]
    assert (r.unknown_channels, r.channels_source) == ((), str(mine))


def test_galaxy_world_channels_map_to_themselves() -> None:
    from galaxy_lib.core.contracts import MMM_CHANNELS, TOUCH_CHANNELS

    channels = ChannelMap.default()
    assert channels.source.endswith("parameters/channels.yaml")
    for name in (*MMM_CHANNELS, *TOUCH_CHANNELS):
        assert channels.canonical(name) == name
    assert channels.unknown([*MMM_CHANNELS, *TOUCH_CHANNELS]) == []


def test_ingest_config_takes_a_channel_map(store: DataStore, tmp_path: Path) -> None:
    path = tmp_path / "spend.csv"
    path.write_text("week,channel,spend\n2023-01-02,Telly,10\n")
    mine = tmp_path / "channels.yaml"
    mine.write_text("tv: [Telly]\n")
    cfg = validate_params(IngestConfig, {"path": str(path), "table": "spend", "channels": str(mine)})
    ingest_file(cfg, store=store)
    assert store.read("raw", "spend")["channel"].tolist() == ["tv"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("tv: [Telly]\nctv: [telly]\n")
    with pytest.raises(ConfigError, match=r"alias 'telly' .* maps to two channels, 'tv' .* and 'ctv'"):
        ingest_file(path, "spend", store, channels=bad)


# --------------------------------------------------------------------------- module layout


# --------------------------------------------------------------------------- masked reasons


def test_pii_in_a_shifted_row_is_masked_in_every_reason(store: DataStore, tmp_path: Path) -> None:
    """Reasons were masked by column name only: an e-mail in ``spend`` or ``week`` was published as is."""
    csv = tmp_path / "shifted.csv"
    csv.write_text(
        "week,channel,spend\n"
        "2025-01-06,tv,10\n"
        "2025-01-13,tv,+44 7700 900123\n"
        "jane.doe@example.com,tv,12\n"
        "2025-01-20,tv,bob@example.org\n"
        "2025-01-27,carol@example.net,5\n"
    )
    r = ingest_file(csv, "spend", store)
    assert (r.rows_accepted, r.rows_quarantined) == (1, 4)
    q = read_quarantine(store, "spend")
    shown = " ".join([*q["_reason"], *r.examples.values(), str(r)])
    for raw in ("jane.doe@example.com", "bob@example.org", "+44 7700 900123", "carol@example.net"):
        assert raw not in shown
    assert "row 3: unparseable date in column 'week': 'j*****************om'" in q["_reason"].tolist()
    # the rows themselves keep what arrived (quarantine, like raw, may hold personal data)
    assert "jane.doe@example.com" in q["week"].tolist()


def test_personal_data_in_a_text_column_is_quarantined_not_stored(store: DataStore, tmp_path: Path) -> None:
    """An e-mail in ``channel`` passed every check and went on to staged tables and reports."""
    csv = tmp_path / "spend.csv"
    csv.write_text(
        "week,channel,spend,note\n"
        "2025-01-06,tv,10,call +44 7700 900123\n"  # an extra column is raw-only: not checked
        "2025-01-13,carol@example.net,5,\n"
        "2025-01-13,call 07700 900123,5,\n"
        "2025-01-20,search 2025,12345678,\n"  # a big number and a year are not phone numbers
    )
    r = ingest_file(csv, "spend", store)
    assert (r.rows_accepted, r.rows_quarantined) == (2, 2)
    assert r.reasons == {"personal_data_in_column": 2}
    q = read_quarantine(store, "spend")
    assert q["_reason"].tolist() == [
        "row 2: column 'channel' holds an e-mail address; table 'spend' holds no personal data; "
        "is the row shifted, or the column free text?",
        "row 3: column 'channel' holds a phone number; table 'spend' holds no personal data; "
        "is the row shifted, or the column free text?",
    ]
    csv.write_text(
        "event_id,customer_id,ts,channel,campaign_id,creative_id,ingested_at\n"
        "E1,C00000001,2025-01-06 10:00,search,jane@example.com,,2025-01-06 10:05\n"
    )
    r = ingest_file(csv, "touchpoints", store)
    assert read_quarantine(store, "touchpoints")["_reason"].tolist() == [
        "row 1: column 'campaign_id' holds an e-mail address; personal data belongs only in customer_id; "
        "is the row shifted?"
    ]
    assert sorted(store.read("raw", "spend")["channel"]) == ["search 2025", "tv"]


def test_customer_ids_of_the_file_are_masked_whatever_their_format(store: DataStore, tmp_path: Path) -> None:
    csv = tmp_path / "tp.csv"
    csv.write_text(
        "event_id,customer_id,ts,channel,campaign_id,creative_id,ingested_at\n"
        "E1,acme-cust-991,2025-01-06 10:00,search,c1,,2025-01-06 10:05\n"
        "E2,acme-cust-992,acme-cust-992,search,c1,,2025-01-06 10:05\n"  # the id shifted into ts
    )
    ingest_file(csv, "touchpoints", store)
    (reason,) = read_quarantine(store, "touchpoints")["_reason"]
    assert "unparseable" in reason and "acme-cust-992" not in reason


def test_quarantine_rows_runs_every_reason_through_redact(store: DataStore) -> None:
    from galaxy_lib.core.quarantine import quarantine_rows
    from galaxy_lib.governance.pii import redact_pii

    rows = pd.DataFrame({"spend": ["x@example.com", "y"]})
    quarantine_rows(store, "spend", rows, "r", ["bad x@example.com", "bad y"], "f.csv", redact=redact_pii)
    quarantine_rows(store, "spend", rows.iloc[:1], "r", "one reason for z@example.com", "f.csv", redact=redact_pii)
    reasons = read_quarantine(store, "spend")["_reason"].tolist()
    assert all("@example.com" not in r for r in reasons) and "bad y" in reasons


def test_a_reingested_open_consent_grant_is_a_duplicate(store: DataStore, tmp_path: Path) -> None:
    """withdrawn_at is part of consent's key and null for an open grant: null must match null."""
    path = tmp_path / "consent.csv"
    pd.DataFrame(
        {
            "customer_id": ["C00000001", "C00000002"],
            "purpose": ["measurement", "measurement"],
            "tcf_purposes": ["7,8,9,10", "7,8,9,10"],
            "granted_at": ["2022-01-01", "2022-01-01"],
            "withdrawn_at": ["", "2023-01-05"],
        }
    ).to_csv(path, index=False)
    first = ingest_file(path, "consent", store)
    again = ingest_file(path, "consent", store)
    assert first.rows_accepted == 2
    assert again.rows_accepted == 0 and again.reasons == {"duplicate_key": 2}
    assert len(store.read("raw", "consent")) == 2
