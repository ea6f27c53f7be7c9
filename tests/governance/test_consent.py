"""Consent filtering against a hand-made table with known answers."""

from __future__ import annotations

import pandas as pd
import pytest

from galaxy_lib.core.contracts import CONSENT_PURPOSES
from galaxy_lib.governance.consent import (
    TCF_PURPOSE_NAMES,
    TCF_PURPOSES,
    TCF_REQUIRED,
    ConsentError,
    consent_coverage,
    consent_valid_at,
    filter_by_consent,
    missing_tcf_purposes,
    tcf_covers,
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
        "tcf_purposes": ["7,8,9", "7,8,9", "7,8,9", "1,5,6", "7,9", "1,7,9"],
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
    # now = as_of: only what was known then counts (the later of as_of and now is as_of)
    assert set(consent_valid_at(CONSENT, "measurement", as_of, now=as_of)) == expected


def test_a_withdrawal_since_a_past_as_of_counts():
    # k2 withdrew on 2024-06-01: gone from every as_of once that is known; k5 granted again, so stays
    assert set(consent_valid_at(CONSENT, "measurement", "2024-03-01")) == {"k1", "k3"}
    assert set(consent_valid_at(CONSENT, "measurement", "2024-05-01", now="2024-06-02")) == {"k1", "k3", "k5"}
    assert set(consent_valid_at(CONSENT, "measurement", "2024-05-01", now="2024-05-31")) == {"k1", "k2", "k3", "k5"}
    r = filter_by_consent(EVENTS, CONSENT, "measurement", as_of="2024-03-01")
    assert "k2" not in set(r.kept["customer_key"]) and r.withdrawals_until > T("2025-01-01")
    assert r.as_of == T("2024-03-01")


def test_an_updated_record_with_a_withdrawal_ends_the_grant_in_either_order():
    grant = {"customer_key": "k9", "purpose": "measurement", "tcf_purposes": "1,7,9", "granted_at": T("2024-01-01")}
    old = {**grant, "withdrawn_at": pd.NaT}
    new = {**grant, "withdrawn_at": T("2024-04-01")}
    for rows in ([old, new], [new, old]):
        consent = pd.DataFrame(rows)
        assert list(consent_valid_at(consent, "measurement", "2024-03-01", now="2024-03-01")) == ["k9"]
        assert consent_valid_at(consent, "measurement", "2024-05-01").empty
        assert consent_valid_at(consent, "measurement", "2024-03-01").empty  # withdrawn since
    # a grant after the withdrawal is a new period
    regrant = {**grant, "granted_at": T("2024-06-01"), "withdrawn_at": pd.NaT}
    consent = pd.DataFrame([old, new, regrant])
    assert list(consent_valid_at(consent, "measurement", "2024-07-01")) == ["k9"]
    events = pd.DataFrame({"customer_key": "k9", "ts": [T("2024-02-01"), T("2024-05-01"), T("2024-06-15")]})
    r = filter_by_consent(events, consent, "measurement", as_of="2024-07-01", time_col="ts")
    assert r.kept["ts"].tolist() == [T("2024-02-01"), T("2024-06-15")]  # not the gap


def test_tcf_purposes_must_cover_the_claimed_purpose():
    consent = pd.DataFrame(
        {
            "customer_key": ["a", "b", "c", "d"],
            "purpose": "advertising",
            # a: the TCF purposes of personalised advertising; b: only device storage and
            # basic ads; c: unreadable; d: ids of another purpose
            "tcf_purposes": ["1,2,3,4", "1,2", "ads", "1,7,9"],
            "granted_at": T("2024-01-01"),
            "withdrawn_at": pd.NaT,
        }
    )
    assert list(consent_valid_at(consent, "advertising", "2024-02-01")) == ["a"]
    r = filter_by_consent(consent[["customer_key"]], consent, "advertising", as_of="2024-02-01")
    assert list(r.kept["customer_key"]) == ["a"] and r.tcf_mismatched == 3
    assert "3 consent record(s) did not count" in r.summary()
    assert tcf_covers(consent["purpose"], consent["tcf_purposes"]).tolist() == [True, False, False, False]
    assert missing_tcf_purposes("advertising", "1,2") == (3, 4)
    assert missing_tcf_purposes("measurement", "7,9") == ()  # device storage (1) is not required
    assert TCF_REQUIRED["measurement"] == (7, 9)
    # a withdrawal counts whatever its TCF purposes
    withdrawn = pd.DataFrame([{**consent.iloc[0], "tcf_purposes": "", "withdrawn_at": T("2024-03-01")}])
    assert consent_valid_at(pd.concat([consent, withdrawn]), "advertising", "2024-02-01").empty


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
    early = "2024-06-01 09:00"
    r_early = filter_by_consent(EVENTS, CONSENT, "measurement", as_of=early, time_col="ts", now=early)
    # before k2's withdrawal its 2024-02-01 event counts; its event at the withdrawal instant does not
    assert sorted(r_early.kept["value"]) == [1, 2, 4, 6]
    # ... until the withdrawal is known: then k2 is out of a re-run for that as_of too
    r_rerun = filter_by_consent(EVENTS, CONSENT, "measurement", as_of=early, time_col="ts")
    assert sorted(r_rerun.kept["value"]) == [1, 4, 6]


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
    with pytest.raises(ConsentError, match=r"consent table has no column.*'tcf_purposes'"):
        consent_valid_at(CONSENT.drop(columns="tcf_purposes"), "measurement", "2024-07-01")
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
    # k2 consented on 2024-05-01 but has withdrawn since: counted only with the clock at 2024-05-01
    assert (
        consent_coverage(CONSENT, customers, as_of="2024-05-01").set_index("purpose").loc["measurement", "consented"]
        == 2
    )
    assert (
        consent_coverage(CONSENT, customers, as_of="2024-05-01", now="2024-05-01")
        .set_index("purpose")
        .loc["measurement", "consented"]
        == 3
    )
