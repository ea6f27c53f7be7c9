"""The data contracts: consistent definitions, and rules that reject what they should."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.errors import SchemaErrors

from galaxy_lib.core.contracts import (
    CONSENT_PURPOSES,
    CONTRACTS,
    CUSTOMER_ID,
    PII_COLUMNS,
    RAW_TABLES,
    ContractError,
    contract_for,
)


@pytest.mark.parametrize("name", list(CONTRACTS))
def test_contract_is_consistent(name: str) -> None:
    c = CONTRACTS[name]
    assert c.name == name == c.schema.name
    assert c.key and set(c.key) <= set(c.required_columns), "the key must be required columns"
    assert set(c.date_columns) <= set(c.required_columns)
    for col in c.date_columns:
        assert str(c.schema.columns[col].dtype) == "datetime64[ns]", col
    nullable_key = set(c.key) - set(c.non_null_key)
    assert c.non_null_key, "a key needs a column that is always there"
    # only a consent record's withdrawal time may be null in a key (an open grant)
    assert nullable_key == ({"withdrawn_at"} if name == "consent" else set()), name
    for col in c.non_null_key:
        assert not c.schema.columns[col].nullable, f"key column {col} must not be nullable"
    assert c.schema.strict is False, "extra columns of a user's file are kept"
    assert c.description


def test_pii_columns_are_only_in_customer_tables() -> None:
    with_ids = {n for n, c in CONTRACTS.items() if CUSTOMER_ID in c.required_columns}
    assert with_ids == {"customers", "consent", "touchpoints", "conversions", "email_experiment"}
    assert {n for n, c in CONTRACTS.items() if {"email", "phone"} & set(c.required_columns)} == {"customers"}
    assert set(PII_COLUMNS) == {"customer_id", "email", "phone"}
    assert tuple(CONTRACTS) == RAW_TABLES


def test_unknown_table_lists_the_known_ones() -> None:
    with pytest.raises(ContractError, match=r"No data contract for table 'spends'\. Known tables: customers, consent"):
        contract_for("spends")


def _failures(table: str, df: pd.DataFrame) -> set[tuple[str, str]]:
    try:
        CONTRACTS[table].schema.validate(df, lazy=True)
    except SchemaErrors as err:
        return {(str(r.column), str(r.check)) for r in err.failure_cases.itertuples()}
    return set()


def test_rules_reject_what_they_should() -> None:
    kpi = pd.DataFrame(
        {
            "week": ["2023-01-02"] * 3,
            "geo": ["N", "S", "E"],
            "revenue": [1.0, -2.0, 3.0],
            "conversions": [1.0, 1.0, 1.0],
            "price_index": [1.0, 1.0, 0.0],
            "holiday": [0, 2, 1],
        }
    )
    assert _failures("kpi", kpi) == {
        ("revenue", "greater_than_or_equal_to(0)"),
        ("price_index", "greater_than(0)"),
        ("holiday", "isin([0, 1])"),
    }
    consent = pd.DataFrame(
        {
            "customer_id": ["C00000001", "C00000002"],
            "purpose": [CONSENT_PURPOSES[0], "ads"],
            "tcf_purposes": ["1", "1"],
            "granted_at": ["2023-01-01", "2023-01-01"],
            "withdrawn_at": [None, "2023-02-01"],
        }
    )
    assert {chk for _, chk in _failures("consent", consent)} == {f"isin({CONSENT_PURPOSES!r})"}
    tp = pd.DataFrame(
        {
            "event_id": ["", "E2"],
            "customer_id": ["C1", "C2"],
            "ts": ["2023-01-01", "2023-01-02"],
            "channel": ["search", "email"],
            "campaign_id": ["c", "c"],
            "creative_id": [None, "x"],
            "ingested_at": ["2023-01-01", None],
        }
    )
    assert _failures("touchpoints", tp) == {("event_id", "str_length(1, None)"), ("ingested_at", "not_nullable")}


def test_valid_rows_pass_and_are_coerced() -> None:
    spend = pd.DataFrame(
        {
            "week": ["2023-01-02"],
            "geo": ["N"],
            "channel": ["tv"],
            "spend": ["12.5"],
            "impressions": [100],
            "clicks": ["3"],
            "extra": ["kept"],
        }
    )
    out = CONTRACTS["spend"].schema.validate(spend)
    assert out["spend"].item() == 12.5 and str(out["week"].dtype) == "datetime64[ns]"
    assert out["extra"].item() == "kept"
    assert isinstance(CONTRACTS["spend"].schema, pa.DataFrameSchema)


def test_a_consent_record_is_a_version_of_a_grant_period() -> None:
    """An updated export of a grant with ``withdrawn_at`` set is a new record, not a duplicate (issue 15, finding 4)."""
    consent = contract_for("consent")
    assert consent.key == ("customer_id", "purpose", "granted_at", "withdrawn_at")
    grant = {"customer_id": "C1", "purpose": "measurement", "granted_at": "2024-01-01"}
    rows = pd.DataFrame([{**grant, "withdrawn_at": None}, {**grant, "withdrawn_at": "2024-03-01"}])
    assert not rows.duplicated(list(consent.key)).any()
