"""Held-out scores, checked with the simulator's true uplift as a "model": a perfect ranking must score well.

No learner is fitted here: the true uplift of :func:`galaxy_lib.simulate.uplift.simulate_campaign`
is the best prediction there is, random numbers the worst, and the reverse of the truth worse
than random; each score must order them so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.simulate.uplift import simulate_campaign
from galaxy_lib.uplift.evaluation import (
    arm_frame,
    choose_model,
    decile_table,
    qini_curves,
    score_table,
    truth_table,
)

ARMS = ["email", "coupon"]


@pytest.fixture(scope="module")
def campaign() -> tuple[pd.DataFrame, pd.DataFrame]:
    """20,000 customers: the table and the true uplift per arm (columns ``email``, ``coupon``)."""
    table, truth = simulate_campaign(20_000, seed=3)
    return table, truth[["tau_email", "tau_coupon"]].rename(columns=lambda c: c.removeprefix("tau_"))[ARMS]


@pytest.fixture(scope="module")
def predictions(campaign: tuple[pd.DataFrame, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    _, truth = campaign
    noise = pd.DataFrame(np.random.default_rng(0).normal(size=(len(truth), 2)), columns=ARMS)
    return {"truth": truth, "noise": noise, "reversed": -truth}


@pytest.fixture(scope="module")
def scores(campaign: tuple[pd.DataFrame, pd.DataFrame], predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    table, _ = campaign
    return score_table(predictions, table["treatment"].to_numpy(), table["converted"].to_numpy(), "control")


def test_the_true_uplift_scores_above_random(scores: pd.DataFrame) -> None:
    assert list(scores.index.names) == ["model", "arm"] and {"auuc", "qini"} <= set(scores.columns)
    for arm in ARMS:
        truth = scores.loc[("truth", arm)]
        assert truth["qini"] > 0.05, arm
        assert truth["auuc"] > 0.55, arm
        assert truth["qini"] > scores.loc[("noise", arm), "qini"], arm
        assert truth["auuc"] > scores.loc[("noise", arm), "auuc"], arm
        # the reverse ranking puts the sleeping dogs first: worse than random
        assert scores.loc[("reversed", arm), "qini"] < 0, arm
        assert scores.loc[("reversed", arm), "auuc"] < 0.5, arm


def test_a_random_ranking_scores_near_zero_qini(campaign: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table, truth = campaign
    rng = np.random.default_rng(1)
    noise = {f"noise{i}": pd.DataFrame(rng.normal(size=(len(table), 2)), columns=ARMS) for i in range(5)}
    s = score_table({"truth": truth, **noise}, table["treatment"].to_numpy(), table["converted"].to_numpy(), "control")
    random = s.drop(index="truth", level="model")
    assert (random["qini"].abs() < 0.1).all(), random
    assert abs(random["qini"].mean()) < 0.03
    assert abs(random["auuc"].mean() - 0.5) < 0.03
    for arm in ARMS:
        assert (random.xs(arm, level="arm")["qini"] < s.loc[("truth", arm), "qini"]).all(), arm


def test_arm_frame_holds_the_arm_and_the_control_only(
    campaign: tuple[pd.DataFrame, pd.DataFrame], predictions: dict[str, pd.DataFrame]
) -> None:
    table, truth = campaign
    t = table["treatment"].to_numpy()
    frame = arm_frame(predictions, t, table["converted"].to_numpy(), "email", "control")
    keep = np.isin(t, ["email", "control"])
    assert len(frame) == keep.sum()
    assert np.array_equal(frame["w"].to_numpy(), (t[keep] == "email").astype(int))
    assert np.array_equal(frame["truth"].to_numpy(), truth["email"].to_numpy()[keep])
    assert np.array_equal(frame["y"].to_numpy(), table["converted"].to_numpy()[keep].astype(float))


def test_choose_model_picks_the_truth_over_noise(scores: pd.DataFrame) -> None:
    assert choose_model(scores, "qini") == "truth"
    assert choose_model(scores, "auuc") == "truth"
    assert choose_model(scores.drop(index="truth", level="model"), "qini") == "noise"
    with pytest.raises(ValueError, match=r"cannot choose by 'pehe'; choose from 'auuc' or 'qini'"):
        choose_model(scores, "pehe")


def test_choose_model_gives_a_tie_to_the_earlier_model() -> None:
    idx = pd.MultiIndex.from_product([["t", "s"], ARMS], names=["model", "arm"])
    tied = pd.DataFrame({"auuc": 0.6, "qini": [0.1, 0.3, 0.3, 0.1]}, index=idx)
    assert choose_model(tied) == "t"


def test_truth_table_of_the_truth_itself(
    campaign: tuple[pd.DataFrame, pd.DataFrame], predictions: dict[str, pd.DataFrame]
) -> None:
    _, truth = campaign
    table = truth_table(predictions, truth)
    for arm in ARMS:
        assert table.loc[("truth", arm), "pehe"] == 0.0
        assert table.loc[("truth", arm), "spearman"] == pytest.approx(1.0)
        assert table.loc[("reversed", arm), "spearman"] == pytest.approx(-1.0)
        assert abs(table.loc[("noise", arm), "spearman"]) < 0.05
        # independent reference: the root mean squared distance, by hand
        d = predictions["noise"][arm] - truth[arm]
        assert table.loc[("noise", arm), "pehe"] == pytest.approx(float(np.sqrt((d**2).mean())))


def test_decile_table_with_the_truth_as_prediction(campaign: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table, truth = campaign
    t, y = table["treatment"].to_numpy(), table["converted"].to_numpy()
    d = decile_table(truth, t, y, "control", truth)
    assert list(d.columns) == [
        "arm",
        "decile",
        "predicted",
        "observed",
        "observed_se",
        "n_treated",
        "n_control",
        "true",
    ]
    for arm in ARMS:
        a = d[d["arm"] == arm].set_index("decile")
        assert list(a.index) == list(range(1, 11))
        assert int((a["n_treated"] + a["n_control"]).sum()) == int(np.isin(t, [arm, "control"]).sum())
        assert int(a["n_treated"].sum()) == int((t == arm).sum())
        assert a["predicted"].is_monotonic_decreasing  # decile 1 = highest predicted uplift
        np.testing.assert_allclose(a["predicted"], a["true"])
        gap = a.loc[1, "observed"] - a.loc[10, "observed"]
        assert gap > 2 * np.hypot(a.loc[1, "observed_se"], a.loc[10, "observed_se"]), arm
    email = d[d["arm"] == "email"].set_index("decile")
    assert email.loc[10, "true"] < 0  # the sleeping dogs are at the bottom
    assert email.loc[1, "observed"] > email.loc[10, "observed"]


def test_decile_table_observed_uplift_by_hand(campaign: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table, truth = campaign
    t, y = table["treatment"].to_numpy(), table["converted"].to_numpy()
    d = decile_table(truth, t, y, "control").set_index(["arm", "decile"])
    # decile 1: the 2,000 customers (a tenth of 20,000) with the highest true e-mail uplift (ties: later row higher)
    top = np.argsort(truth["email"].to_numpy(), kind="stable")[-2_000:]
    tt, yy = t[top], y[top]
    observed = yy[tt == "email"].mean() - yy[tt == "control"].mean()
    assert d.loc[("email", 1), "observed"] == pytest.approx(observed)
    assert d.loc[("email", 1), "n_treated"] == (tt == "email").sum()


def test_deciles_hold_a_tenth_each() -> None:
    t = np.array(["email", "control"] * 500)
    y = np.zeros(1_000)
    pred = pd.DataFrame({"email": np.linspace(1.0, 0.0, 1_000)})
    d = decile_table(pred, t, y, "control")
    assert (d["n_treated"] + d["n_control"]).tolist() == [100] * 10


def test_qini_curves_have_a_random_line_to_the_same_end(
    campaign: tuple[pd.DataFrame, pd.DataFrame], predictions: dict[str, pd.DataFrame]
) -> None:
    table, _ = campaign
    curves = qini_curves(predictions, table["treatment"].to_numpy(), table["converted"].to_numpy(), "control")
    assert list(curves.columns) == ["arm", "model", "share_targeted", "incremental"]
    assert set(curves["model"]) == {"truth", "noise", "reversed", "random"}
    for arm in ARMS:
        a = curves[curves["arm"] == arm]
        random = a[a["model"] == "random"]
        grid = random["share_targeted"].to_numpy()
        assert len(grid) == 101 and grid[0] == 0.0 and grid[-1] == 1.0
        end = random["incremental"].iloc[-1]
        np.testing.assert_allclose(random["incremental"].to_numpy(), grid * end)  # a straight line from 0
        for model in ("truth", "noise", "reversed"):
            m = a[a["model"] == model]
            assert m["incremental"].iloc[0] == 0.0
            assert m["incremental"].iloc[-1] == pytest.approx(end), (arm, model)
        # everyone treated: incremental conversions = treated conversions - control rate x treated rows
        t, y = table["treatment"].to_numpy(), table["converted"].to_numpy()
        n_t = (t == arm).sum()
        assert end == pytest.approx(y[t == arm].sum() - y[t == "control"].mean() * n_t)
        truth = a[a["model"] == "truth"].set_index("share_targeted")["incremental"]
        assert truth.loc[0.3] > random.set_index("share_targeted")["incremental"].loc[0.3]


def test_gain_curves_end_at_the_gain_of_treating_everyone(campaign) -> None:
    """The cumulative gain of treating everyone is the experiment's difference in means times the rows."""
    table, truth = campaign
    predictions = {"truth": truth}
    arms, y = table["treatment"].to_numpy(), table["converted"].to_numpy()
    curves = qini_curves(predictions, arms, y, "control", kind="gain")
    for arm in ("coupon", "email"):
        a = curves[curves["arm"] == arm]
        end = a[a["share_targeted"] == 1.0].set_index("model")["incremental"]
        rows = np.isin(arms, [arm, "control"]).sum()
        diff = y[arms == arm].mean() - y[arms == "control"].mean()
        assert end["truth"] == pytest.approx(diff * rows, rel=1e-6)
        assert end["random"] == pytest.approx(end["truth"])
        mid = a[a["share_targeted"] == 0.5].set_index("model")["incremental"]
        assert mid["truth"] > mid["random"]
