"""Loading and validating MMM inputs: every bad input fails before sampling with the column and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.mmm import MediaMixModel, MMMConfig, MMMDataConfig, MMMDataError, load_mmm_data
from galaxy_lib.mmm.data import prepare_lift_tests


def _weekly(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tv = rng.gamma(2.0, 50.0, n) * (rng.random(n) < 0.7)
    search = rng.gamma(5.0, 20.0, n)
    price = 1 + 0.02 * rng.standard_normal(n)
    sales = 1000 + 2 * tv + 1.5 * search - 300 * (price - 1) + rng.normal(0, 20, n)
    return pd.DataFrame({
        "DATE": pd.date_range("2022-01-03", periods=n, freq="7D").strftime("%Y-%m-%d"),
        "sales": sales, "tv_spend": tv, "search_spend": search, "price": price,
        "events": np.where(np.arange(n) % 40 == 5, "promo", "na"),
    })


def _cfg(path: Path, **kw) -> MMMDataConfig:
    base = dict(data_path=str(path), date_column="DATE", target_column="sales",
                channel_columns=("tv_spend", "search_spend"), control_columns=("price",))
    base.update(kw)
    return MMMDataConfig(**base)


def _write(df: pd.DataFrame, tmp_path: Path, name: str = "data.csv") -> Path:
    path = tmp_path / name
    if name.endswith(".parquet"):
        df.to_parquet(path)
    else:
        df.to_csv(path, index=False)
    return path


def test_good_csv_loads_with_events_and_multiplier(tmp_path: Path) -> None:
    df = _weekly()
    df["value_per_sale"] = 2.0
    data = load_mmm_data(_cfg(_write(df, tmp_path), event_columns=("events",),
                              target_multiplier_column="value_per_sale"))
    assert data.channels == ("tv_spend", "search_spend")
    assert data.controls == ("price", "events_promo")
    assert data.freq == "7D" and data.n_periods == 120 and not data.is_geo
    assert data.frame["events_promo"].sum() == 3
    np.testing.assert_allclose(data.frame["kpi"], df["sales"] * 2.0)
    assert data.lift_tests is None


def test_parquet_and_spend_prefix_labels(tmp_path: Path) -> None:
    df = _weekly().rename(columns={"tv_spend": "spend_tv", "search_spend": "spend_search"})
    data = load_mmm_data(_cfg(_write(df, tmp_path, "d.parquet"), channel_columns=()))
    assert data.channels == ("tv", "search")
    assert data.channel_columns == {"tv": "spend_tv", "search": "spend_search"}


@pytest.mark.parametrize(
    ("mutate", "kw", "fragments"),
    [
        (lambda d: d, {"channel_columns": ("tv_spend", "radio_spend")}, ["channel_columns", "radio_spend", "not a column"]),
        (lambda d: d, {"control_columns": ("temperature",)}, ["control_columns", "temperature"]),
        (lambda d: d, {"target_column": "revenue"}, ["target_column", "revenue"]),
        (lambda d: d.assign(search_spend=0.0), {}, ["search_spend", "all zeros", "Remove it"]),
        (lambda d: d.assign(search_spend=250.0), {}, ["search_spend", "constant", "Remove it"]),
        (lambda d: d.assign(tv_spend=np.where(np.arange(len(d)) == 7, -5.0, d.tv_spend)), {},
         ["tv_spend", "negative", "2022-02-21"]),
        (lambda d: d.assign(sales=np.where(np.arange(len(d)) == 3, np.nan, d.sales)), {},
         ["target_column", "missing", "2022-01-24"]),
        (lambda d: d.assign(tv_spend=np.where(np.arange(len(d)) == 4, np.nan, d.tv_spend)), {},
         ["tv_spend", "missing", "fill with 0"]),
        (lambda d: pd.concat([d, d.iloc[[10]]]), {}, ["duplicated", "2022-03-14", "geo_column"]),
        (lambda d: d.drop(index=[20, 21]), {}, ["2 missing period", "2022-05-23", "2022-05-30"]),
        (lambda d: d.assign(DATE=np.where(np.arange(len(d)) == 2, "not a date", d.DATE)), {},
         ["date_column", "unparseable", "not a date"]),
        (lambda d: d.assign(price=1.0), {}, ["price", "constant", "intercept"]),
        (lambda d: d.assign(price=np.where(np.arange(len(d)) == 9, np.nan, d.price)), {}, ["price", "missing"]),
        (lambda d: d.assign(price="high"), {}, ["price", "not numeric"]),
        (lambda d: d, {"control_columns": ("price", "tv_spend")}, ["tv_spend", "both"]),
    ],
    ids=["unknown-channel", "unknown-control", "unknown-target", "all-zero-channel", "constant-channel",
         "negative-spend", "nan-target", "nan-spend", "duplicated-date", "missing-dates", "bad-date",
         "constant-control", "nan-control", "text-control", "column-two-roles"],
)
def test_bad_input_is_named(tmp_path: Path, mutate, kw: dict, fragments: list[str]) -> None:
    path = _write(mutate(_weekly()), tmp_path)
    with pytest.raises(MMMDataError) as err:
        load_mmm_data(_cfg(path, **kw))
    for f in fragments:
        assert f in str(err.value), f"{f!r} not in: {err.value}"


def test_too_few_periods_for_lmax(tmp_path: Path) -> None:
    path = _write(_weekly(30), tmp_path)
    with pytest.raises(MMMDataError, match=r"only 30 periods for an adstock window of l_max=8.*at least 32.*lower l_max to 7"):
        load_mmm_data(_cfg(path), l_max=8)
    assert load_mmm_data(_cfg(path), l_max=7).n_periods == 30


def test_fit_validates_before_sampling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fit() re-checks the data against its own l_max and never reaches the sampler."""
    import pymc

    def no_sampling(*a, **k):
        raise AssertionError("sampling started despite invalid data")

    monkeypatch.setattr(pymc, "sample", no_sampling)
    data = load_mmm_data(_cfg(_write(_weekly(60), tmp_path)), l_max=8)
    with pytest.raises(MMMDataError, match="l_max=20"):
        MediaMixModel(MMMConfig(l_max=20, yearly_seasonality=0)).fit(data)
    with pytest.raises(MMMDataError, match="yearly_seasonality"):
        MediaMixModel(MMMConfig(yearly_seasonality=2)).fit(load_mmm_data(_cfg(_write(_weekly(40), tmp_path, "s.csv"))))


