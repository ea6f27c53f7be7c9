"""The one reader of users' table files: suffixes, compression, delimiters, BOM, missing values, errors."""

from __future__ import annotations

import bz2
import gzip
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.core.files import TableFileError, detect_delimiter, read_table_file

FRAME = pd.DataFrame({"channel": ["tv", "search", "email"], "spend": [100.5, 40.0, 12.25], "clicks": [3, 0, 7]})


def _write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_header_line_decides_the_delimiter(tmp_path, delimiter):
    text = delimiter.join(FRAME.columns) + "\n"
    text += "".join(delimiter.join(str(v) for v in row) + "\n" for row in FRAME.itertuples(index=False))
    got = read_table_file(_write_text(tmp_path / "spend.csv", text), "spend file")
    pd.testing.assert_frame_equal(got, FRAME)


def test_detect_delimiter_counts_the_header_only():
    assert detect_delimiter("week;geo;channel") == ";"
    assert detect_delimiter("a|b|c,d") == "|"
    assert detect_delimiter("a\tb") == "\t"
    assert detect_delimiter("single_column") == ","


def test_a_comma_in_the_rows_does_not_fool_a_semicolon_file(tmp_path):
    text = "path;conversions\nsearch > email, display;1,234\ntv;5\n"
    got = read_table_file(_write_text(tmp_path / "paths.csv", text), "path table")
    assert list(got.columns) == ["path", "conversions"]
    assert got["path"].tolist() == ["search > email, display", "tv"]


def test_tsv_is_tab_separated_even_with_commas_in_the_header(tmp_path):
    text = "name, with comma\tvalue\nx\t1\n"
    got = read_table_file(_write_text(tmp_path / "t.tsv", text))
    assert list(got.columns) == ["name, with comma", "value"]


def test_txt_is_delimited_text(tmp_path):
    got = read_table_file(_write_text(tmp_path / "t.txt", "a|b\n1|2\n"))
    assert got.to_dict("list") == {"a": [1], "b": [2]}


def test_explicit_delimiter_wins(tmp_path):
    path = _write_text(tmp_path / "t.csv", "a;b;c,d\n1;2;3,4\n")
    assert list(read_table_file(path, delimiter=",").columns) == ["a;b;c", "d"]
    assert list(read_table_file(path).columns) == ["a", "b", "c,d"]


def test_byte_order_mark_is_dropped(tmp_path):
    path = _write_text(tmp_path / "excel.csv", "week;spend\n2024-01-01;5\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    got = read_table_file(path)
    assert list(got.columns) == ["week", "spend"]


def test_empty_field_is_missing_but_na_stays_text(tmp_path):
    path = _write_text(tmp_path / "c.csv", "channel,spend\nNA,1\nnull,\ntv,3\n")
    got = read_table_file(path)
    assert got["channel"].tolist() == ["NA", "null", "tv"]  # a channel called NA is not lost
    assert np.isnan(got.loc[1, "spend"])
    strict = read_table_file(path, na_strings=True)
    assert strict["channel"].isna().tolist() == [True, True, False]


def test_as_text_and_dtype(tmp_path):
    path = _write_text(tmp_path / "c.csv", "id,spend\n007,1.50\n")
    assert read_table_file(path, as_text=True).iloc[0].tolist() == ["007", "1.50"]
    assert read_table_file(path, dtype={"id": "string"})["id"].tolist() == ["007"]
    assert read_table_file(path)["id"].tolist() == [7]


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.zip", ".tsv.gz"])
def test_compressed_text(tmp_path, suffix):
    sep = "\t" if suffix.startswith(".tsv") else ";"
    text = FRAME.to_csv(index=False, sep=sep).encode("utf-8-sig")
    path = tmp_path / f"spend{suffix}"
    if suffix.endswith(".gz"):
        path.write_bytes(gzip.compress(text))
    elif suffix.endswith(".bz2"):
        path.write_bytes(bz2.compress(text))
    else:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("spend.csv", text)
    pd.testing.assert_frame_equal(read_table_file(path), FRAME)


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_keeps_its_types(tmp_path, suffix):
    frame = FRAME.assign(week=pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15"]))
    path = tmp_path / f"spend{suffix}"
    frame.to_parquet(path)
    pd.testing.assert_frame_equal(read_table_file(path, dtype={"spend": "str"}), frame)


def test_suffix_is_case_insensitive(tmp_path):
    got = read_table_file(_write_text(tmp_path / "SPEND.CSV", "a,b\n1,2\n"))
    assert got.shape == (1, 2)


def test_missing_file_names_the_file_and_what_it_was_for(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(TableFileError) as err:
        read_table_file(path, "data_path")
    assert str(err.value).startswith("data_path: file ") and str(path) in str(err.value)
    assert "does not exist" in str(err.value)


@pytest.mark.parametrize("name", ["spend.xlsx", "spend", "spend.json.gz"])
def test_unknown_suffix_names_the_file_and_the_suffixes_that_work(tmp_path, name):
    path = _write_text(tmp_path / name, "a,b\n1,2\n")
    with pytest.raises(TableFileError) as err:
        read_table_file(path, "spend file")
    msg = str(err.value)
    assert msg.startswith(f"spend file: cannot read {name}") and "unsupported file type" in msg
    assert ".csv" in msg and ".parquet" in msg


def test_unreadable_files_raise_the_callers_error(tmp_path):
    class WorkflowError(ValueError):
        pass

    bad_parquet = _write_text(tmp_path / "broken.parquet", "not parquet at all")
    with pytest.raises(WorkflowError, match=r"incremental file: cannot read broken\.parquet as PARQUET"):
        read_table_file(bad_parquet, "incremental file", error=WorkflowError)
    empty = _write_text(tmp_path / "empty.csv", "")
    with pytest.raises(WorkflowError, match=r"cannot read empty\.csv as CSV"):
        read_table_file(empty, "path table", error=WorkflowError)
    bad_gz = tmp_path / "bad.csv.gz"
    bad_gz.write_bytes(b"not gzip")
    with pytest.raises(TableFileError, match=r"bad\.csv\.gz"):
        read_table_file(bad_gz)
    with pytest.raises(WorkflowError, match="does not exist"):
        read_table_file(tmp_path / "missing.csv", error=WorkflowError)


def test_no_rows_are_dropped(tmp_path):
    text = "a,b\n1,2\n,\n3,\n"
    got = read_table_file(_write_text(tmp_path / "t.csv", text))
    assert len(got) == 3 and got.isna().sum().sum() == 3


def test_a_file_that_is_not_utf8_says_how_to_save_it(tmp_path):
    path = _write_text(tmp_path / "latin.csv", "week,channel\n2024-01-01,télé\n", encoding="latin-1")
    with pytest.raises(TableFileError, match=r"latin\.csv.*not UTF-8 text: save it as CSV UTF-8"):
        read_table_file(path)
