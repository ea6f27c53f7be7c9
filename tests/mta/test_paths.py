"""Path tables: parsing, validation, quarantine and the errors users see."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.mta import PathTableError, markov_attribution, parse_path_table, read_path_table


def frame(paths, conv=None, value=None, null=None) -> pd.DataFrame:
    n = len(paths)
    return pd.DataFrame(
        {
            "path": paths,
            "total_conversions": conv if conv is not None else [1] * n,
            "total_conversion_value": value if value is not None else [1.0] * n,
            "total_null": null if null is not None else [1] * n,
        }
    )


def decoded(table) -> list[list[str]]:
    ch = np.asarray(table.channels, dtype=object)
    return [list(ch[table.codes[a:b]]) for a, b in zip(table.offsets[:-1], table.offsets[1:], strict=True)]


def test_parses_into_codes_and_offsets() -> None:
    t = parse_path_table(frame(["search > email", "direct", "email > email > search"]))
    assert t.channels == ("direct", "email", "search")
    assert decoded(t) == [["search", "email"], ["direct"], ["email", "email", "search"]]
    assert t.offsets.tolist() == [0, 2, 3, 6]
    assert t.quarantine.empty
    assert t.summary()["paths"] == 3 and t.summary()["journeys"] == 6


def test_whitespace_around_separator_does_not_matter() -> None:
    a = parse_path_table(frame(["a>b", " a >  b ", "a > b"]))
    assert decoded(a) == [["a", "b"]] * 3
    pipe = parse_path_table(frame(["a|b", "c | a"]), separator="|")
    assert decoded(pipe) == [["a", "b"], ["c", "a"]]
    spaced = parse_path_table(frame(["a b", "c  a"]), separator=" ")
    assert decoded(spaced) == [["a", "b"], ["c", "a"]]


def test_bad_rows_go_to_quarantine_with_reasons() -> None:
    df = frame(
        ["a > b", "", "a >  > b", "a > ", "a > zz", "b", "a", "b > a", "a", None],
        conv=[1, 1, 1, 1, 1, -2, 1, 0, "x", 1],
        value=[1.0, 1, 1, 1, 1, 1, -5, 3.0, 1, 1],
        null=[0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    )
    t = parse_path_table(df, channels=["a", "b"], source="mine.csv")
    q = t.quarantine.set_index("_row")
    assert list(t.table["path"]) == ["a > b"]
    assert q.loc[1, "_rule"] == "empty_path"
    assert q.loc[2, "_rule"] == "empty_channel" and "doubled or trailing" in q.loc[2, "_reason"]
    assert q.loc[3, "_rule"] == "empty_channel"
    assert q.loc[4, "_rule"] == "unknown_channel" and "'zz'" in q.loc[4, "_reason"]
    assert q.loc[5, "_rule"] == "negative_conversions"
    assert q.loc[6, "_rule"] == "negative_value"
    assert q.loc[7, "_rule"] == "value_without_conversion"
    assert q.loc[8, "_rule"] == "not_a_number"
    assert q.loc[9, "_rule"] == "empty_path"
    assert (q["_source"] == "mine.csv").all()
    assert len(t.quarantine) == 9


def test_zero_journeys_are_quarantined() -> None:
    t = parse_path_table(frame(["a", "b"], conv=[0, 1], value=[0.0, 1.0], null=[0, 0]))
    assert t.quarantine["_rule"].tolist() == ["no_journeys"]
    assert t.channels == ("b",)


def test_wrong_separator_is_detected() -> None:
    df = frame(["search>email>direct", "email>search", "direct"])
    with pytest.raises(PathTableError, match=r"look separated by '>'"):
        parse_path_table(df, separator="|")
    df = frame(["search|email", "email|direct|search", "search"])
    with pytest.raises(PathTableError, match=r"separator='\|'"):
        parse_path_table(df, separator=" > ")


def test_wrong_separator_with_channel_list() -> None:
    df = frame(["search,email > direct", "email,search > email", "direct"])
    with pytest.raises(PathTableError, match=r"joined by ','"):
        parse_path_table(df, channels=["search", "email", "direct"])
    # a minority of such rows is quarantined with the hint instead
    df = frame(["search > email", "email > direct", "direct", "email,search"])
    t = parse_path_table(df, channels=["search", "email", "direct"])
    assert "is the separator ','" in t.quarantine["_reason"].iloc[0]


def test_missing_column_and_mapping() -> None:
    df = pd.DataFrame({"journey": ["a > b"], "conv": [1]})
    with pytest.raises(PathTableError, match=r"required column 'path' is missing.*mapping"):
        parse_path_table(df)
    t = parse_path_table(df, mapping={"journey": "path", "conv": "total_conversions"})
    assert t.total_conversions == 1 and t.total_value == 0 and t.nulls.tolist() == [0.0]
    with pytest.raises(PathTableError, match="not in the table"):
        parse_path_table(df, mapping={"nope": "path"})


def test_nothing_valid_left() -> None:
    with pytest.raises(PathTableError, match="no valid path left"):
        parse_path_table(frame(["", ""]))


def test_lag_days_are_parsed_and_checked() -> None:
    df = frame(["a > b", "a > b", "b"]).assign(lag_days=["3 > 0", "1", "x"])
    t = parse_path_table(df)
    assert t.lags.tolist() == [3.0, 0.0]
    assert t.quarantine.set_index("_row")["_rule"].to_dict() == {1: "lag_mismatch", 2: "bad_lag"}


def test_aggregate_merges_timing_profiles() -> None:
    df = frame(["a > b", "a > b", "b"], conv=[1, 2, 0], value=[1.0, 4.0, 0.0], null=[0, 1, 5]).assign(
        lag_days=["3 > 0", "5 > 1", "0"]
    )
    agg = parse_path_table(df).aggregate()
    assert agg.lags is None and agg.n_paths == 2
    assert dict(zip(agg.table["path"], agg.conversions, strict=True)) == {"a > b": 3.0, "b": 0.0}


def test_dataframe_with_bad_rows_is_refused_by_the_models() -> None:
    with pytest.raises(PathTableError, match=r"row 1: total_conversions is negative"):
        markov_attribution(frame(["a", "b"], conv=[1, -1]))


def test_read_csv_with_detected_delimiter(tmp_path: Path) -> None:
    f = tmp_path / "paths.csv"
    f.write_text("path;total_conversions;total_conversion_value;total_null\na > b;1;2.5;3\nb;0;0;4\n")
    t = read_path_table(f)
    assert t.channels == ("a", "b") and t.total_value == 2.5 and t.source == "paths.csv"
    pq = tmp_path / "paths.parquet"
    t.table.to_parquet(pq)
    assert read_path_table(pq).n_paths == 2
    with pytest.raises(PathTableError, match="does not exist"):
        read_path_table(tmp_path / "missing.csv")


def test_read_path_table_uses_the_shared_file_reader(tmp_path: Path) -> None:
    """A BOM, a tab-separated file, a channel called NA and an empty path: the rules of core.files."""
    f = tmp_path / "paths.tsv"
    f.write_bytes("\ufeffpath\ttotal_conversions\ttotal_null\nNA > b\t1\t3\n\t1\t1\n".encode())
    t = read_path_table(f)
    assert t.channels == ("NA", "b") and t.n_paths == 1
    assert t.quarantine["_rule"].tolist() == ["empty_path"] and t.quarantine["path"].tolist() == [""]
    xlsx = tmp_path / "paths.xlsx"
    xlsx.write_bytes(b"not a table")
    with pytest.raises(PathTableError, match=r"path table: cannot read paths.xlsx: unsupported file type \.xlsx"):
        read_path_table(xlsx)
