"""Curated tables: model-ready tables that workflows declare and staging builds.

Staging does not know the workflows. Each workflow declares its curated tables
as :class:`CuratedTable` objects in its own ``curated.py`` and registers them
as entry points of the ``galaxy_workbench.curated_tables`` group in
``pyproject.toml``::

    [project.entry-points."galaxy_workbench.curated_tables"]
    mmm_weekly = "galaxy_lib.mmm.curated:MMM_WEEKLY"

:func:`registered_tables` loads them all, so ``galaxy world build``, a
notebook's ``ensure_world`` and the tests build the same set, whichever
workflow happened to be imported. Entry points are the standard Python plugin
mechanism: a package of your own can add curated tables the same way.

A curated table with customer rows is a model input: it keeps only customers
whose consent covers its purpose (:attr:`CuratedTable.purpose`), read through
:func:`consented_customers`, so a withdrawal recorded in ``staged.consent`` takes
the customer out at the next staging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import pandas as pd

from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.consent import consent_valid_at

__all__ = [
    "ENTRY_POINT_GROUP",
    "CuratedBuild",
    "CuratedTable",
    "build_curated_tables",
    "consented_customers",
    "registered_tables",
]

#: Entry-point group under which workflows register their curated tables.
ENTRY_POINT_GROUP = "galaxy_workbench.curated_tables"


@dataclass(frozen=True)
class CuratedBuild:
    """What building one curated table gave: its rows and notes for the staging report."""

    rows: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CuratedTable:
    """A curated table a workflow owns.

    Attributes
    ----------
    name
        Table name in the ``curated`` zone.
    requires
        Staged tables it is built from; when one is missing the table is not built
        (and an older copy is dropped), with a note in the staging report.
    build
        ``build(store, as_of) -> CuratedBuild``: writes ``curated/<name>`` (DuckDB SQL
        over the staged views) and returns its row count. ``as_of`` is the staging
        reference time (``None`` when the store has no timed data).
    owner
        The workflow package that declares it (for the inventory and the docs).
    purpose
        The consent purpose its customer rows need (``None``: no customer rows, e.g.
        weekly aggregates). Its builder keeps only :func:`consented_customers`.
    """

    name: str
    requires: tuple[str, ...]
    build: Callable[[DataStore, pd.Timestamp | None], CuratedBuild] = field(repr=False)
    owner: str = ""
    purpose: str | None = None


def consented_customers(store: DataStore, purpose: str, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Return the customers whose consent covers ``purpose`` at ``as_of`` and still holds now.

    Parameters
    ----------
    store
        A staged store; ``staged.consent`` holds the records (none: nobody consented).
    purpose
        Consent purpose (``measurement``, ``personalisation``, ...).
    as_of
        The moment of processing (None = now). A withdrawal recorded up to now counts
        even for a past ``as_of`` (:func:`galaxy_lib.governance.consent.consent_valid_at`).

    Returns
    -------
    pandas.DataFrame
        One column ``customer_key``, one row per consenting customer (ready to
        register in DuckDB and join).
    """
    if not store.exists("staged", "consent"):
        return pd.DataFrame({"customer_key": pd.Series([], dtype=object)})
    consent = store.query(
        "SELECT customer_key, purpose, tcf_purposes, granted_at, withdrawn_at FROM staged.consent WHERE purpose = ?",
        [purpose],
    )
    keys = consent_valid_at(consent, purpose, as_of)
    return pd.DataFrame({"customer_key": pd.Series(list(keys), dtype=object)})


def registered_tables() -> tuple[CuratedTable, ...]:
    """Every curated table registered under :data:`ENTRY_POINT_GROUP`, by name.

    Raises
    ------
    TypeError
        When an entry point does not name a :class:`CuratedTable` (the message names it).
    """
    tables = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        table = ep.load()
        if not isinstance(table, CuratedTable):
            raise TypeError(f"Entry point {ep.name} = {ep.value} in {ENTRY_POINT_GROUP} is not a CuratedTable.")
        tables.append(table)
    return tuple(tables)


def build_curated_tables(
    store: DataStore,
    tables: Iterable[CuratedTable],
    as_of: pd.Timestamp | None,
) -> tuple[dict[str, int], list[str]]:
    """Build each curated table whose staged inputs exist; drop the others.

    Returns
    -------
    tuple[dict[str, int], list[str]]
        Rows per table built, and notes (tables not built and why, notes of the builders).
    """
    rows: dict[str, int] = {}
    notes: list[str] = []
    for table in tables:
        missing = [t for t in table.requires if not store.exists("staged", t)]
        if missing:
            store.drop("curated", table.name)
            notes.append(f"curated.{table.name} not built: it needs staged {' and '.join(table.requires)}")
            continue
        built = table.build(store, as_of)
        rows[table.name] = built.rows
        notes.extend(built.notes)
    return rows, notes