def test_geo_panel_checks(tmp_path: Path) -> None:
    a, b = _weekly(60, 1).assign(region="A"), _weekly(60, 2).assign(region="B")
    data = load_mmm_data(_cfg(_write(pd.concat([a, b]), tmp_path), geo_column="region"))
    assert data.geos == ("A", "B") and data.is_geo and len(data.frame) == 120
    with pytest.raises(MMMDataError, match="geo 'B' and geo 'A' cover different dates"):
        load_mmm_data(_cfg(_write(pd.concat([a, b.iloc[:-3]]), tmp_path, "p.csv"), geo_column="region"))
    with pytest.raises(MMMDataError, match="duplicated"):
        load_mmm_data(_cfg(_write(pd.concat([a, b]), tmp_path, "q.csv")))  # forgot geo_column


def test_unknown_file_and_format(tmp_path: Path) -> None:
    with pytest.raises(MMMDataError, match="does not exist"):
        load_mmm_data(_cfg(tmp_path / "nope.csv"))
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(MMMDataError, match="neither CSV nor Parquet"):
        load_mmm_data(_cfg(tmp_path / "d.xlsx"))


def test_unknown_parameter_is_rejected() -> None:
    from galaxy_lib.core.config import ConfigError, validate_params
    from galaxy_lib.mmm import MMMParams

    with pytest.raises(ConfigError, match="chanel_columns: unknown parameter"):
        validate_params(MMMParams, {"chanel_columns": ["tv"]})
    with pytest.raises(ConfigError, match="adstock"):
        validate_params(MMMParams, {"adstock": "exponential"})
    with pytest.raises(ConfigError, match="adstock"):  # not NUTS-samplable in pymc-marketing 0.19.2 (#2637)
        validate_params(MMMParams, {"adstock": "weibull_pdf"})


