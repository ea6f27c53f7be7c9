"""Channel summary, decomposition and prior vs posterior, checked against the world's truth and their definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.mmm import channel_summary, decomposition, posterior_predictive, prior_posterior_shift, roi_samples


def test_summary_definitions(world_summary, world_model, world_truth) -> None:
    summary = world_summary
    data = world_model.data_
    # ROI = contribution / spend; shares of media sum to one; contribution share is of the total KPI
    np.testing.assert_allclose(summary["roi_mean"], summary["contribution_mean"] / summary["spend"], rtol=1e-9)
    assert summary["share_of_media"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(summary["contribution_share"], summary["contribution_mean"] / data.frame["kpi"].sum())
    assert (summary["roi_hdi_low"] <= summary["roi_mean"]).all() and (
        summary["roi_mean"] <= summary["roi_hdi_high"]
    ).all()
    # logistic saturation is concave through the origin: the next unit returns less than the average unit
    assert (summary["mroi_mean"] < summary["roi_mean"]).all()
    assert (summary["mroi_mean"] > 0).all()
    # the media share of revenue matches the world's
    assert summary["contribution_share"].sum() == pytest.approx(world_truth["mmm"]["media_share"], abs=0.05)


def test_summary_without_marginal_roi_has_the_same_roi(world_summary, world_model) -> None:
    plain = channel_summary(world_model, marginal=False)
    assert not any(c.startswith("mroi") for c in plain.columns)
    pd.testing.assert_frame_equal(plain, world_summary[plain.columns])
    np.testing.assert_allclose(
        roi_samples(world_model).mean(("chain", "draw")).sel(channel=list(plain.index)), plain["roi_mean"], rtol=1e-12
    )


def test_mroi_against_the_true_curves(world_summary, world_truth) -> None:
    """Marginal ROI from the fitted curves ranks the channels like the true curves do (Spearman >= 0.8)."""
    truth = world_truth["mmm"]["channels"]
    true_mroi = {}
    for ch, t in truth.items():
        # steady-state derivative of beta*logistic(lam*x/K) at the mean weekly spend, national scale
        x = t["mean_weekly_spend"] / t["spend_scale"]
        lam = t["lam"]
        e = np.exp(-lam * x)
        true_mroi[ch] = t["beta"] * lam * 2 * e / (1 + e) ** 2 / t["spend_scale"]
    est = world_summary["mroi_mean"].reindex(list(true_mroi))
    rho = pd.Series(true_mroi).rank().corr(est.rank())
    assert rho >= 0.8, (true_mroi, est.to_dict())


def test_decomposition_adds_up(world_model) -> None:
    dec = decomposition(world_model)
    parts = dec[dec["kind"] != "observed"].groupby("date")["contribution"].sum()
    obs = dec[dec["kind"] == "observed"].set_index("date")["contribution"]
    ppc = posterior_predictive(world_model).set_index("date")
    np.testing.assert_allclose(parts.reindex(ppc.index), ppc["mean"], rtol=0.01)
    assert {"baseline", "trend", "seasonality", "price_index", "holiday", *world_model.data_.channels} <= set(
        dec["component"]
    )
    # holiday flags are 0/1: their contribution is zero outside holiday weeks and positive in them (true effect > 0)
    hol = dec[dec["component"] == "holiday"].set_index("date")["contribution"]
    flags = world_model.data_.frame.set_index("date")["holiday"]
    assert np.allclose(hol[flags == 0], 0.0) and (hol[flags == 1] > 0).all()
    assert (obs > 0).all()


def test_prior_posterior_shift(world_model) -> None:
    shift = prior_posterior_shift(world_model, samples=300)
    assert list(shift.index) == list(world_model.data_.channels)
    # every channel has a lift test or enough variation: the data must have pinned its ROI down
    assert (shift["contraction"] > 0.5).all(), shift
    assert "prior" in world_model.idata_
