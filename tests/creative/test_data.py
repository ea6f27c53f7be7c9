"""Creative inputs: a performance history's bad rows go to the rejected table with the rule and reason."""

from __future__ import annotations

import pandas as pd
import pytest

from galaxy_lib.creative.data import CreativeDataError, check_history


def _history() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": ["2024-03-01", "2024-03-01", "not a date", "2024-03-02", "2024-03-02", "2024-03-02", "2024-03-03"],
            "creative_id": ["A", "B", "A", "A", "B", "Z", "A"],
            "audience": ["young", "young", "young", "old", "old", "old", ""],
            "platform": ["social"] * 7,
            "impressions": [1000, 500, 100, 100, 100, 100, 100],
            "clicks": [10, 600, 1, 5, "-1", 1, 1],
            "conversions": [1, 0, 0, 9, 0, 0, 0],
        }
    )


def test_bad_history_rows_are_rejected_with_their_rule_never_dropped():
    clean, rejected = check_history(_history(), {"A", "B"}, source="history.csv")
    assert len(clean) + len(rejected) == len(_history())
    assert clean["creative_id"].tolist() == ["A"]
    assert clean["impressions"].dtype == float and clean["date"].dtype.kind == "M"
    by_row = dict(zip(rejected["_row"], rejected["_rule"], strict=True))
    assert by_row == {
        2: "clicks_over_impressions",
        3: "date",
        4: "conversions_over_clicks",
        5: "counts",
        6: "unknown_creative",
        7: "blank_key",
    }
    assert set(rejected["_source"]) == {"history.csv"}
    assert rejected.set_index("_row").loc[6, "_reason"].startswith("no creative with this creative_id")


def test_missing_history_column_names_it():
    with pytest.raises(CreativeDataError, match=r"lacks column\(s\) 'conversions'"):
        check_history(_history().drop(columns="conversions"), {"A"})
