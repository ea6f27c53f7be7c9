"""Data contracts: the columns, types and rules every table must satisfy.

These pandera schemas are the single definition of the Galaxy tables. The
simulator writes tables that pass them, ingestion of a user's own files checks
them, and staging refuses to move a row that breaks one (it goes to quarantine
with the rule and the reason instead).

Two kinds of failure are kept apart on purpose:

* a *structural* failure (a required column is missing) stops the load with a
  :class:`ContractError` naming the column and the mapping that would fix it;
* a *row* failure (a negative spend, an unparseable date, a duplicate event id)
  sends that row to quarantine and lets the rest through.

A few columns have a documented default (:attr:`TableContract.defaults`), so a
minimal export still loads: a spend file with only date, channel and cost gets
``geo = "national"`` (:data:`NATIONAL_GEO`) and unknown (null) ``impressions``
and ``clicks``; a KPI file without ``geo`` is national too, so the two join
week by week. Ingestion fills these columns in; every stored table holds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pandera.pandas as pa

__all__ = [
    "CONSENT_PURPOSES",
    "CONTRACTS",
    "CUSTOMER_ID",
    "CUSTOMER_KEY",
    "DROPPED_AT_STAGING",
    "MMM_CHANNELS",
    "NATIONAL_GEO",
    "PII_COLUMNS",
    "RAW_TABLES",
    "STAGED_TABLES",
    "TOUCH_CHANNELS",
    "ContractError",
    "TableContract",
    "contract_for",
]

#: Paid media channels with weekly spend (the MMM's channels).
MMM_CHANNELS: tuple[str, ...] = ("tv", "search", "social", "display", "video")
#: Channels that appear as touchpoints in customer journeys ("direct" = typed-in / organic).
TOUCH_CHANNELS: tuple[str, ...] = ("search", "social", "display", "video", "email", "direct")
#: Geo of a file without a ``geo`` column: the whole market. (``curated.mmm_weekly`` keeps ``"ALL"``
#: for its own national total, so a user's national rows are a geo named ``"national"``.)
NATIONAL_GEO = "national"
#: Processing purposes a customer can consent to (mapped to TCF 2.2 purpose ids in governance.consent).
CONSENT_PURPOSES: tuple[str, ...] = ("measurement", "personalisation", "advertising", "content")

#: Raw customer identifier (``C`` + 8 digits in the Galaxy world); replaced at staging.
CUSTOMER_ID = "customer_id"
#: Salted pseudonymous key that replaces :data:`CUSTOMER_ID` in staged and curated tables.
CUSTOMER_KEY = "customer_key"
#: Direct identifiers removed from staged tables altogether.
DROPPED_AT_STAGING: tuple[str, ...] = ("email", "phone")
#: Columns holding personal data in the raw zone (masked wherever their values are shown).
PII_COLUMNS: tuple[str, ...] = (CUSTOMER_ID, *DROPPED_AT_STAGING)


class ContractError(ValueError):
    """A table cannot be loaded at all (e.g. a required column is missing). The message says how to fix it."""


@dataclass(frozen=True)
class TableContract:
    """One table's contract.

    Attributes
    ----------
    name
        Table name as stored (``<zone>/<name>/part-*.parquet``).
    schema
        The pandera schema (row-level rules; ``strict=False`` so extra columns are kept).
    key
        Columns that identify a row; duplicates on the key are quarantined (all but the first).
        A nullable key column (``withdrawn_at`` of consent) takes part with null equal to
        null; a row missing a non-nullable key column is left to the not-null check.
    date_columns
        Columns parsed as timestamps on ingestion; unparseable values are quarantined.
    description
        One line for the inventory report.
    defaults
        Columns a user's file may leave out, with the value ingestion fills in
        (``None`` = unknown, stored as null). The table as stored always has them.
    """

    name: str
    schema: pa.DataFrameSchema
    key: tuple[str, ...]
    date_columns: tuple[str, ...]
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Every column of the contract: a stored (raw, staged) table holds all of them."""
        return tuple(self.schema.columns)

    @property
    def non_null_key(self) -> tuple[str, ...]:
        """The key columns that must not be null (a row missing one is not checked for duplicates)."""
        return tuple(c for c in self.key if not self.schema.columns[c].nullable)

    @property
    def mandatory_columns(self) -> tuple[str, ...]:
        """The columns a user's file must hold (after its mapping): those without a default."""
        return tuple(c for c in self.schema.columns if c not in self.defaults)


def _ts(nullable: bool = False) -> pa.Column:
    return pa.Column("datetime64[ns]", nullable=nullable, coerce=True)