def _lift_frame() -> tuple[pd.DataFrame, pd.DataFrame]:
    dates = pd.date_range("2023-01-02", periods=20, freq="7D")
    geo = pd.DataFrame({"date": np.tile(dates, 2), "geo": np.repeat(["north", "south"], 20),
                        "tv": np.r_[np.full(20, 30.0), np.full(20, 70.0)]})
    geo.loc[(geo.geo == "north") & (geo.date >= dates[5]) & (geo.date <= dates[8]), "tv"] = 60.0  # the test window
    national = geo.groupby("date", as_index=False)["tv"].sum()
    return geo, national


def test_lift_tests_scaled_to_national_units_by_geo_share() -> None:
    geo, national = _lift_frame()
    tests = pd.DataFrame({"test_id": ["T1"], "channel": ["spend_tv"], "geo": ["north"], "x": [30.0], "delta_x": [30.0],
                          "delta_y": [12.0], "sigma": [1.2], "start_week": [geo.date.unique()[5]],
                          "end_week": [geo.date.unique()[8]]})
    out, notes = prepare_lift_tests(tests, national, {"tv": "spend_tv"}, (), geo)
    # outside the test window north spends 30 of 100 per week: share 0.3
    assert out.loc[0, "geo_share"] == pytest.approx(0.3)
    assert out.loc[0, ["x", "delta_x", "delta_y", "sigma"]].tolist() == pytest.approx([100.0, 100.0, 40.0, 4.0])
    assert out.loc[0, "channel"] == "tv" and notes
    # a geo_share column wins; national rows are used as they are
    tests2 = tests.assign(geo_share=0.5)
    out2, _ = prepare_lift_tests(tests2, national, {"tv": "spend_tv"}, ())
    assert out2.loc[0, "x"] == pytest.approx(60.0)
    out3, _ = prepare_lift_tests(tests.assign(geo="ALL"), national, {"tv": "spend_tv"}, ())
    assert out3.loc[0, "x"] == pytest.approx(30.0)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [({"channel": "radio"}, "not channels of the model"), ({"sigma": 0.0}, "sigma must be > 0"),
     ({"delta_y": -3.0}, "opposite sign"), ({"delta_x": 0.0}, "changed no spend")],
)
def test_bad_lift_tests(change: dict, fragment: str) -> None:
    geo, national = _lift_frame()
    tests = pd.DataFrame({"channel": ["tv"], "x": [30.0], "delta_x": [30.0], "delta_y": [12.0], "sigma": [1.2]})
    with pytest.raises(MMMDataError, match=fragment):
        prepare_lift_tests(tests.assign(**change), national, {"tv": "spend_tv"}, (), geo)


def test_geo_test_without_geo_data_needs_a_share() -> None:
    _, national = _lift_frame()
    tests = pd.DataFrame({"channel": ["tv"], "geo": ["north"], "x": [30.0], "delta_x": [30.0], "delta_y": [12.0],
                          "sigma": [1.2]})
    with pytest.raises(MMMDataError, match="geo_share"):
        prepare_lift_tests(tests, national, {"tv": "spend_tv"}, ())


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


def test_world_per_geo(world_dir: Path) -> None:
    data = load_mmm_data(MMMDataConfig(geo_column="geo"), data_dir=world_dir)
    assert len(data.geos) == 4 and "ALL" not in data.geos
    assert data.lift_tests is not None and set(data.lift_tests["geo"]) <= set(data.geos)
    assert "geo_share" not in data.lift_tests.columns
