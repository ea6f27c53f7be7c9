"""The pre-flight model on the simulated world: better than platform rates, ranks creatives, honest intervals."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.creative.model import (
    PreflightConfig,
    PreflightError,
    PreflightModel,
    aggregate_history,
    fit_preflight,
    truth_agreement,
)
from tests.creative.history_fixtures import world

SEEDS = (1, 2)


@cache
def _fit(seed: int) -> PreflightModel:
    w = world(seed)
    return fit_preflight(w.history.table, w.features, PreflightConfig(seed=seed), truth=w.history.truth)


@pytest.fixture(params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def fitted(request: pytest.FixtureRequest) -> tuple[int, PreflightModel]:
    return request.param, _fit(request.param)


def _fresh_scores(seed: int, model: PreflightModel) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores of 80 creatives the model never saw (another world's), and their agreement with the truth."""
    fresh = world(seed + 100)
    platforms = fresh.creatives.set_index("creative_id")["channel"].to_dict()
    scores = model.score(fresh.features, platforms)
    return scores, truth_agreement(model, fresh.history.truth, scores).set_index(["target", "platform"])


def test_held_out_creatives_beat_the_platform_rates(fitted: tuple[int, PreflightModel]) -> None:
    _, model = fitted
    ctr, cvr = model.metrics["ctr"], model.metrics["cvr"]
    assert ctr.auc > ctr.baseline_auc + 0.01
    assert ctr.log_loss < ctr.baseline_log_loss
    assert cvr.auc > cvr.baseline_auc
    assert ctr.n_train_creatives == 60 and ctr.n_holdout_creatives == 20
    # calibrated: the impression-weighted gap is a small share of the mean rate
    table = model.calibration[model.calibration["target"] == "ctr"]
    mean_rate = float((table["observed"] * table["trials"]).sum() / table["trials"].sum())
    assert ctr.calibration_error < 0.15 * mean_rate
    assert table["predicted"].is_monotonic_increasing


def test_ranks_creatives_within_platform_like_the_truth(fitted: tuple[int, PreflightModel]) -> None:
    seed, model = fitted
    assert model.metrics["ctr"].spearman >= 0.5  # the 20 held-out creatives
    _, agreement = _fresh_scores(seed, model)
    assert agreement.loc[("ctr", "all"), "spearman"] >= 0.5  # 80 new creatives
    assert agreement.loc[("cvr", "all"), "spearman"] >= 0.5


def test_intervals_cover_the_true_rate_about_as_often_as_stated() -> None:
    covered, ratios = [], []
    for seed in SEEDS:
        model = _fit(seed)
        scores, _ = _fresh_scores(seed, model)
        table = truth_agreement(model, world(seed + 100).history.truth, scores)
        covered.append(table.query("target == 'ctr' and platform == 'all'")["coverage"].item() * len(scores))
        covered.append(model.metrics["ctr"].interval_coverage * model.metrics["ctr"].n_holdout_creatives)
        ratios.append(np.median(scores["ctr_high"] / scores["ctr_low"]))
    coverage = sum(covered) / (2 * (80 + 20))
    assert 0.75 <= coverage <= 1.0, f"CTR interval coverage {coverage:.2f} at nominal 0.9"
    assert max(ratios) < 3.0  # not honest by being useless: high/low within a factor of 3


def test_scores_per_audience_and_platform(fitted: tuple[int, PreflightModel]) -> None:
    seed, model = fitted
    features = world(seed).features.head(3)
    blended = model.score(features, "social")
    assert list(blended.columns) == [
        "creative_id",
        "platform",
        "audience",
        "ctr",
        "ctr_low",
        "ctr_high",
        "cvr",
        "cvr_low",
        "cvr_high",
        "model_id",
    ]
    assert (blended["audience"] == "all").all() and (blended["model_id"] == model.model_id).all()
    per = model.score(features, None, audience=["new 18-34", "loyal 55+"])
    assert len(per) == 3 * len(model.platforms) * 2
    for target in ("ctr", "cvr"):
        assert (per[f"{target}_low"] <= per[target]).all() and (per[target] <= per[f"{target}_high"]).all()
    # an audience's own rows are noisier than the blend: its interval is wider
    social = per[per["platform"] == "social"].groupby("creative_id")
    width = (social["ctr_high"].mean() / social["ctr_low"].mean()).to_numpy()
    assert (width > (blended["ctr_high"] / blended["ctr_low"]).to_numpy()).all()