def _nonneg(dtype: type = float) -> pa.Column:
    return pa.Column(dtype, pa.Check.ge(0), coerce=True)


_id = pa.Column(str, pa.Check.str_length(min_value=1))

_customers_raw = pa.DataFrameSchema(
    {
        "customer_id": _id,
        "email": pa.Column(str, pa.Check.str_contains("@")),
        "phone": pa.Column(str),
        "geo": pa.Column(str),
        "signup_date": _ts(),
        "age": pa.Column(int, pa.Check.in_range(16, 110), coerce=True),
        "segment": pa.Column(str),
        "past_purchases": _nonneg(int),
        "avg_order_value": _nonneg(float),
        "email_engagement": pa.Column(float, pa.Check.in_range(0, 1), coerce=True),
    },
    strict=False,
    name="customers",
)

_consent = pa.DataFrameSchema(
    {
        "customer_id": _id,
        "purpose": pa.Column(str, pa.Check.isin(CONSENT_PURPOSES)),
        "tcf_purposes": pa.Column(str),
        "granted_at": _ts(),
        "withdrawn_at": _ts(nullable=True),
    },
    strict=False,
    name="consent",
)

_touchpoints = pa.DataFrameSchema(
    {
        "event_id": _id,
        "customer_id": _id,
        "ts": _ts(),
        "channel": pa.Column(str, pa.Check.str_length(min_value=1)),
        "campaign_id": pa.Column(str),
        "creative_id": pa.Column(str, nullable=True),
        "ingested_at": _ts(),
    },
    strict=False,
    name="touchpoints",
)

_conversions = pa.DataFrameSchema(
    {
        "conversion_id": _id,
        "customer_id": _id,
        "ts": _ts(),
        "revenue": _nonneg(float),
        "ingested_at": _ts(),
    },
    strict=False,
    name="conversions",
)

_spend = pa.DataFrameSchema(
    {
        "week": _ts(),
        "geo": pa.Column(str),
        "channel": pa.Column(str, pa.Check.str_length(min_value=1)),
        "spend": _nonneg(float),
        # unknown (null) when the export has no delivery counts
        "impressions": pa.Column(float, pa.Check.ge(0), nullable=True, coerce=True),
        "clicks": pa.Column(float, pa.Check.ge(0), nullable=True, coerce=True),
    },
    strict=False,
    name="spend",
)

_kpi = pa.DataFrameSchema(
    {
        "week": _ts(),
        "geo": pa.Column(str),
        "revenue": _nonneg(float),
        "conversions": _nonneg(float),
        "price_index": pa.Column(float, pa.Check.gt(0), coerce=True),
        "holiday": pa.Column(int, pa.Check.isin([0, 1]), coerce=True),
    },
    strict=False,
    name="kpi",
)

_lift_tests = pa.DataFrameSchema(
    {
        "test_id": _id,
        "channel": pa.Column(str),
        "geo": pa.Column(str),
        "start_week": _ts(),
        "end_week": _ts(),
        "x": _nonneg(float),
        "delta_x": pa.Column(float, coerce=True),
        "delta_y": pa.Column(float, coerce=True),
        "sigma": pa.Column(float, pa.Check.gt(0), coerce=True),
    },
    strict=False,
    name="lift_tests",
)

_creatives = pa.DataFrameSchema(
    {
        "creative_id": _id,
        "channel": pa.Column(str),
        "format": pa.Column(str),
        "headline": pa.Column(str),
        # the product the headline is about, the body copy the image shows and the small print that
        # goes with the ad (a user's table may lack them)
        "product_sku": pa.Column(str, nullable=True),
        "body": pa.Column(str, nullable=True),
        "disclaimer": pa.Column(str, nullable=True),
        "dominant_color": pa.Column(str),
        "has_logo": pa.Column(bool, coerce=True),
        "text_density": pa.Column(float, pa.Check.in_range(0, 1), coerce=True),
        "image_path": pa.Column(str),
        "impressions": _nonneg(float),
        "clicks": _nonneg(float),
    },
    strict=False,
    name="creatives",
)


