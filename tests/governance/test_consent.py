"""Consent filtering against a hand-made table with known answers."""

from __future__ import annotations

import pandas as pd
import pytest

from galaxy_lib.core.contracts import CONSENT_PURPOSES
from galaxy_lib.governance.consent import (
    TCF_PURPOSE_NAMES,
    TCF_PURPOSES,
    ConsentError,
    consent_coverage,
    consent_valid_at,
    filter_by_consent,
)

T = pd.Timestamp

#   k1: measurement granted 2024-01-01, never withdrawn
#   k2: measurement granted 2024-01-01, withdrawn 2024-06-01 10:00
#   k3: measurement granted 2024-03-01 (later than k1)
#   k4: only personalisation
#   k5: measurement granted, withdrawn, granted again
#   k6: no consent record at all
CONSENT = pd.DataFrame(
    {
        "customer_key": ["k1", "k2", "k3", "k4", "k5", "k5"],
        "purpose": ["measurement", "measurement", "measurement", "personalisation", "measurement", "measurement"],
        "tcf_purposes": ["7,8,9"] * 6,
        "granted_at": [
            T("2024-01-01"),
            T("2024-01-01"),
            T("2024-03-01"),
            T("2024-01-01"),
            T("2024-01-01"),
            T("2024-05-01"),
        ],
        "withdrawn_at": [pd.NaT, T("2024-06-01 10:00"), pd.NaT, pd.NaT, T("2024-02-01"), pd.NaT],
    }
)
EVENTS = pd.DataFrame(
    {
        "customer_key": ["k1", "k1", "k2", "k2", "k3", "k4", "k5", "k5", "k6", None],
        "ts": [
            T("2023-12-31"),
            T("2024-02-01"),
            T("2024-02-01"),
            T("2024-06-01 10:00"),
            T("2024-04-01"),
            T("2024-04-01"),
            T("2024-01-15"),
            T("2024-03-01"),
            T("2024-04-01"),
            T("2024-04-01"),
        ],
        "value": range(10),
    }
)


def test_purposes_cover_the_contract_and_use_valid_tcf_ids():
    assert tuple(TCF_PURPOSES) == CONSENT_PURPOSES
    assert all(ids and set(ids) <= set(TCF_PURPOSE_NAMES) for ids in TCF_PURPOSES.values())


@pytest.mark.parametrize(
    "as_of, expected",
    [
        ("2023-12-31 23:59:59", set()),
        ("2024-01-01 00:00:00", {"k1", "k2", "k5"}),  # granted_at == as_of counts
        ("2024-02-01 00:00:00", {"k1", "k2"}),  # k5 withdrew exactly now: no longer counts
        ("2024-03-01 00:00:00", {"k1", "k2", "k3"}),
        ("2024-05-01 00:00:00", {"k1", "k2", "k3", "k5"}),  # k5 granted again
        ("2024-06-01 09:59:59", {"k1", "k2", "k3", "k5"}),
        ("2024-06-01 10:00:00", {"k1", "k3", "k5"}),  # k2 withdrawn exactly at as_of
    ],
)
def test_valid_at_boundaries(as_of, expected):
    assert set(consent_valid_at(CONSENT, "measurement", as_of)) == expected


def test_filter_as_of():
    r = filter_by_consent(EVENTS, CONSENT, "measurement", as_of="2024-07-01")
    assert sorted(r.kept["value"]) == [0, 1, 4, 6, 7]  # k1, k3, k5
    assert r.excluded_rows == 5  # k2 (withdrawn) x2, k4, k6, null key
    assert r.excluded_customers == 3  # k2, k4, k6 (the null key is not a customer)
    assert r.rows_in == 10 and r.customers_in == 6
    assert r.purpose == "measurement" and r.as_of == T("2024-07-01")
    assert list(r.kept.columns) == list(EVENTS.columns)
    assert "excluded 5 rows from 3 customers" in r.summary()


