"""Loading MMM inputs: a user's file (CSV, TSV, Parquet) or the Galaxy world, read into one validated MMMData."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from galaxy_lib.mmm import MMMDataError, load_mmm_data

from .user_files import file_config, weekly_table, write_table


def test_good_csv_loads_with_events_and_multiplier(tmp_path: Path) -> None:
    df = weekly_table()
    df["value_per_sale"] = 2.0
    data = load_mmm_data(
        file_config(write_table(df, tmp_path), event_columns=("events",), target_multiplier_column="value_per_sale")
    )
    assert data.channels == ("tv_spend", "search_spend")
    assert data.controls == ("price", "events_promo")
    assert data.freq == "7D" and data.n_periods == 120 and not data.is_geo
    assert data.frame["events_promo"].sum() == 3
    np.testing.assert_allclose(data.frame["kpi"], df["sales"] * 2.0)
    assert data.lift_tests is None


def test_parquet_and_spend_prefix_labels(tmp_path: Path) -> None:
    df = weekly_table().rename(columns={"tv_spend": "spend_tv", "search_spend": "spend_search"})
    data = load_mmm_data(file_config(write_table(df, tmp_path, "d.parquet"), channel_columns=()))
    assert data.channels == ("tv", "search")
    assert data.channel_columns == {"tv": "spend_tv", "search": "spend_search"}


def test_unknown_file_and_format(tmp_path: Path) -> None:
    """A missing file fails when the config is made (the notebook's first cell); a wrong format when it is read."""
    with pytest.raises(ValidationError, match=r"data_path\n.*no file or folder at .*nope\.csv"):
        file_config(tmp_path / "nope.csv")
    with pytest.raises(ValidationError, match=r"lift_tests_path\n.*no file or folder at .*nope\.csv"):
        file_config(write_table(weekly_table(), tmp_path), lift_tests_path=str(tmp_path / "nope.csv"))
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(MMMDataError, match=r"data_path: cannot read d.xlsx: unsupported file type \.xlsx"):
        load_mmm_data(file_config(tmp_path / "d.xlsx"))


def test_text_files_by_delimiter_and_missing_value_strings(tmp_path: Path) -> None:
    """Files are read by core.files: the delimiter comes from the header; "NA" and the like are missing values."""
    df = weekly_table()
    reference = load_mmm_data(file_config(write_table(df, tmp_path)))
    (tmp_path / "semicolon.csv").write_text(df.to_csv(index=False, sep=";"))
    (tmp_path / "tabs.tsv").write_text(df.to_csv(index=False, sep="\t"))
    for name in ("semicolon.csv", "tabs.tsv"):
        data = load_mmm_data(file_config(tmp_path / name))
        pd.testing.assert_frame_equal(data.frame, reference.frame)
    text = df.astype({"price": object})
    text.loc[9, "price"] = "NA"  # an R export: a missing control, not a text column
    with pytest.raises(MMMDataError, match=r"control column 'price' has 1 missing value"):
        load_mmm_data(file_config(write_table(text, tmp_path, "na.csv")))


def test_relative_paths_are_taken_from_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import galaxy_lib.core.config as config

    path = write_table(weekly_table(), tmp_path)
    monkeypatch.setattr(config, "find_project_root", lambda: tmp_path)
    assert load_mmm_data(file_config(Path(path.name))).n_periods == 120


def test_world_data(world_data, world_truth) -> None:
    """The Galaxy world loads national rows, its spend totals match the truth, lift tests are scaled."""
    assert world_data.channels == tuple(world_truth["mmm"]["channels"])
    assert world_data.n_periods == world_truth["world"]["n_weeks"]
    for ch, t in world_truth["mmm"]["channels"].items():
        assert world_data.spend_totals()[ch] == pytest.approx(t["total_spend"], rel=1e-6)
    lift = world_data.lift_tests
    assert lift is not None and len(lift) == world_truth["world"].get("n_lift_tests", len(lift))
    shares = world_truth["mmm"]["baseline"]["geo_shares"]
    for _, row in lift.iterrows():
        assert row["geo_share"] == pytest.approx(shares[row["test_geo"]], abs=0.02)


def test_world_per_geo(world_geo_data) -> None:
    data = world_geo_data
    assert len(data.geos) == 4 and "ALL" not in data.geos
    assert data.lift_tests is not None and set(data.lift_tests["geo"]) <= set(data.geos)
    assert "geo_share" not in data.lift_tests.columns