def _nested_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Per row: clicks <= impressions and conversions <= clicks.

    Returns a frame of the table's shape, False only in the column at fault, so a
    quarantine reason names that column and its value.
    """
    out = pd.DataFrame(True, index=df.index, columns=df.columns)
    out["clicks"] = df["clicks"] <= df["impressions"]
    out["conversions"] = df["conversions"] <= df["clicks"]
    return out


_creative_performance = pa.DataFrameSchema(
    {
        "date": _ts(),
        "creative_id": _id,
        "audience": pa.Column(str, pa.Check.str_length(min_value=1)),
        "platform": pa.Column(str),
        "impressions": _nonneg(int),
        "clicks": _nonneg(int),
        "conversions": _nonneg(int),
    },
    checks=[pa.Check(_nested_counts, name="counts_nested", error="conversions <= clicks <= impressions")],
    strict=False,
    name="creative_performance",
)

_products = pa.DataFrameSchema(
    {
        "sku": _id,
        "name": pa.Column(str),
        "category": pa.Column(str),
        "price": pa.Column(float, pa.Check.gt(0), coerce=True),
        "tagline": pa.Column(str, nullable=True),
        **{f"feature_{i}": pa.Column(str, nullable=True) for i in range(1, 5)},
        "master_image": pa.Column(str, nullable=True),
    },
    strict=False,
    name="products",
)

_email_experiment = pa.DataFrameSchema(
    {
        "customer_id": _id,
        "treatment": pa.Column(str, pa.Check.str_length(1, 64), coerce=True),
        "converted": pa.Column(int, pa.Check.isin([0, 1]), coerce=True),
        "revenue": _nonneg(float),
        "pre_orders": pa.Column(float, pa.Check.ge(0), nullable=True, coerce=True),
        "pre_revenue": pa.Column(float, pa.Check.ge(0), nullable=True, coerce=True),
        "sent_at": _ts(nullable=True),
    },
    strict=False,
    name="email_experiment",
)


CONTRACTS: dict[str, TableContract] = {
    c.name: c
    for c in (
        TableContract(
            "customers",
            _customers_raw,
            ("customer_id",),
            ("signup_date",),
            "One row per customer; raw zone holds e-mail and phone (PII).",
        ),
        TableContract(
            "consent",
            _consent,
            # a record is one version of a grant period: an updated export of the same grant
            # with withdrawn_at set is a new record (governance.consent lets the withdrawal
            # end the grant), not a duplicate; only an identical record repeats the key
            ("customer_id", "purpose", "granted_at", "withdrawn_at"),
            ("granted_at", "withdrawn_at"),
            "Consent per customer and purpose: grant periods with grant and withdrawal timestamps (TCF 2.2).",
        ),
        TableContract(
            "touchpoints",
            _touchpoints,
            ("event_id",),
            ("ts", "ingested_at"),
            "Marketing touchpoint events: channel, campaign, creative, event and ingestion time.",
        ),
        TableContract(
            "conversions", _conversions, ("conversion_id",), ("ts", "ingested_at"), "Conversions with revenue."
        ),
        TableContract(
            "spend",
            _spend,
            ("week", "geo", "channel"),
            ("week",),
            "Weekly media spend, impressions and clicks per channel and geo.",
            defaults={"geo": NATIONAL_GEO, "impressions": None, "clicks": None},
        ),
        TableContract(
            "kpi",
            _kpi,
            ("week", "geo"),
            ("week",),
            "Weekly revenue and conversions per geo with control variables.",
            defaults={"geo": NATIONAL_GEO},
        ),
        TableContract(
            "lift_tests",
            _lift_tests,
            ("test_id",),
            ("start_week", "end_week"),
            "Geo lift-test results: spend change and measured incremental revenue.",
        ),
        TableContract(
            "creatives",
            _creatives,
            ("creative_id",),
            (),
            "Creatives with metadata, product, body copy, image file and delivery counts.",
            defaults={"product_sku": None, "body": None, "disclaimer": None},
        ),
        TableContract(
            "email_experiment",
            _email_experiment,
            ("customer_id",),
            (),
            "Randomised campaign experiment: arm label and outcome per customer, with pre-period purchases.",
            defaults={"pre_orders": None, "pre_revenue": None, "sent_at": None},
        ),
        TableContract(
            "creative_performance",
            _creative_performance,
            ("date", "creative_id", "audience"),
            ("date",),
            "Daily impressions, clicks and conversions per creative and audience (segment x age band).",
        ),
        TableContract(
            "products",
            _products,
            ("sku",),
            (),
            "Product master data: name, category, price, tagline, features and master image path.",
            defaults={
                "tagline": None,
                **{f"feature_{i}": None for i in range(1, 5)},
                "master_image": None,
            },
        ),
    )
}

RAW_TABLES: tuple[str, ...] = tuple(CONTRACTS)
#: Tables that carry a customer identifier: pseudonymised (customer_id -> customer_key) at staging.
STAGED_TABLES: tuple[str, ...] = RAW_TABLES


def contract_for(table: str) -> TableContract:
    """Return the contract of ``table`` or raise :class:`ContractError` listing the known tables."""
    try:
        return CONTRACTS[table]
    except KeyError:
        raise ContractError(f"No data contract for table {table!r}. Known tables: {', '.join(CONTRACTS)}.") from None
