"""Quoting for the SQL the workbench writes: every identifier and literal goes through here.

DuckDB runs SQL text, and parts of that text come from outside: column names from a
user's CSV header, table folders in a store, the store's own path. A header such as
``v" FROM (SELECT 1 AS "v") t; COPY (...) TO '/some/file'; --`` put into a query with
an f-string ends the identifier and runs a second statement. :func:`identifier` and
:func:`literal` double the quote characters, so such a name stays one identifier and
a path stays one string; :func:`read_parquet` builds the table function call every
module uses to read a zone's Parquet parts.

Values belong in query parameters (``store.query(sql, [value])``) where DuckDB allows
them; identifiers and table-function paths cannot be parameters, hence these helpers.
"""

from __future__ import annotations

__all__ = ["identifier", "identifiers", "literal", "qualified", "read_parquet"]


def identifier(name: object) -> str:
    """Quote ``name`` as one SQL identifier (``a"b`` -> ``"a""b"``)."""
    return '"' + str(name).replace('"', '""') + '"'


def identifiers(names: object) -> str:
    """Quote each name and join them with commas, for a column list."""
    return ", ".join(identifier(n) for n in names)  # type: ignore[attr-defined]


def literal(value: object) -> str:
    """Quote ``value`` as one SQL string literal (``it's`` -> ``'it''s'``)."""
    return "'" + str(value).replace("'", "''") + "'"


def qualified(schema: str, name: str) -> str:
    """``"schema"."name"``: a view of the store such as ``staged.touchpoints``."""
    return f"{identifier(schema)}.{identifier(name)}"


def read_parquet(glob: object, union_by_name: bool = False) -> str:
    """Call the ``read_parquet('<glob>')`` table function with the path quoted as a literal."""
    option = ", union_by_name = true" if union_by_name else ""
    return f"read_parquet({literal(glob)}{option})"
