"""Customer journeys built from the store's events, with DuckDB.

:func:`build_journeys` turns the staged ``touchpoints`` and ``conversions`` of a
:class:`~galaxy_lib.core.store.DataStore` into customer journeys: per customer, the
touches ordered in time within a lookback window, ending in a conversion or not.
Only customers whose consent covers ``measurement`` are used and the result says
how many were excluded. Conversions with no touch before them go to quarantine
with the reason. The journeys are aggregated into a
:class:`~galaxy_lib.mta.paths.PathTable`, so the result grows with unique paths.

Memory stays bounded by the batch size, not the number of events: the events are
read from the store's Parquet parts by DuckDB in batches of :data:`BATCH_ROWS`,
each batch goes through the consent filter
(:func:`galaxy_lib.governance.consent.filter_by_consent`, the one consent rule) and
the kept rows are appended to a DuckDB table; the join, the windows and the
aggregation run in DuckDB, which spills to a temporary folder rather than grow.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from galaxy_lib.core import sql
from galaxy_lib.mta.paths import DEFAULT_SEPARATOR, PathTable, PathTableError, parse_path_table

if TYPE_CHECKING:  # pragma: no cover - typing only
    import duckdb

    from galaxy_lib.core.store import DataStore

__all__ = ["BATCH_ROWS", "MEMORY_LIMIT", "JourneyData", "build_journeys"]

#: Events per batch read into pandas for the consent filter (the bound on build_journeys' pandas memory).
BATCH_ROWS = 100_000
#: DuckDB's memory limit in :func:`build_journeys`; beyond it DuckDB spills to a temporary folder.
#: On the demo world (768k events) the build peaks at about 530 MB with it, 990 MB when every
#: event was loaded into pandas (bench/mta_journeys_memory.py); 128 MB is too little there.
MEMORY_LIMIT = "512MB"


@dataclass(frozen=True, eq=False)
class JourneyData:
    """Journeys built from events, with what was excluded and why.

    Attributes
    ----------
    paths
        The aggregated :class:`PathTable` (one row per channel sequence and timing profile).
    journeys
        Number of journeys (converting + non-converting).
    conversions
        Conversions attached to a journey.
    excluded_customers, excluded_touchpoints, excluded_conversions
        Removed because the customer's consent does not cover ``purpose``.
    null_journeys
        Non-converting journeys (lookback-sized windows of touches that led to no conversion).
    quarantine
        Conversions that could not be attributed, with ``_rule`` and ``_reason``
        (``conversion_before_first_touch``, ``no_touch_in_lookback``, ``unknown_channel``).
    lookback_days, purpose
        The settings used.
    """

    paths: PathTable
    journeys: int
    conversions: int
    excluded_customers: int
    excluded_touchpoints: int
    excluded_conversions: int
    null_journeys: int
    quarantine: pd.DataFrame
    lookback_days: float
    purpose: str = "measurement"

    def summary(self) -> dict[str, Any]:
        """Count journeys, exclusions and quarantined conversions (for the report)."""
        return {
            "journeys": self.journeys,
            "conversions": self.conversions,
            "unique_paths": self.paths.aggregate().n_paths,
            "consent_excluded_customers": self.excluded_customers,
            "consent_excluded_touchpoints": self.excluded_touchpoints,
            "consent_excluded_conversions": self.excluded_conversions,
            "null_journeys": self.null_journeys,
            "quarantined_conversions": len(self.quarantine),
            "lookback_days": self.lookback_days,
        }


# -- journeys from events -----------------------------------------------------------------
# Every touch is assigned to exactly one journey. A touch belongs to the journey of the
# customer's next conversion (ASOF join: the first conversion at or after the touch) when
# it falls within the lookback window before it; every other touch is "non-converting"
# and is grouped per customer into consecutive lookback-sized windows, each window one
# non-converting journey (the first window starts at the customer's first such touch).
_ASSIGN_SQL = """
CREATE OR REPLACE TEMP TABLE assigned AS
WITH nxt AS (
    SELECT t.customer_key, t.event_id, t.ts, t.channel, c.conversion_id, c.conv_ts, c.revenue
    FROM touch_in t ASOF LEFT JOIN conv_in c
      ON t.customer_key = c.customer_key AND t.ts <= c.conv_ts
),
flagged AS (
    SELECT *, (conversion_id IS NOT NULL AND epoch_us(conv_ts) - epoch_us(ts) < $lookback_us) AS converting
    FROM nxt
),
nulls AS (
    SELECT *, MIN(ts) OVER (PARTITION BY customer_key) AS t0 FROM flagged WHERE NOT converting
)
SELECT customer_key, event_id, ts, channel, conversion_id AS journey_id, conv_ts AS end_ts, revenue, 1 AS converted
FROM flagged WHERE converting
UNION ALL
SELECT customer_key, event_id, ts, channel,
       'null:' || customer_key || ':' || CAST((epoch_us(ts) - epoch_us(t0)) // $lookback_us AS VARCHAR) AS journey_id,
       NULL AS end_ts, 0.0 AS revenue, 0 AS converted
FROM nulls
"""

_JOURNEYS_SQL = """
CREATE OR REPLACE TABLE journeys AS
WITH ends AS (
    SELECT journey_id, COALESCE(MAX(end_ts), MAX(ts)) AS jend FROM assigned GROUP BY journey_id
),
touches AS (
    SELECT a.journey_id, a.customer_key, a.converted, a.revenue, a.channel, a.ts, a.event_id,
           CAST(floor((epoch(e.jend) - epoch(a.ts)) / 86400.0) AS BIGINT) AS lag_d
    FROM assigned a JOIN ends e USING (journey_id)
)
SELECT journey_id, ANY_VALUE(customer_key) AS customer_key, ANY_VALUE(converted) AS converted,
       ANY_VALUE(revenue) AS revenue,
       string_agg(channel, $sep ORDER BY ts, event_id) AS path,
       string_agg(CAST(lag_d AS VARCHAR), $sep ORDER BY ts, event_id) AS lag_days
FROM touches GROUP BY journey_id
"""

_PATHS_SQL = """
SELECT path, lag_days,
       SUM(converted)::DOUBLE AS total_conversions,
       SUM(revenue)::DOUBLE AS total_conversion_value,
       SUM(1 - converted)::DOUBLE AS total_null
FROM journeys
GROUP BY path, lag_days
ORDER BY path, lag_days
"""

#: Distinct customers per path: what k-anonymity counts (a customer with many journeys is one person).
_CUSTOMERS_SQL = """
SELECT path, COUNT(DISTINCT customer_key) AS customers FROM journeys GROUP BY path ORDER BY path
"""

_ORPHAN_SQL = """
WITH first_touch AS (SELECT customer_key, MIN(ts) AS first_ts FROM touch_in GROUP BY customer_key),
attached AS (SELECT DISTINCT journey_id FROM assigned WHERE converted = 1)
SELECT c.conversion_id, c.customer_key, c.conv_ts AS ts, c.revenue, f.first_ts
FROM conv_in c LEFT JOIN first_touch f ON f.customer_key = c.customer_key
WHERE c.conversion_id NOT IN (SELECT journey_id FROM attached)
ORDER BY c.conv_ts, c.conversion_id
"""


def _consent_filter(df: pd.DataFrame, consent: pd.DataFrame, purpose: str, as_of: Any) -> tuple[pd.DataFrame, int, int]:
    from galaxy_lib.governance.consent import filter_by_consent

    res = filter_by_consent(df, consent, purpose, as_of=as_of, key="customer_key", time_col="ts")
    return res.kept, int(res.excluded_rows), int(res.excluded_customers)


def _load_consented(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    target: str,
    consent: pd.DataFrame,
    purpose: str,
    as_of: Any,
) -> int:
    """Copy the consented rows of ``staged.<table>`` into the DuckDB table ``target``, batch by batch.

    DuckDB streams the table from its Parquet parts (the store's view); each batch of
    :data:`BATCH_ROWS` rows goes through the consent filter in pandas and its kept rows
    are appended to ``target``. Returns the number of rows the consent filter excluded.
    """
    source = f"SELECT {sql.identifiers(columns)} FROM {sql.qualified('staged', table)}"
    con.execute(f"CREATE OR REPLACE TABLE {sql.identifier(target)} AS {source} LIMIT 0")
    excluded = 0
    reader = con.cursor()
    try:
        for batch in reader.sql(source).to_arrow_reader(BATCH_ROWS):
            rows = batch.to_pandas()
            # a row's consent depends on its own customer's records only: give the filter those
            # (a table without the key column goes whole, for the filter to name what is missing)
            mine = consent
            if "customer_key" in consent.columns and "customer_key" in rows.columns:
                mine = consent[consent["customer_key"].isin(rows["customer_key"].unique())]
            kept, excluded_rows, _ = _consent_filter(rows, mine, purpose, as_of)
            excluded += excluded_rows
            if len(kept):
                con.register("consented_batch", kept)
                con.execute(f"INSERT INTO {sql.identifier(target)} SELECT * FROM consented_batch")
                con.unregister("consented_batch")
    finally:
        reader.close()
    return excluded


def _count(con: duckdb.DuckDBPyConnection, query: str, params: list | None = None) -> int:
    return int(con.execute(query, params or []).fetchone()[0])


def build_journeys(
    store: DataStore,
    lookback_days: float = 30.0,
    purpose: str = "measurement",
    as_of: dt.datetime | str | None = None,
    channels: Sequence[str] | None = None,
    separator: str = DEFAULT_SEPARATOR,
    memory_limit: str = MEMORY_LIMIT,
) -> JourneyData:
    """Build customer journeys from the staged touchpoints and conversions.

    Every touch belongs to exactly one journey. A converting journey is the customer's
    touches in the ``lookback_days`` before a conversion and after the customer's
    previous conversion, in time order (ties by ``event_id``). Every other touch did not
    lead to a conversion within the window: a customer's such touches are cut into
    consecutive ``lookback_days`` windows (from their first one), each window a
    non-converting journey. Journeys are aggregated by channel sequence and timing
    profile (whole days from each touch to the journey end: the conversion, or the
    window's last touch) with DuckDB, so the result grows with unique paths. Consent is
    checked at each event's own time and at ``as_of`` (see
    :func:`galaxy_lib.governance.consent.filter_by_consent`).

    Parameters
    ----------
    store
        A staged :class:`~galaxy_lib.core.store.DataStore` (tables keyed by ``customer_key``).
    lookback_days
        Attribution window: touches older than this before the journey end are not part of it.
    purpose
        Consent purpose that must cover a customer for their events to be used.
    as_of
        Date at which consent is evaluated (default: now).
    channels
        Allowed channels (default: every channel seen); others go to quarantine.
    separator
        Separator written between channels in the ``path`` column.
    memory_limit
        DuckDB's memory limit (``"512MB"``, ``"2GB"``); DuckDB spills to a temporary folder
        beyond it. Raise it when the build stops with an out-of-memory error.

    Returns
    -------
    JourneyData
        The path table, the consent exclusions and the quarantined conversions.
    """
    import duckdb

    if not lookback_days or lookback_days <= 0:
        raise ValueError(f"lookback_days must be > 0 (got {lookback_days!r}).")
    for table in ("touchpoints", "conversions", "consent"):
        if not store.exists("staged", table):
            raise FileNotFoundError(
                f"staged.{table} is missing under {store.root}: build and stage the world first "
                "(galaxy_lib.simulate.ensure_world) or ingest your own events."
            )
    consent = store.read("staged", "consent")
    con = store.connect()
    spill = tempfile.TemporaryDirectory(prefix="galaxy-journeys-")
    try:
        con.execute(f"SET temp_directory = {sql.literal(spill.name)}")
        con.execute("SET memory_limit = $limit", {"limit": memory_limit})
        con.execute("SET preserve_insertion_order = true")
        ex_touch_rows = _load_consented(
            con, "touchpoints", ["event_id", "customer_key", "ts", "channel"], "touch_kept", consent, purpose, as_of
        )
        ex_conv_rows = _load_consented(
            con, "conversions", ["conversion_id", "customer_key", "ts", "revenue"], "conv_kept", consent, purpose, as_of
        )
        excluded_customers = _count(
            con,
            "SELECT COUNT(*) FROM (SELECT customer_key FROM staged.touchpoints UNION SELECT customer_key "
            "FROM staged.conversions EXCEPT (SELECT customer_key FROM touch_kept UNION SELECT customer_key "
            "FROM conv_kept))",
        )
        n_kept_touches, n_kept_conversions = (
            _count(con, "SELECT COUNT(*) FROM touch_kept"),
            _count(con, "SELECT COUNT(*) FROM conv_kept"),
        )

        quarantine_parts: list[pd.DataFrame] = []
        allowed_sql = "TRUE"
        if channels is not None:
            allowed = sorted({str(c) for c in channels})
            allowed_sql = "channel IS NOT NULL AND list_contains($allowed, channel)"
            q = con.execute(
                "SELECT *, 'unknown_channel' AS _rule, "
                "'touchpoint channel ' || COALESCE(channel, 'None') || $listed AS _reason "
                f"FROM touch_kept WHERE NOT ({allowed_sql})",
                {"allowed": allowed, "listed": f" is not one of {allowed}"},
            ).df()
            if len(q):
                quarantine_parts.append(q)
        con.execute(
            f"CREATE OR REPLACE TABLE touch_in AS SELECT customer_key, event_id, ts, channel FROM touch_kept "
            f"WHERE {allowed_sql}",
            {"allowed": allowed} if channels is not None else {},
        )
        con.execute(
            "CREATE OR REPLACE TABLE conv_in AS "
            "SELECT customer_key, conversion_id, ts AS conv_ts, revenue FROM conv_kept"
        )
        con.execute("DROP TABLE touch_kept")
        con.execute("DROP TABLE conv_kept")

        lookback_us = round(float(lookback_days) * 86400e6)
        con.execute(_ASSIGN_SQL.replace("$lookback_us", str(lookback_us)))
        con.execute(_JOURNEYS_SQL, {"sep": separator})
        agg = con.execute(_PATHS_SQL).df()
        customers = con.execute(_CUSTOMERS_SQL).df()
        orphans = con.execute(_ORPHAN_SQL).df()
        n_null = _count(con, "SELECT COUNT(DISTINCT journey_id) FROM assigned WHERE converted = 0")
    except duckdb.OutOfMemoryException as err:
        raise MemoryError(
            f"Building journeys from {store.root} needs more than memory_limit={memory_limit!r} in DuckDB; "
            f"pass a larger memory_limit to build_journeys (e.g. '2GB'). DuckDB said: {err}"
        ) from None
    finally:
        con.close()
        spill.cleanup()

    if len(orphans):
        before = orphans["first_ts"].isna() | (orphans["first_ts"] > orphans["ts"])
        orphans["_rule"] = np.where(before, "conversion_before_first_touch", "no_touch_in_lookback")
        orphans["_reason"] = np.where(
            before,
            "conversion happened before the customer's first touchpoint (or the customer has none)",
            f"no touchpoint in the {lookback_days:g} days before the conversion (after any previous conversion)",
        )
        quarantine_parts.append(orphans.drop(columns=["first_ts"]))
    quarantine = (
        pd.concat(quarantine_parts, ignore_index=True)
        if quarantine_parts
        else pd.DataFrame(columns=["_rule", "_reason"])
    )
    if len(quarantine):
        quarantine["_source"] = "events"

    if agg.empty:
        raise PathTableError(
            f"No journeys could be built from {store.root}: {n_kept_touches} consented touchpoints, "
            f"{n_kept_conversions} consented conversions. Check consent coverage and lookback_days."
        )
    paths = parse_path_table(agg, separator=separator, channels=channels, source="events")
    paths = replace(paths, customers=customers.set_index("path")["customers"].astype("int64"))
    n_conv = int(paths.conversions.sum())
    return JourneyData(
        paths=paths,
        journeys=round(paths.total_journeys),
        conversions=n_conv,
        excluded_customers=int(excluded_customers),
        excluded_touchpoints=int(ex_touch_rows),
        excluded_conversions=int(ex_conv_rows),
        null_journeys=n_null,
        quarantine=quarantine,
        lookback_days=float(lookback_days),
        purpose=purpose,
    )