def test_filter_other_purpose():
    r = filter_by_consent(EVENTS, CONSENT, "personalisation", as_of="2024-07-01")
    assert list(r.kept["customer_key"]) == ["k4"]
    assert r.excluded_rows == 9


def test_filter_event_time():
    r = filter_by_consent(EVENTS, CONSENT, "measurement", as_of="2024-07-01", time_col="ts")
    # k1 2023-12-31: before grant -> out; k1 2024-02-01 in; k2 withdrawn by as_of -> out;
    # k3 2024-04-01 in; k5 2024-01-15 in (first grant, consent again valid now); k5 2024-03-01 out (gap)
    assert sorted(r.kept["value"]) == [1, 4, 6]
    assert r.excluded_rows == 7 and r.time_col == "ts"
    r_early = filter_by_consent(EVENTS, CONSENT, "measurement", as_of="2024-06-01 09:00", time_col="ts")
    # before k2's withdrawal its 2024-02-01 event counts; its event at the withdrawal instant does not
    assert sorted(r_early.kept["value"]) == [1, 2, 4, 6]


def test_filter_raw_key_and_timezone_aware_as_of():
    consent = CONSENT.rename(columns={"customer_key": "customer_id"})
    events = EVENTS.rename(columns={"customer_key": "customer_id"})
    r = filter_by_consent(
        events, consent, "measurement", as_of=T("2024-06-01 12:00", tz="Europe/London"), key="customer_id"
    )
    assert r.as_of == T("2024-06-01 11:00")  # BST -> naive UTC
    assert sorted(r.kept["value"]) == [0, 1, 4, 6, 7]


def test_default_as_of_is_now():
    r = filter_by_consent(EVENTS, CONSENT, "measurement")
    assert abs(r.as_of - pd.Timestamp.now(tz="UTC").tz_localize(None)) < pd.Timedelta(minutes=1)


def test_unknown_purpose_lists_known_ones():
    with pytest.raises(ConsentError) as err:
        filter_by_consent(EVENTS, CONSENT, "marketing")
    assert "measurement, personalisation, advertising, content" in str(err.value)


def test_missing_key_column_is_named():
    with pytest.raises(ConsentError, match="no key column 'customer_key'"):
        filter_by_consent(EVENTS.drop(columns="customer_key"), CONSENT, "measurement")
    with pytest.raises(ConsentError, match=r"consent table has no column.*'withdrawn_at'"):
        filter_by_consent(EVENTS, CONSENT.drop(columns="withdrawn_at"), "measurement")
    with pytest.raises(ConsentError, match="time_col 'event_time'"):
        filter_by_consent(EVENTS, CONSENT, "measurement", time_col="event_time")


def test_consent_without_grant_time_is_rejected():
    bad = CONSENT.copy()
    bad.loc[2, "granted_at"] = pd.NaT
    with pytest.raises(ConsentError, match="granted_at is missing in 1 row"):
        filter_by_consent(EVENTS, bad, "measurement")


def test_empty_input():
    r = filter_by_consent(EVENTS.iloc[:0], CONSENT, "measurement", as_of="2024-07-01", time_col="ts")
    assert r.kept.empty and r.excluded_rows == 0 and r.excluded_share == 0.0


def test_coverage():
    customers = pd.DataFrame({"customer_key": ["k1", "k2", "k3", "k4", "k6"]})  # k5 not a customer here
    cov = consent_coverage(CONSENT, customers, as_of="2024-07-01").set_index("purpose")
    assert list(cov.index) == list(TCF_PURPOSES)
    assert cov.loc["measurement", ["customers", "consented"]].tolist() == [5, 2]  # k1, k3
    assert cov.loc["measurement", "share"] == pytest.approx(0.4)
    assert cov.loc["personalisation", "consented"] == 1
    assert cov.loc["advertising", "consented"] == 0
    assert cov.loc["measurement", "tcf_purposes"] == ",".join(map(str, TCF_PURPOSES["measurement"]))
