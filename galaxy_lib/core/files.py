"""One reader for the CSV and Parquet files users bring.

Ingestion, the MMM's own-data path, MTA path tables and incremental-estimate
files all read through :func:`read_table_file`, so one set of rules holds
everywhere:

* by suffix: ``.csv``, ``.txt`` and ``.tsv`` are delimited text (optionally
  compressed: ``.gz``, ``.bz2``, ``.zip``, ``.xz``), ``.parquet`` and ``.pq`` are
  Parquet; anything else is refused with the suffixes that work;
* the field delimiter of a text file is detected from its header line among
  ``,``, ``;``, tab and ``|`` (a ``.tsv`` file is tab-separated), unless given;
* text is read as UTF-8 with or without a byte-order mark (Excel's CSV export);
* an empty field is missing (``NaN``); the strings ``"NA"``, ``"null"`` and the
  like stay text (so a channel called ``NA`` is not lost) unless ``na_strings=True``;
* a missing file, an unreadable file or a wrong suffix raises
  :class:`TableFileError` (or the caller's own error class) naming the file and
  what it was read for.

Why not ``pandas.read_csv(sep=None)``: its sniffer reads a sample of rows and,
on paths like ``search > email`` or money like ``1,234``, picks the wrong
delimiter; the header line alone decides here.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

__all__ = ["PARQUET_SUFFIXES", "TEXT_SUFFIXES", "TableFileError", "detect_delimiter", "read_table_file"]

TEXT_SUFFIXES: tuple[str, ...] = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
_COMPRESSION: tuple[str, ...] = (".gz", ".bz2", ".zip", ".xz")
_DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")


class TableFileError(ValueError):
    """A user's table file is missing, of an unknown type or unreadable; the message names it."""


def _kind(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in PARQUET_SUFFIXES:
        return "parquet"
    if last == ".tsv":
        return "tsv"
    if last in TEXT_SUFFIXES:
        return "csv"
    return None


def _first_line(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            raw = zf.open(names[0]).readline() if names else b""
    else:
        opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(suffix, open)
        with opener(path, "rb") as fh:
            raw = fh.readline()
    return raw.decode("utf-8-sig", errors="replace")


def detect_delimiter(header: str) -> str:
    """Detect the field delimiter of a header line: the most frequent of ``,``, ``;``, tab and ``|`` (``,`` if none)."""
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] > 0 else ","


def read_table_file(
    path: str | Path,
    what: str = "table",
    *,
    delimiter: str | None = None,
    as_text: bool = False,
    dtype: Mapping[str, str] | None = None,
    na_strings: bool = False,
    error: type[Exception] = TableFileError,
) -> pd.DataFrame:
    """Read a CSV / TSV / Parquet file by its suffix, with errors that name the file.

    Parameters
    ----------
    path
        The file. Relative paths are taken as they are (callers resolve them first).
    what
        What the file is for, quoted in errors (e.g. ``"data_path"``, ``"path table"``).
    delimiter
        Field delimiter of a text file; ``None`` detects it from the header line.
    as_text
        Read every column of a text file as text (ingestion checks types itself, so
        nothing is mis-typed before the checks).
    dtype
        Column types for a text file (ignored for Parquet, which carries its own).
    na_strings
        Also read pandas' missing-value strings (``NA``, ``null``, ``NaN``, ...) as missing,
        for numeric tables exported by R or pandas; by default only an empty field is missing.
    error
        Exception class to raise (a workflow's own error type); default :class:`TableFileError`.

    Returns
    -------
    pd.DataFrame
        The table as read; no rows are dropped.

    Raises
    ------
    error
        When the file does not exist, has an unsupported suffix, or cannot be parsed.
    """
    p = Path(path)
    if not p.is_file():
        raise error(f"{what}: file {p} does not exist. Give the path of a CSV (.csv, .tsv) or Parquet (.parquet) file.")
    kind = _kind(p)
    if kind is None:
        raise error(
            f"{what}: cannot read {p.name}: unsupported file type {''.join(p.suffixes) or '(no suffix)'}. "
            "Save it as CSV (.csv, .tsv, .txt, optionally .gz) or Parquet (.parquet)."
        )
    try:
        if kind == "parquet":
            return pd.read_parquet(p)
        sep = delimiter or ("\t" if kind == "tsv" else detect_delimiter(_first_line(p)))
        return pd.read_csv(
            p,
            sep=sep,
            dtype=str if as_text else (dict(dtype) if dtype else None),
            encoding="utf-8-sig",
            keep_default_na=na_strings,
            na_values=[""],
        )
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        OSError,
        ValueError,
        zipfile.BadZipFile,
        EOFError,
        io.UnsupportedOperation,
    ) as err:
        fix = (
            ". It is not UTF-8 text: save it as CSV UTF-8 (in Excel: Save As > CSV UTF-8)"
            if isinstance(err, UnicodeDecodeError)
            else ""
        )
        raise error(f"{what}: cannot read {p.name} as {kind.upper()}: {err}{fix}") from None
