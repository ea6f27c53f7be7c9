"""LightFM recommends creatives per audience better than popularity on the simulated world's last two weeks."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from lightfm.evaluation import auc_score, precision_at_k
from scipy import sparse

from galaxy_lib.creative.recommend import (
    Recommender,
    RecommenderConfig,
    RecommenderError,
    fit_recommender,
    relevance,
)
from tests.creative.history_fixtures import world

SEEDS = (1, 2)


@cache
def _fit(seed: int) -> Recommender:
    w = world(seed)
    return fit_recommender(w.history.table, w.attributes, w.history.audiences, RecommenderConfig())


@pytest.fixture(params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def rec(request: pytest.FixtureRequest) -> Recommender:
    return _fit(request.param)


def test_lightfm_beats_popularity_on_the_held_out_days(rec: Recommender) -> None:
    m = rec.metrics
    assert m.k == 5
    assert m.precision_at_k > m.baseline_precision_at_k
    assert m.auc > m.baseline_auc
    assert m.interactions == 12 * round(0.3 * 80)  # every pair is ranked: 24 relevant creatives per audience
    assert rec.fit_seconds < 2.0


def test_own_metrics_agree_with_lightfm_evaluation(rec: Recommender) -> None:
    test = rec.test_relevance
    assert len(test) == len(rec.audiences) * len(rec.creatives)  # every pair ranked, as the library assumes
    rows = [rec.audiences.index(a) for a in test["audience"]]
    cols = [rec.creatives.index(c) for c in test["creative_id"]]
    matrix = sparse.coo_matrix(
        (test["relevant"].astype(float), (rows, cols)), shape=(len(rec.audiences), len(rec.creatives))
    )
    matrix.eliminate_zeros()
    features = {"user_features": rec.user_features, "item_features": rec.item_features}
    assert precision_at_k(rec.model, matrix.tocsr(), k=5, **features).mean() == pytest.approx(
        rec.metrics.precision_at_k
    )
    assert auc_score(rec.model, matrix.tocsr(), **features).mean() == pytest.approx(rec.metrics.auc, abs=0.01)


def test_relevance_is_the_top_share_of_the_ctr_index() -> None:
    table = world(1).history.table
    rel = relevance(table, top_share=0.3, min_impressions=1000)
    audience = rel[rel["audience"] == "loyal 35-54"]
    assert audience["relevant"].sum() == round(0.3 * len(audience))
    assert (
        audience.loc[audience["relevant"], "ctr_index"].min() > audience.loc[~audience["relevant"], "ctr_index"].max()
    )
    # the index divides by the audience's pooled CTR on the creative's platform
    email = audience[audience["platform"] == "email"]
    pooled = email["clicks"].sum() / email["impressions"].sum()
    assert email["ctr_index"].to_numpy() == pytest.approx((email["ctr"] / pooled).to_numpy())
    few = relevance(table[table["date"] == table["date"].max()], min_impressions=500)
    assert (few["impressions"] >= 500).all() and len(few) < len(rel)


def test_rankings_differ_by_audience_and_repeat_exactly(rec: Recommender) -> None:
    table = rec.top_k_table()
    assert table.shape == (12, 5) and list(table.columns) == ["1", "2", "3", "4", "5"]
    assert table.drop_duplicates().shape[0] > 1  # audiences get different lists, popularity gives one
    ranked = rec.rank("lapsed 18-34", k=3)
    assert list(ranked.columns) == ["rank", "creative_id", "score", "popularity_rank", "model_id"]
    assert ranked["creative_id"].tolist() == table.loc["lapsed 18-34", ["1", "2", "3"]].tolist()
    assert ranked["score"].is_monotonic_decreasing and (ranked["model_id"] == rec.model_id).all()
    again = fit_recommender(
        world(1).history.table, world(1).attributes, world(1).history.audiences, RecommenderConfig()
    )
    assert again.model_id == _fit(1).model_id
    assert np.allclose(again.scores(), _fit(1).scores())


def test_model_id_changes_with_settings() -> None:
    w = world(1)
    other = fit_recommender(w.history.table, w.attributes, w.history.audiences, RecommenderConfig(test_days=7))
    assert other.model_id.startswith("mdl-") and other.model_id != _fit(1).model_id
    assert other.train_end == pd.Timestamp(w.history.table["date"].max()) - pd.Timedelta(days=7)


def test_errors_name_the_column_and_the_fix() -> None:
    w = world(1)
    with pytest.raises(RecommenderError, match=r"lacks column\(s\) \['clicks'\]"):
        fit_recommender(w.history.table.drop(columns="clicks"), w.attributes)
    with pytest.raises(RecommenderError, match=r"have no attributes.*add their rows"):
        fit_recommender(w.history.table, w.attributes.iloc[1:])
    with pytest.raises(RecommenderError, match="lower test_days"):
        fit_recommender(w.history.table, w.attributes, config=RecommenderConfig(test_days=60))
    with pytest.raises(RecommenderError, match=r"item_columns \['size'\]"):
        fit_recommender(w.history.table, w.attributes, config=RecommenderConfig(item_columns=("size",)))
    with pytest.raises(RecommenderError, match="'teens' is not in the history; known"):
        _fit(1).rank("teens")
