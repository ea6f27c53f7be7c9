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

A store path is also a *glob* for DuckDB: a folder named ``data[1]`` would be read as
a character class (no files found) and ``data*`` would read the tables of every
folder beginning with ``data``. :func:`read_parquet` therefore escapes the glob
characters of the folder part (:func:`glob_escape`), so only the last component's
pattern (``*.parquet``) is a pattern.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["glob_escape", "identifier", "identifiers", "literal", "qualified", "read_parquet"]

# DuckDB's glob characters, each escaped as a one-character class that matches only itself
_GLOB_ESCAPES = {"[": "[[]", "*": "[*]", "?": "[?]"}


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


def glob_escape(path: object) -> str:
    """Escape DuckDB's glob characters in ``path`` so it matches only itself (``a*b`` -> ``a[*]b``)."""
    return "".join(_GLOB_ESCAPES.get(c, c) for c in str(path))


def read_parquet(glob: object, union_by_name: bool = False) -> str:
    """Call the ``read_parquet('<glob>')`` table function with the path quoted as a literal.

    Only the last path component is a pattern: glob characters in the folders
    (``/data/run[1]/raw/spend/*.parquet``) are escaped with :func:`glob_escape`. DuckDB
    cannot glob below a folder whose name holds a backslash, so there the matching
    files are listed here and passed as a list (as the glob, read when the SQL is built).
    """
    option = ", union_by_name = true" if union_by_name else ""
    folder, sep, pattern = str(glob).rpartition("/")
    if "\\" in folder:
        files = sorted(str(p) for p in Path(folder).glob(pattern))
        if files:
            return f"read_parquet([{', '.join(literal(f) for f in files)}]{option})"
    return f"read_parquet({literal(glob_escape(folder) + sep + pattern)}{option})"
