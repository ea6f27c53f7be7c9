"""Quality gates, consent coverage and quarantine counts of a data store.

Every check returns :class:`galaxy_lib.core.gates.Gate` objects graded by
:func:`galaxy_lib.core.gates.grade`, so the notebook, ``metrics.json`` and the
dashboard share one shape. Row-level gates (null rates, cardinality, latency) read
at most ``sample_rows`` rows of a table (:func:`galaxy_lib.inventory.data.load_sample`:
a repeatable DuckDB reservoir sample above that); counts that must be exact
(duplicates, quarantine shares) are computed in DuckDB over the whole table.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from galaxy_lib.core import sql
from galaxy_lib.core.channels import ChannelMap
from galaxy_lib.core.contracts import CONTRACTS
from galaxy_lib.core.gates import GATE_STATUSES, Gate, grade, measure
from galaxy_lib.core.quarantine import quarantine_summary
from galaxy_lib.core.store import DataStore
from galaxy_lib.governance import quality
from galaxy_lib.governance.consent import consent_coverage
from galaxy_lib.inventory.data import load_sample
from galaxy_lib.inventory.params import InventoryParams

__all__ = [
    "CATEGORICAL_COLUMNS",
    "CHANNEL_TABLES",
    "FEED_TABLES",
    "consent_gates",
    "consent_table",
    "duplicate_gates",
    "freshness_gates",
    "gates_frame",
    "latency_hours",
    "pii_gates",
    "quarantine_gates",
    "quarantine_table",
    "row_level_gates",
    "spend_outlier_gates",
    "unknown_channels",
]

#: Categorical columns whose cardinality is checked, per staged table.
CATEGORICAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("geo", "segment"),
    "consent": ("purpose",),
    "touchpoints": ("channel", "campaign_id"),
    "conversions": (),
    "spend": ("geo", "channel"),
    "kpi": ("geo",),
    "creatives": ("channel", "format", "dominant_color"),
    "email_experiment": ("treatment",),
}
#: Tables fed continuously, so the age of their newest record says whether a feed stalled.
#: (Lift tests, creatives and the customer list are not feeds: an old newest row is normal.)
FEED_TABLES: tuple[str, ...] = ("touchpoints", "conversions", "spend", "kpi")
#: Staged tables whose channel names are checked against the channel map.
CHANNEL_TABLES: tuple[str, ...] = ("spend", "touchpoints")
_STAGED_NAME = {"customer_id": "customer_key"}
_DROPPED_AT_STAGING = {"email", "phone"}
#: Graded against this, a consent share fails only when it is 0 (strict grading: below the
#: smallest positive number); the gate publishes ``fail_at=0.0``, "fails at no consent".
_NO_CONSENT = math.ulp(0.0)


def _required_staged_columns(table: str) -> list[str]:
    contract = CONTRACTS[table]
    out = []
    for name, col in contract.schema.columns.items():
        if name in _DROPPED_AT_STAGING or col.nullable:
            continue
        out.append(_STAGED_NAME.get(name, name))
    return out


def row_level_gates(store: DataStore, params: InventoryParams) -> list[Gate]:
    """Null rates, cardinality, event latency and spend/CPC outliers of the staged tables."""
    th = params.thresholds
    results: list[Gate] = []
    for table in CONTRACTS:
        if not store.exists("staged", table):
            continue
        df = load_sample(store, "staged", table, params.sample_rows)
        required = [c for c in _required_staged_columns(table) if c in df.columns]
        results += quality.null_rate_gates(df, table, th, columns=required)
        categorical = [c for c in CATEGORICAL_COLUMNS.get(table, ()) if c in df.columns]
        if categorical:
            results += quality.cardinality_gates(df, table, th, columns=categorical)
        if {"ts", "ingested_at"} <= set(df.columns):
            results.append(quality.latency_gate(df, "ts", "ingested_at", table, th))
        if table == "spend":
            results += spend_outlier_gates(df, params)
    return results


def spend_outlier_gates(spend: pd.DataFrame, params: InventoryParams) -> list[Gate]:
    """Outliers in weekly national spend and CPC per channel, in weeks the channel was on air.

    Judged on national weekly totals (a geo-week is too noisy) and only over weeks
    with spend: flighting switches channels off for weeks at a time, and an off week
    is a plan, not an outlier. Both are judged on the log scale: media budgets move
    multiplicatively (a burst doubles spend), so a robust z on raw spend flags every
    burst, while on logs it flags the typo-sized jumps (x10, x100) a gate should catch.
    CPC is judged only for channels that report clicks (TV does not).
    """
    weekly = spend.groupby(["week", "channel"], as_index=False)[["spend", "clicks"]].sum()
    on_air = weekly[weekly["spend"] > 0]
    out: list[Gate] = []
    for channel, g in on_air.groupby("channel", sort=True):
        out.append(quality.outlier_gate(np.log(g["spend"]), f"log_spend[{channel}]", "spend", params.thresholds))
        if (g["clicks"] > 0).any():
            cpc = (g["spend"] / g["clicks"]).where(g["clicks"] > 0)
            out.append(quality.outlier_gate(np.log(cpc), f"log_cpc[{channel}]", "spend", params.thresholds))
    return out


def unknown_channels(
    store: DataStore, channels: ChannelMap | None = None, tables: tuple[str, ...] = CHANNEL_TABLES
) -> list[str]:
    """List the channels in the staged spend and touchpoints that the channel map does not know (sorted).

    Ingestion keeps such a name as it is, so it is modelled as a channel of its own;
    listing it lets a new spelling of a known channel be added as an alias.

    Parameters
    ----------
    store
        The data store.
    channels
        The channel map; default ``parameters/channels.yaml``
        (:meth:`galaxy_lib.core.channels.ChannelMap.default`).
    tables
        Staged tables whose ``channel`` column is read; absent tables are skipped.
    """
    channels = channels if channels is not None else ChannelMap.default()
    names: set[str] = set()
    for table in tables:
        if store.exists("staged", table):
            names.update(
                store.query(f"SELECT DISTINCT channel FROM {sql.qualified('staged', table)}")["channel"].dropna()
            )
    return channels.unknown(names)


def latency_hours(store: DataStore, table: str = "touchpoints", max_rows: int = 200_000) -> pd.Series:
    """Hours from event time to ingestion for (a sample of) a staged event table, for plotting."""
    df = load_sample(store, "staged", table, max_rows, ["ts", "ingested_at"])
    return ((df["ingested_at"] - df["ts"]).dt.total_seconds() / 3600.0).rename("latency_hours")


def duplicate_gates(store: DataStore, params: InventoryParams) -> list[Gate]:
    """Share of rows of each raw table that repeat an earlier row's key (exact, in DuckDB).

    Measured on ``raw`` because staging quarantines duplicates: this gate says how
    dirty the feed was, the quarantine gate says what was held back.
    """
    th = params.thresholds
    results = []
    for table, contract in CONTRACTS.items():
        if not store.exists("raw", table):
            continue
        key = sql.identifiers(contract.key)
        src = sql.read_parquet(store.glob("raw", table))
        counts = store.query(f"SELECT count(*) AS n, count(*) - count(DISTINCT ({key})) AS dup FROM {src}").iloc[0]
        n, dup = int(counts["n"]), int(counts["dup"])
        rate = dup / n if n else float("nan")
        results.append(
            measure(
                "duplicate_rate",
                rate,
                th.duplicate_rate_warn,
                th.duplicate_rate_fail,
                f"{dup:,} of {n:,} raw {table} rows repeat the key ({'+'.join(contract.key)}): {rate:.3%} "
                f"(warn above {th.duplicate_rate_warn:.2%}, fail above {th.duplicate_rate_fail:.2%}).",
                table=table,
                column="+".join(contract.key),
            )
        )
    return results


def freshness_gates(profiles: pd.DataFrame, params: InventoryParams, as_of: pd.Timestamp) -> list[Gate]:
    """Days since the newest record of each staged feed table (:data:`FEED_TABLES`)."""
    staged = profiles[(profiles["zone"] == "staged") & profiles["latest"].notna() & profiles["table"].isin(FEED_TABLES)]
    out = []
    for row in staged.itertuples():
        column = CONTRACTS[row.table].date_columns[0] if row.table in CONTRACTS else ""
        out.append(quality.freshness_gate(row.latest, as_of, row.table, column, params.thresholds))
    return out


def consent_table(store: DataStore, as_of: pd.Timestamp) -> pd.DataFrame:
    """Consent coverage per purpose among staged customers, valid at ``as_of``."""
    consent = store.read("staged", "consent")
    customers = store.read("staged", "customers", columns=["customer_key"])
    return consent_coverage(consent, customers, as_of=as_of)


def consent_gates(coverage: pd.DataFrame, params: InventoryParams) -> list[Gate]:
    """Warn when a purpose's coverage is below ``min_consent_share``; fail when nobody consented.

    Parameters
    ----------
    coverage
        :func:`consent_table`: ``purpose, tcf_purposes, customers, consented, share``.
    params
        ``min_consent_share`` is the warn threshold; the fail threshold is no consent at all.

    Returns
    -------
    list of Gate
        One ``consent_share`` gate per purpose (``warn_at=min_consent_share``, ``fail_at=0``).
    """
    out = []
    for row in coverage.itertuples():
        share = float(row.share)
        status = grade(share, params.min_consent_share, _NO_CONSENT, higher_is_worse=False)
        out.append(
            Gate(
                "consent_share",
                "consent",
                row.purpose,
                share,
                status,
                params.min_consent_share,
                0.0,
                f"{row.consented:,} of {row.customers:,} customers ({share:.1%}) consent to {row.purpose} "
                f"(TCF purposes {row.tcf_purposes}); warn below {params.min_consent_share:.0%}.",
            )
        )
    return out


def quarantine_table(store: DataStore) -> pd.DataFrame:
    """Quarantined rows per table and rule (``core.quarantine.quarantine_summary``) with the raw row count."""
    out = quarantine_summary(store)
    raw = {t.name: t.rows for t in store.tables() if t.zone == "raw"}
    out["raw_rows"] = out["table"].map(raw).fillna(0).astype(int)
    return out


def quarantine_gates(quarantine: pd.DataFrame, store: DataStore, params: InventoryParams) -> list[Gate]:
    """Share of each raw table held back in quarantine (every raw table gets a gate, zero included)."""
    raw = {t.name: t.rows for t in store.tables() if t.zone == "raw"}
    held = quarantine.groupby("table")["rows"].sum().to_dict() if len(quarantine) else {}
    out = []
    for table, n in sorted(raw.items()):
        q = int(held.get(table, 0))
        share = q / n if n else 0.0
        out.append(
            measure(
                "quarantine_share",
                share,
                params.quarantine_share_warn,
                params.quarantine_share_fail,
                f"{q:,} of {n:,} {table} rows ({share:.3%}) are in quarantine "
                f"(warn above {params.quarantine_share_warn:.2%}, fail above {params.quarantine_share_fail:.0%}).",
                table=table,
                column="",
            )
        )
    return out


def pii_gates(pii: pd.DataFrame) -> list[Gate]:
    """Fail for every staged or curated column that holds personal data (raw and quarantine may).

    Parameters
    ----------
    pii
        :func:`galaxy_lib.inventory.pii.scan_store_tables` findings.

    Returns
    -------
    list of Gate
        One passing ``pii_leak`` gate when no column outside raw and quarantine holds
        personal data; otherwise one failing gate per such column (value = distinct
        values with personal data; any value above 0 fails).
    """
    leaks = pii[~pii["allowed"]]
    if leaks.empty:
        return [
            measure(
                "pii_leak",
                0.0,
                0.0,
                0.0,
                "No e-mail address, phone number or raw customer id in any staged or curated table.",
                table="staged+curated",
                column="",
            )
        ]
    return [
        measure(
            "pii_leak",
            float(r.values_with_pii),
            0.0,
            0.0,
            f"{r.values_with_pii:,} distinct value(s) of {r.zone}.{r.table}.{r.column} look like {r.kind}.",
            table=f"{r.zone}.{r.table}",
            column=r.column,
        )
        for r in leaks.itertuples()
    ]


def gates_frame(gates: list[Gate]) -> pd.DataFrame:
    """All gates as one table (``Gate.to_dict`` columns), worst first, then by gate and table."""
    rank = {status: -i for i, status in enumerate(GATE_STATUSES)}  # fail first
    df = pd.DataFrame([g.to_dict() for g in gates])
    return df.sort_values(
        ["status", "gate", "table"], key=lambda s: s.map(rank) if s.name == "status" else s
    ).reset_index(drop=True)
