"""The curated-table registry: workflows declare their tables, staging builds whichever are registered."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pandas as pd
import pytest

import galaxy_lib.pipeline.curated as curated
from galaxy_lib.core.store import DataStore
from galaxy_lib.pipeline.curated import (
    ENTRY_POINT_GROUP,
    CuratedBuild,
    CuratedTable,
    build_curated_tables,
    consented_customers,
    registered_tables,
)
from galaxy_lib.pipeline.staging import stage_world
from tests.fixtures.raw_world import SALT, write_raw


def _count_table(name: str, source: str, calls: list | None = None) -> CuratedTable:
    """A curated table holding the row count of a staged table (and remembering the as_of it got)."""

    def build(store: DataStore, as_of: pd.Timestamp | None) -> CuratedBuild:
        if calls is not None:
            calls.append(as_of)
        n = len(store.read("staged", source))
        store.write("curated", name, pd.DataFrame({"rows": [n]}))
        return CuratedBuild(rows=1, notes=(f"{name}: counted {n} rows",))

    return CuratedTable(name=name, requires=(source,), build=build, owner="tests")


@pytest.fixture()
def raw_store(tmp_path: Path) -> DataStore:
    return write_raw(tmp_path / "world")


def test_entry_points_load_the_workflows_tables() -> None:
    tables = {t.name: t for t in registered_tables()}
    assert {"mmm_weekly", "uplift_features"} <= set(tables)
    assert tables["mmm_weekly"].owner == "mmm" and tables["uplift_features"].owner == "uplift"
    assert all(isinstance(t, CuratedTable) for t in tables.values())
    assert list(tables) == sorted(tables)  # by entry-point name: every run builds them in the same order


def test_an_entry_point_that_is_not_a_curated_table_is_named(monkeypatch) -> None:
    bad = EntryPoint(name="broken", value="galaxy_lib.pipeline.curated:ENTRY_POINT_GROUP", group=ENTRY_POINT_GROUP)
    monkeypatch.setattr(curated, "entry_points", lambda group: [bad] if group == ENTRY_POINT_GROUP else [])
    with pytest.raises(
        TypeError,
        match=r"Entry point broken = galaxy_lib.pipeline.curated:ENTRY_POINT_GROUP .* "
        r"is not a CuratedTable",
    ):
        registered_tables()


def test_stage_world_builds_every_registered_table_by_default(raw_store: DataStore) -> None:
    report = stage_world(raw_store, SALT, progress=False)
    assert set(report.curated) == {t.name for t in registered_tables()}
    for name in report.curated:
        assert raw_store.exists("curated", name)


def test_stage_world_builds_only_the_tables_it_is_given(raw_store: DataStore) -> None:
    calls: list = []
    report = stage_world(
        raw_store,
        SALT,
        progress=False,
        as_of="2023-02-01",
        curated_tables=[_count_table("spend_count", "spend", calls)],
    )
    assert report.curated == {"spend_count": 1}
    assert raw_store.read("curated", "spend_count")["rows"].tolist() == [11]  # 12 raw rows, 1 quarantined
    assert calls == [pd.Timestamp("2023-02-01")]
    assert "spend_count: counted 11 rows" in report.notes
    assert not raw_store.exists("curated", "mmm_weekly") and not raw_store.exists("curated", "uplift_features")
    assert stage_world(raw_store, SALT, progress=False, curated_tables=[]).curated == {}


def test_a_table_whose_staged_inputs_are_missing_is_dropped_with_a_note(raw_store: DataStore) -> None:
    stage_world(raw_store, SALT, progress=False, curated_tables=[])
    needs_missing = CuratedTable(
        name="orders_weekly",
        requires=("spend", "orders"),
        build=lambda store, as_of: pytest.fail("must not be built"),
        owner="tests",
    )
    raw_store.write("curated", "orders_weekly", pd.DataFrame({"x": [1]}))  # an older copy
    rows, notes = build_curated_tables(raw_store, [needs_missing, _count_table("kpi_count", "kpi")], None)
    assert rows == {"kpi_count": 1}
    assert notes == ["curated.orders_weekly not built: it needs staged spend and orders", "kpi_count: counted 6 rows"]
    assert not raw_store.exists("curated", "orders_weekly")  # a stale copy is not left for a workflow to read


def test_tables_with_customer_rows_declare_their_consent_purpose() -> None:
    tables = {t.name: t for t in registered_tables()}
    assert tables["uplift_features"].purpose == "measurement" and "consent" in tables["uplift_features"].requires
    assert tables["mmm_weekly"].purpose is None  # weekly aggregates, no customer rows


def test_consented_customers(raw_store: DataStore) -> None:
    from galaxy_lib.governance.pseudonyms import pseudonymise

    stage_world(raw_store, SALT, progress=False, curated_tables=[])
    keys = set(consented_customers(raw_store, "measurement", pd.Timestamp("2023-01-01"))["customer_key"])
    # C00000002 withdrew on 2023-01-05: out even for an as_of before that, since the withdrawal is known now
    ids = ["C00000001", "C00000003", "C00000004", "C00000005"]
    assert keys == set(pseudonymise(pd.Series(ids), SALT))
    assert consented_customers(raw_store, "personalisation").empty
    raw_store.drop("staged", "consent")
    assert consented_customers(raw_store, "measurement").empty  # no consent records: nobody
