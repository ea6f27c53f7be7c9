"""Validating MMM inputs: every bad input fails before sampling, with the column and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.mmm import MediaMixModel, MMMConfig, MMMDataError, load_mmm_data

from .user_files import file_config, weekly_table, write_table


@pytest.mark.parametrize(
    ("mutate", "kw", "fragments"),
    [
        (
            lambda d: d,
            {"channel_columns": ("tv_spend", "radio_spend")},
            ["channel_columns", "radio_spend", "not a column"],
        ),
        (lambda d: d, {"control_columns": ("temperature",)}, ["control_columns", "temperature"]),
        (lambda d: d, {"target_column": "revenue"}, ["target_column", "revenue"]),
        (lambda d: d.assign(search_spend=0.0), {}, ["search_spend", "all zeros", "Remove it"]),
        (lambda d: d.assign(search_spend=250.0), {}, ["search_spend", "constant", "Remove it"]),
        (
            lambda d: d.assign(tv_spend=np.where(np.arange(len(d)) == 7, -5.0, d.tv_spend)),
            {},
            ["tv_spend", "negative", "2022-02-21"],
        ),
        (
            lambda d: d.assign(sales=np.where(np.arange(len(d)) == 3, np.nan, d.sales)),
            {},
            ["target_column", "missing", "2022-01-24"],
        ),
        (
            lambda d: d.assign(tv_spend=np.where(np.arange(len(d)) == 4, np.nan, d.tv_spend)),
            {},
            ["tv_spend", "missing", "fill with 0"],
        ),
        (lambda d: pd.concat([d, d.iloc[[10]]]), {}, ["duplicated", "2022-03-14", "geo_column"]),
        (lambda d: d.drop(index=[20, 21]), {}, ["2 missing period", "2022-05-23", "2022-05-30"]),
        (
            lambda d: d.assign(DATE=np.where(np.arange(len(d)) == 2, "not a date", d.DATE)),
            {},
            ["date_column", "unparseable", "not a date"],
        ),
        (lambda d: d.assign(price=1.0), {}, ["price", "constant", "intercept"]),
        (lambda d: d.assign(price=np.where(np.arange(len(d)) == 9, np.nan, d.price)), {}, ["price", "missing"]),
        (lambda d: d.assign(price="high"), {}, ["price", "not numeric"]),
        (lambda d: d, {"control_columns": ("price", "tv_spend")}, ["tv_spend", "both"]),
    ],
    ids=[
        "unknown-channel",
        "unknown-control",
        "unknown-target",
        "all-zero-channel",
        "constant-channel",
        "negative-spend",
        "nan-target",
        "nan-spend",
        "duplicated-date",
        "missing-dates",
        "bad-date",
        "constant-control",
        "nan-control",
        "text-control",
        "column-two-roles",
    ],
)
def test_bad_input_is_named(tmp_path: Path, mutate, kw: dict, fragments: list[str]) -> None:
    path = write_table(mutate(weekly_table()), tmp_path)
    with pytest.raises(MMMDataError) as err:
        load_mmm_data(file_config(path, **kw))
    for f in fragments:
        assert f in str(err.value), f"{f!r} not in: {err.value}"


def test_too_few_periods_for_lmax(tmp_path: Path) -> None:
    path = write_table(weekly_table(30), tmp_path)
    with pytest.raises(
        MMMDataError, match=r"only 30 periods for an adstock window of l_max=8.*at least 32.*lower l_max to 7"
    ):
        load_mmm_data(file_config(path), l_max=8)
    assert load_mmm_data(file_config(path), l_max=7).n_periods == 30


def test_fit_validates_before_sampling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fit() re-checks the data against its own l_max and never reaches the sampler."""
    import pymc

    def no_sampling(*a, **k):
        raise AssertionError("sampling started despite invalid data")

    monkeypatch.setattr(pymc, "sample", no_sampling)
    data = load_mmm_data(file_config(write_table(weekly_table(60), tmp_path)), l_max=8)
    with pytest.raises(MMMDataError, match="l_max=20"):
        MediaMixModel(MMMConfig(l_max=20, yearly_seasonality=0)).fit(data)
    with pytest.raises(MMMDataError, match="yearly_seasonality"):
        MediaMixModel(MMMConfig(yearly_seasonality=2)).fit(
            load_mmm_data(file_config(write_table(weekly_table(40), tmp_path, "s.csv")))
        )


def test_geo_panel_checks(tmp_path: Path) -> None:
    a, b = weekly_table(60, 1).assign(region="A"), weekly_table(60, 2).assign(region="B")
    data = load_mmm_data(file_config(write_table(pd.concat([a, b]), tmp_path), geo_column="region"))
    assert data.geos == ("A", "B") and data.is_geo and len(data.frame) == 120
    with pytest.raises(MMMDataError, match="geo 'B' and geo 'A' cover different dates"):
        load_mmm_data(file_config(write_table(pd.concat([a, b.iloc[:-3]]), tmp_path, "p.csv"), geo_column="region"))
    with pytest.raises(MMMDataError, match="duplicated"):
        load_mmm_data(file_config(write_table(pd.concat([a, b]), tmp_path, "q.csv")))  # forgot geo_column