def test_importance_is_a_tidy_table_led_by_real_drivers(fitted: tuple[int, PreflightModel]) -> None:
    _, model = fitted
    imp = model.importance
    assert list(imp.columns) == ["target", "feature", "importance", "importance_sd"]
    ctr = imp[imp["target"] == "ctr"].set_index("feature")["importance"]
    assert set(ctr.index) == {*model.feature_names, "platform", "audience"}
    assert ctr["platform"] == ctr.max()
    assert ctr["text_density"] > 0 and ctr["has_logo"] > 0
    assert imp[imp["target"] == "cvr"].set_index("feature")["importance"]["price"] > 0


def test_aggregate_sums_the_window() -> None:
    table = world(1).history.table
    rows = aggregate_history(table)
    assert len(rows) == table.groupby(["creative_id", "audience"]).ngroups
    assert rows[["impressions", "clicks", "conversions"]].sum().tolist() == pytest.approx(
        table[["impressions", "clicks", "conversions"]].sum().tolist()
    )


def _small() -> tuple[pd.DataFrame, pd.DataFrame]:
    w = world(1)
    keep = w.creatives.groupby("channel").head(6)["creative_id"]
    return w.history.table[w.history.table["creative_id"].isin(keep)], w.features.loc[keep]


CHEAP = PreflightConfig(bootstrap=2, importance_repeats=0)


def test_model_id_names_settings_and_data() -> None:
    history, features = _small()
    a = fit_preflight(history, features, CHEAP)
    assert a.model_id.startswith("mdl-")
    assert fit_preflight(history, features, CHEAP).model_id == a.model_id
    assert fit_preflight(history, features, CHEAP.model_copy(update={"l2": 1.0})).model_id != a.model_id
    changed = history.assign(clicks=history["clicks"].where(history.index != history.index[0], 0))
    assert fit_preflight(changed, features, CHEAP).model_id != a.model_id


def test_embeddings_become_principal_components() -> None:
    history, features = _small()
    rng = np.random.default_rng(0)
    embeddings = pd.DataFrame(rng.normal(size=(len(features), 32)), index=features.index)
    model = fit_preflight(history, features, CHEAP.model_copy(update={"embedding_components": 3}), embeddings)
    assert model.feature_names[-3:] == ("embedding_pc1", "embedding_pc2", "embedding_pc3")
    assert len(model.score(features.head(2), "email", embeddings=embeddings)) == 2
    with pytest.raises(PreflightError, match="uses text embeddings"):
        model.score(features.head(2), "email")


def test_errors_name_the_column_and_the_fix() -> None:
    history, features = _small()
    with pytest.raises(PreflightError, match="'clicks'"):
        fit_preflight(history.drop(columns="clicks"), features, CHEAP)
    with pytest.raises(PreflightError, match=r"have no features.*measure their image"):
        fit_preflight(history, features.iloc[1:], CHEAP)
    with pytest.raises(PreflightError, match="feature_columns must name numeric"):
        fit_preflight(history, features.assign(colour="red"), CHEAP.model_copy(update={"feature_columns": ("colour",)}))
    model = fit_preflight(history, features, CHEAP)
    with pytest.raises(PreflightError, match=r"platform\(s\) \['tiktok'\].*known"):
        model.score(features.head(1), "tiktok")
    with pytest.raises(PreflightError, match="lack column"):
        model.score(features.drop(columns="has_logo").head(1), "email")
