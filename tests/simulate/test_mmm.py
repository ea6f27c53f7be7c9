"""MMM world: the stored spend and the recorded mechanism reproduce the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.core.contracts import MMM_CHANNELS
from galaxy_lib.simulate.calendar import fourier_basis, holiday_flags, week_starts
from galaxy_lib.simulate.mmm import (
    CHANNEL_PARAMS,
    L_MAX,
    channel_contributions,
    geometric_adstock,
    logistic_saturation,
)


def _spend_cube(world) -> tuple[np.ndarray, list[str], pd.DatetimeIndex]:
    spend = world.table("spend")
    geos = world.truth["world"]["geos"]
    cube = spend.pivot_table(index=["channel", "geo"], columns="week", values="spend").reindex(
        pd.MultiIndex.from_product([MMM_CHANNELS, geos])
    )
    weeks = pd.DatetimeIndex(cube.columns)
    return cube.to_numpy().reshape(len(MMM_CHANNELS), len(geos), -1), geos, weeks


def _contributions(world) -> np.ndarray:
    cube, geos, _ = _spend_cube(world)
    shares = np.array([world.truth["world"]["geo_shares"][g] for g in geos])
    ch = world.truth["mmm"]["channels"]
    return np.stack(
        [
            channel_contributions(
                cube[i],
                shares,
                ch[c]["adstock_alpha"],
                ch[c]["lam"],
                ch[c]["beta"],
                ch[c]["spend_scale"],
                ch[c]["l_max"],
            )
            for i, c in enumerate(MMM_CHANNELS)
        ]
    )


def test_roi_recomputed_from_stored_spend_matches_truth(ci_world):
    cube, _, _ = _spend_cube(ci_world)
    contrib = _contributions(ci_world)
    for i, c in enumerate(MMM_CHANNELS):
        t = ci_world.truth["mmm"]["channels"][c]
        roi = contrib[i].sum() / cube[i].sum()
        assert roi == pytest.approx(t["roi"], rel=1e-6, abs=1e-6)
        assert contrib[i].sum() == pytest.approx(t["total_contribution"], rel=1e-6)
        assert cube[i].sum() == pytest.approx(t["total_spend"], rel=1e-9)
        assert t["spend_scale"] == pytest.approx(cube[i].sum(axis=0).max(), rel=1e-12)


def test_rois_are_distinct_plausible_and_media_share_reasonable(ci_world):
    mmm = ci_world.truth["mmm"]
    rois = [mmm["channels"][c]["roi"] for c in MMM_CHANNELS]
    assert all(0.5 <= r <= 4 for r in rois)
    assert min(np.diff(sorted(rois))) >= 0.2
    assert 0.3 <= mmm["media_share"] <= 0.5
    shares = [mmm["channels"][c]["contribution_share"] for c in MMM_CHANNELS]
    assert sum(shares) == pytest.approx(mmm["media_share"], rel=1e-9)


def test_revenue_is_baseline_plus_media_plus_noise_of_recorded_size(ci_world):
    kpi = ci_world.table("kpi")
    geos = ci_world.truth["world"]["geos"]
    b = ci_world.truth["mmm"]["baseline"]
    weeks = week_starts(pd.Timestamp(ci_world.truth["world"]["start_week"]).date(), 156)
    rev = kpi.pivot(index="geo", columns="week", values="revenue").reindex(geos).to_numpy()
    price = kpi.groupby("week")["price_index"].first().to_numpy()
    holiday = kpi.groupby("week")["holiday"].first().to_numpy()
    assert (holiday == holiday_flags(weeks)).all()
    assert (kpi.groupby("week")["price_index"].nunique() == 1).all()  # national price index
    t = np.arange(156) / 155
    f = b["fourier"]
    national = (
        b["intercept"]
        + b["trend"] * t
        + fourier_basis(weeks) @ np.array([f["sin_1"], f["cos_1"], f["sin_2"], f["cos_2"]])
        + b["price_coef"] * (price - 1)
        + b["holiday_effect"] * holiday
    )
    shares = np.array([b["geo_shares"][g] for g in geos])
    resid = rev - shares[:, None] * national - _contributions(ci_world).sum(axis=0)
    sigma = b["noise_sigma_national"]
    # national noise has the recorded sd; geo noise scales with sqrt(share)
    assert resid.sum(axis=0).std() == pytest.approx(sigma, rel=0.2)
    assert abs(resid.sum(axis=0).mean()) < 4 * sigma / np.sqrt(156)
    assert b["price_coef"] < 0 < b["holiday_effect"]


def test_spend_patterns_are_realistic(ci_world):
    cube, _, _ = _spend_cube(ci_world)
    national = cube.sum(axis=1)
    assert (national.sum(axis=1) > 0).all()  # no all-zero channel
    zero_weeks = (national == 0).sum(axis=1)
    assert zero_weeks[MMM_CHANNELS.index("tv")] > 10 and zero_weeks[MMM_CHANNELS.index("video")] > 10
    assert zero_weeks[MMM_CHANNELS.index("search")] == 0
    corr = np.corrcoef(national)
    off = corr[~np.eye(len(MMM_CHANNELS), dtype=bool)]
    assert off.max() < 0.8  # correlated but not collinear
    assert corr[MMM_CHANNELS.index("tv"), MMM_CHANNELS.index("search")] > 0.2  # search rises with TV
    cv = national.std(axis=1) / national.mean(axis=1)
    assert (cv > 0.2).all()  # enough variation per channel to learn from


def test_impressions_and_clicks_follow_spend(ci_world):
    s = ci_world.table("spend")
    on = s[s["spend"] > 0]
    cpm = 1000 * on["spend"] / on["impressions"]
    for c in MMM_CHANNELS:
        m = on["channel"] == c
        assert cpm[m].median() == pytest.approx(CHANNEL_PARAMS[c]["cpm"], rel=0.1)
        ctr = on.loc[m, "clicks"].sum() / on.loc[m, "impressions"].sum()
        assert ctr == pytest.approx(CHANNEL_PARAMS[c]["ctr"], rel=0.1, abs=1e-9)
    assert (s.loc[s["spend"] == 0, ["impressions", "clicks"]] == 0).all().all()


@pytest.mark.filterwarnings("ignore:xtensor module is experimental")
def test_adstock_and_saturation_match_pymc_marketing():
    from pymc_marketing.mmm import transformers
    from pytensor.xtensor import as_xtensor

    x = np.random.default_rng(0).gamma(2.0, 1.0, 40)
    xt = as_xtensor(x, dims=("date",))
    ours = geometric_adstock(x, 0.6, L_MAX, normalize=True)
    theirs = transformers.geometric_adstock(xt, alpha=0.6, l_max=L_MAX, dim="date", normalize=True).eval()
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-6)
    np.testing.assert_allclose(
        logistic_saturation(x, 1.7), np.asarray(transformers.logistic_saturation(xt, lam=1.7).eval()), rtol=1e-6
    )


def test_geo_curves_add_up_to_the_national_curve(ci_world):
    """The documented pymc-marketing mapping: national spend through (lam, beta) ~ sum of geo contributions."""
    cube, _, _ = _spend_cube(ci_world)
    contrib = _contributions(ci_world).sum(axis=1)
    pmm = ci_world.truth["mmm"]["pymc_marketing"]
    for i, c in enumerate(MMM_CHANNELS):
        nat = cube[i].sum(axis=0)
        x = geometric_adstock(nat / pmm["channel_scale"][c], pmm["adstock_alpha"][c])
        approx = pmm["saturation_beta"][c] * pmm["target_scale"] * logistic_saturation(x, pmm["saturation_lam"][c])
        assert approx.sum() == pytest.approx(contrib[i].sum(), rel=0.03), c


def test_lift_tests_are_consistent_with_spend_and_truth(ci_world):
    lift = ci_world.table("lift_tests")
    truth = {t["test_id"]: t for t in ci_world.truth["lift_tests"]}
    spend = ci_world.table("spend")
    ch = ci_world.truth["mmm"]["channels"]
    shares = ci_world.truth["world"]["geo_shares"]
    assert lift["channel"].nunique() >= 4 and lift["geo"].nunique() >= 3
    assert (lift["delta_x"] < 0).any() and (lift["delta_x"] > 0).any()
    for r in lift.itertuples():
        t = truth[r.test_id]
        weeks = (r.end_week - r.start_week).days // 7 + 1
        assert 4 <= weeks <= 6
        run = spend[(spend.channel == r.channel) & (spend.geo == r.geo) & spend.week.between(r.start_week, r.end_week)]
        assert len(run) == weeks
        assert run["spend"].mean() == pytest.approx(r.x + r.delta_x, abs=0.02)
        assert r.delta_x == pytest.approx(t["relative_change"] * r.x, rel=1e-3, abs=0.05)
        assert np.sign(r.delta_y) == np.sign(r.delta_x) == np.sign(t["true_delta_y"])
        assert abs(r.delta_y - t["true_delta_y"]) < 5 * r.sigma
        # the steady-state curve difference, from x and delta_x and the recorded parameters
        p = ch[r.channel]
        sk = shares[r.geo] * p["spend_scale"]
        curve = (
            p["beta"]
            * shares[r.geo]
            * (logistic_saturation((r.x + r.delta_x) / sk, p["lam"]) - logistic_saturation(r.x / sk, p["lam"]))
        )
        assert curve == pytest.approx(t["curve_delta_y"], rel=1e-4)
        if t["relative_change"] > -1:
            # rebuild the planned spend and re-measure the true effect (window + l_max - 1 cool-down weeks)
            series = spend[(spend.channel == r.channel) & (spend.geo == r.geo)].sort_values("week")
            actual = series["spend"].to_numpy()[None, :]
            planned = actual.copy()
            w = series["week"].between(r.start_week, r.end_week).to_numpy()
            planned[0, w] = actual[0, w] / (1 + t["relative_change"])
            args = ([shares[r.geo]], p["adstock_alpha"], p["lam"], p["beta"], p["spend_scale"])
            diff = channel_contributions(actual, *args) - channel_contributions(planned, *args)
            first = int(np.flatnonzero(w)[0])
            measured = diff[0, first : first + weeks + L_MAX - 1].sum() / weeks
            assert measured == pytest.approx(t["true_delta_y"], rel=1e-3)
