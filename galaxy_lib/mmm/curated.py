"""The MMM's curated table: weekly KPI and media per geo, built by staging from staged tables.

Registered in ``pyproject.toml`` under ``galaxy_workbench.curated_tables``, so
every staging run builds it (see :mod:`galaxy_lib.pipeline.curated`).
"""

from __future__ import annotations

import re

import pandas as pd

from galaxy_lib.core import sql
from galaxy_lib.core.contracts import MMM_CHANNELS, ContractError
from galaxy_lib.core.store import DataStore
from galaxy_lib.pipeline.curated import CuratedBuild, CuratedTable

__all__ = ["MMM_WEEKLY", "NATIONAL", "build_mmm_weekly"]

#: Reserved geo of the national total in curated.mmm_weekly.
NATIONAL = "ALL"


def _column_suffix(channel: str) -> str:
    name = re.sub(r"[^0-9a-z]+", "_", str(channel).lower()).strip("_")
    if not name:
        raise ContractError(f"Channel {channel!r} gives an empty column name in curated.mmm_weekly; rename it.")
    return name


def build_mmm_weekly(store: DataStore, as_of: pd.Timestamp | None = None) -> CuratedBuild:
    """Build ``curated/mmm_weekly`` from ``staged.kpi`` and ``staged.spend`` with DuckDB; returns its rows.

    One row per (week, geo) of the KPI table, plus a national total per week with
    ``geo = "ALL"``: revenue, conversions, spend and impressions summed over geos,
    ``price_index`` averaged (unweighted mean over geos) and ``holiday`` the maximum.
    Spend is pivoted wide: ``spend_<channel>`` and ``impressions_<channel>`` for every
    channel in the staged spend (the MMM channels first, then others alphabetically;
    names lower-cased with non-alphanumerics as ``_``). A channel without a spend row
    in a week and geo counts as zero spend there (media data lists what was bought);
    spend rows in weeks without a KPI row are not in the table (nothing to explain).
    The national total is computed from the per-geo rows, so it is their exact sum.
    ``as_of`` is not used (the table covers every staged week).

    Raises
    ------
    ContractError
        If a staged geo is called ``"ALL"`` (reserved for the national total), a spend
        geo has no KPI rows at all (its spend would silently count as zero, e.g. a
        national spend file next to a per-geo KPI file), or two channels map to the same
        column name.
    """
    with store.connect() as con:
        channels = [r[0] for r in con.sql("SELECT DISTINCT channel FROM staged.spend").fetchall()]
        reserved = con.sql(
            f"SELECT count(*) FROM (SELECT geo FROM staged.kpi UNION ALL SELECT geo FROM staged.spend) "
            f"WHERE geo = {sql.literal(NATIONAL)}"
        ).fetchall()[0][0]
        if reserved:
            raise ContractError(
                f"{reserved} staged kpi/spend rows have geo = {NATIONAL!r}, which curated.mmm_weekly reserves for "
                "the national total. Rename that geo in your files (e.g. 'NATIONAL') and ingest again."
            )
        orphan = [
            r[0]
            for r in con.sql(
                "SELECT DISTINCT geo FROM staged.spend "
                "WHERE geo NOT IN (SELECT DISTINCT geo FROM staged.kpi) ORDER BY geo"
            ).fetchall()
        ]
        if orphan:
            kpi_geos = [r[0] for r in con.sql("SELECT DISTINCT geo FROM staged.kpi ORDER BY geo").fetchall()]
            raise ContractError(
                f"Spend geo(s) {orphan} have no KPI rows (KPI geos: {kpi_geos}), so their spend cannot explain any "
                "revenue in curated.mmm_weekly. Give spend and KPI the same geos: ingest both per geo, or both "
                "without a geo column (national)."
            )
        order = [c for c in MMM_CHANNELS if c in channels] + sorted(c for c in channels if c not in MMM_CHANNELS)
        suffix = {c: _column_suffix(c) for c in order}
        if len(set(suffix.values())) != len(suffix):
            raise ContractError(f"Channels {order} do not give distinct column names ({list(suffix.values())}).")
        pivot = ",\n".join(
            f"sum(spend) FILTER (WHERE channel = {sql.literal(c)}) AS spend_{s}, "
            f"sum(impressions) FILTER (WHERE channel = {sql.literal(c)}) AS impressions_{s}"
            for c, s in suffix.items()
        )
        media = [f"{m}_{s}" for s in suffix.values() for m in ("spend", "impressions")]
        per_geo = ", ".join(f"coalesce(s.{c}, 0.0) AS {c}" for c in media)
        total = ", ".join(f"sum({c}) AS {c}" for c in media)
        query = f"""
            WITH s AS (SELECT week, geo, {pivot} FROM staged.spend GROUP BY week, geo),
            g AS (
                SELECT k.week, k.geo, k.revenue, k.conversions, k.price_index, k.holiday, {per_geo}
                FROM staged.kpi k LEFT JOIN s ON k.week = s.week AND k.geo = s.geo
            )
            SELECT * FROM g
            UNION ALL
            SELECT week, {sql.literal(NATIONAL)} AS geo, sum(revenue) AS revenue, sum(conversions) AS conversions,
                   avg(price_index) AS price_index, max(holiday) AS holiday, {total}
            FROM g GROUP BY week
            ORDER BY geo = {sql.literal(NATIONAL)}, geo, week
        """
        result = con.sql(query).to_arrow_table()
    store.write("curated", "mmm_weekly", result)
    return CuratedBuild(rows=result.num_rows)


#: ``curated/mmm_weekly``: one row per week and geo plus a national total (``geo = "ALL"``) with
#: ``revenue, conversions, price_index, holiday`` and ``spend_<channel>, impressions_<channel>``.
MMM_WEEKLY = CuratedTable(name="mmm_weekly", requires=("spend", "kpi"), build=build_mmm_weekly, owner="mmm")
