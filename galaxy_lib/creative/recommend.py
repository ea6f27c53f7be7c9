"""Which creatives to show each audience: a hybrid LightFM model against a popularity baseline.

Relevance
---------
Every creative is shown to every audience in the history, so "any click" marks
every pair and says nothing. A creative is *relevant* to an audience when its
CTR index there (its CTR in the audience divided by the audience's pooled CTR on
the creative's platform) is in the audience's top ``top_share`` of creatives with
at least ``min_impressions`` impressions. The index removes the platform and the
audience levels, so what is left is the creative's own pull and how it suits the
audience.

Model and evaluation
--------------------
Users are audiences (features: their attributes, e.g. segment and age band, plus
identity), items are creatives (features: platform, format, colour, logo, number,
category ..., plus identity): LightFM's hybrid model, so a creative is placed by
what it shows as well as by its own history. The loss is WARP: relevance is a
set of positives per audience and WARP optimises the top of each audience's
ranking, which is what precision@k measures (on the simulated world the logistic
loss on +1/-1 pairs, ``loss="logistic"``, reached precision@5 of 0.78-0.90 and
lost to popularity on two seeds of three; WARP reached 0.98-1.0, and fits in
about 0.05 s single-threaded). It is trained on the history
before the last ``test_days`` days and evaluated on those days with the same
definition of relevance.

Precision@k and AUC are computed here, not with ``lightfm.evaluation``, so that
LightFM and the popularity baseline (creatives ranked by their mean training
CTR index over audiences, the same list for everyone) are scored by one piece
of code; the test checks that LightFM's own ``precision_at_k`` agrees. Training
positives are *not* excluded from the test ranking (the library's
``train_interactions`` argument): relevance here persists (a creative that suits
an audience keeps suiting it), and the question is which creatives to show next,
not which new ones to discover.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from lightfm import LightFM
from lightfm.data import Dataset
from pydantic import Field, model_validator
from scipy import sparse
from threadpoolctl import threadpool_limits

from galaxy_lib.core.config import GalaxyConfig
from galaxy_lib.creative.ids import json_id

__all__ = [
    "Recommender",
    "RecommenderConfig",
    "RecommenderError",
    "RecommenderMetrics",
    "fit_recommender",
    "ranking_metrics",
    "relevance",
]

_HISTORY = ("date", "creative_id", "audience", "platform", "impressions", "clicks")


class RecommenderError(ValueError):
    """The history or the attributes cannot be used as given; the message names the column and the fix."""


class RecommenderConfig(GalaxyConfig):
    """Settings of the creative recommender (each field's ``description`` says what it does)."""

    test_days: int = Field(14, ge=1, description="Last days of the history held out for evaluation.")
    top_share: float = Field(0.3, gt=0.0, lt=1.0, description="Share of an audience's creatives that are relevant.")
    min_impressions: float = Field(1000.0, ge=0.0, description="Impressions a pair needs in a window to be ranked.")
    k: int = Field(5, ge=1, description="Length of the recommended list (precision@k).")
    loss: Literal["warp", "logistic"] = Field("warp", description="LightFM loss (see the module docstring).")
    components: int = Field(16, ge=1, description="Latent dimensions.")
    epochs: int = Field(40, ge=1, description="Passes over the interactions.")
    learning_rate: float = Field(0.05, gt=0.0, description="Adagrad learning rate.")
    item_alpha: float = Field(0.0, ge=0.0, description="L2 penalty on item features.")
    user_alpha: float = Field(0.0, ge=0.0, description="L2 penalty on user features.")
    item_columns: tuple[str, ...] = Field((), description="Creative attribute columns; empty: all shared ones.")
    user_columns: tuple[str, ...] = Field((), description="Audience columns; empty: all but audience and share.")
    seed: int = Field(0, description="LightFM's random_state.")
    threads: int = Field(1, ge=1, description="Threads of the fit (1: stable and fast on shared cores).")

    @model_validator(mode="after")
    def _columns_differ(self) -> RecommenderConfig:
        if "creative_id" in self.item_columns or "audience" in self.user_columns:
            raise ValueError("item_columns and user_columns name attributes, not the creative_id or audience key")
        return self


@dataclass(frozen=True)
class RecommenderMetrics:
    """LightFM against popularity on the held-out days (the fields of the run's ``metrics.json``).

    Attributes
    ----------
    precision_at_k, baseline_precision_at_k
        Mean over audiences (with a relevant creative in the test days) of the share of the top ``k``
        that are relevant there.
    auc, baseline_auc
        Mean over audiences of the probability that a relevant creative ranks above an irrelevant one.
    k
        List length.
    interactions
        Relevant (audience, creative) pairs in the training window.
    """

    precision_at_k: float
    baseline_precision_at_k: float
    auc: float
    baseline_auc: float
    k: int
    interactions: int


def relevance(history: pd.DataFrame, top_share: float = 0.3, min_impressions: float = 1000.0) -> pd.DataFrame:
    """Flag the creatives relevant to each audience by their CTR index (see the module docstring).

    Parameters
    ----------
    history
        Rows with ``creative_id``, ``audience``, ``platform``, ``impressions``, ``clicks`` (any window).
    top_share
        Share of an audience's ranked creatives that are relevant (at least one).
    min_impressions
        Impressions a creative needs in an audience to be ranked there.

    Returns
    -------
    pandas.DataFrame
        ``audience``, ``creative_id``, ``platform``, ``impressions``, ``clicks``, ``ctr``, ``ctr_index``,
        ``relevant`` (one row per ranked pair).
    """
    pairs = history.groupby(["audience", "creative_id", "platform"], as_index=False)[["impressions", "clicks"]].sum()
    pairs = pairs[(pairs["impressions"] >= max(min_impressions, 1.0))].copy()
    pooled = pairs.groupby(["audience", "platform"])[["clicks", "impressions"]].transform("sum")
    pairs["ctr"] = pairs["clicks"] / pairs["impressions"]
    pairs["ctr_index"] = pairs["ctr"] / (pooled["clicks"] / pooled["impressions"]).replace(0.0, np.nan)
    pairs["ctr_index"] = pairs["ctr_index"].fillna(1.0)
    rank = pairs.groupby("audience")["ctr_index"].rank(ascending=False, method="first")
    size = pairs.groupby("audience")["ctr_index"].transform("size")
    pairs["relevant"] = rank <= np.maximum(1, np.round(top_share * size))
    return pairs.reset_index(drop=True)


def ranking_metrics(scores: np.ndarray, relevant: np.ndarray, ranked: np.ndarray, k: int) -> tuple[float, float]:
    """Mean precision@k and AUC over the rows (audiences) of a score matrix.

    Parameters
    ----------
    scores
        Audience x creative scores (higher first).
    relevant
        Boolean matrix: relevant in the evaluation window.
    ranked
        Boolean matrix: the pair was ranked in the evaluation window (enough impressions); AUC compares
        relevant with ranked-but-irrelevant pairs. Precision@k ranks every creative, as a list shown to
        the audience would.
    k
        List length.

    Returns
    -------
    (precision_at_k, auc)
        Means over audiences with at least one relevant creative (and one irrelevant one for the AUC).
    """
    precision, aucs = [], []
    for s, rel, seen in zip(scores, relevant, ranked, strict=True):
        if not rel.any():
            continue
        top = np.argsort(-s, kind="stable")[:k]
        precision.append(rel[top].sum() / k)
        neg = seen & ~rel
        if neg.any():
            pos_s, neg_s = s[rel], s[neg]
            greater = (pos_s[:, None] > neg_s[None, :]).mean()
            ties = (pos_s[:, None] == neg_s[None, :]).mean()
            aucs.append(greater + 0.5 * ties)
    return float(np.mean(precision)), float(np.mean(aucs)) if aucs else float("nan")


def _tokens(frame: pd.DataFrame, key: str, columns: Sequence[str]) -> dict[str, list[str]]:
    """``column:value`` features per row; numeric non-boolean columns become quartile bins (``column:q1``)."""
    parts = []
    for col in columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            bins = pd.qcut(values.rank(method="first"), q=min(4, values.nunique()), labels=False) + 1
            parts.append(col + ":q" + bins.astype(int).astype(str))
        else:
            parts.append(col + ":" + values.astype(str))
    tokens = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=frame.index)
    return {str(k): list(row) for k, row in zip(frame[key].astype(str), tokens.to_numpy().tolist(), strict=True)}


@dataclass(frozen=True)
class Recommender:
    """A fitted LightFM recommender of creatives per audience, with its evaluation.

    Attributes
    ----------
    model_id
        Content id of the settings, the training window and the data.
    config
        The settings.
    model
        The fitted ``lightfm.LightFM``.
    audiences, creatives
        Users and items, in the model's order.
    metrics
        :class:`RecommenderMetrics` on the held-out days.
    popularity
        Mean training CTR index of each creative over audiences (the baseline's ranking).
    train_relevance, test_relevance
        :func:`relevance` of the two windows.
    train_end
        Last date of the training window.
    fit_seconds
        Wall time of the LightFM fit.
    """

    model_id: str
    config: RecommenderConfig
    model: Any = field(repr=False)
    audiences: tuple[str, ...]
    creatives: tuple[str, ...] = field(repr=False)
    metrics: RecommenderMetrics
    popularity: pd.Series = field(repr=False)
    train_relevance: pd.DataFrame = field(repr=False)
    test_relevance: pd.DataFrame = field(repr=False)
    train_end: pd.Timestamp
    fit_seconds: float
    user_features: Any = field(repr=False)
    item_features: Any = field(repr=False)

    def scores(self) -> np.ndarray:
        """Return LightFM's audience x creative score matrix (rows :attr:`audiences`, columns :attr:`creatives`)."""
        n_users, n_items = len(self.audiences), len(self.creatives)
        users, items = np.repeat(np.arange(n_users), n_items), np.tile(np.arange(n_items), n_users)
        with threadpool_limits(limits=self.config.threads):
            flat = self.model.predict(
                users.astype(np.int32),
                items.astype(np.int32),
                item_features=self.item_features,
                user_features=self.user_features,
                num_threads=self.config.threads,
            )
        return np.asarray(flat).reshape(n_users, n_items)

    def rank(self, audience: str, k: int | None = None) -> pd.DataFrame:
        """Rank the creatives for one audience.

        Parameters
        ----------
        audience
            An audience of the history (e.g. ``"loyal 35-54"``).
        k
            List length (default ``config.k``).

        Returns
        -------
        pandas.DataFrame
            ``rank`` (from 1), ``creative_id``, ``score``, ``popularity_rank``, ``model_id``.
        """
        if audience not in self.audiences:
            raise RecommenderError(f"audience {audience!r} is not in the history; known: {list(self.audiences)}.")
        k = k or self.config.k
        s = self.scores()[self.audiences.index(audience)]
        order = np.argsort(-s, kind="stable")[:k]
        pop_rank = self.popularity.rank(ascending=False, method="first").astype(int)
        ids = [self.creatives[i] for i in order]
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(order) + 1),
                "creative_id": ids,
                "score": s[order],
                "popularity_rank": pop_rank.reindex(ids).to_numpy(),
                "model_id": self.model_id,
            }
        )

    def top_k_table(self, k: int | None = None) -> pd.DataFrame:
        """Return the top ``k`` creative ids per audience: one row per audience, columns ``1`` .. ``k``."""
        k = k or self.config.k
        order = np.argsort(-self.scores(), axis=1, kind="stable")[:, :k]
        table = pd.DataFrame(np.array(self.creatives)[order], index=pd.Index(self.audiences, name="audience"))
        table.columns = [str(i + 1) for i in range(order.shape[1])]
        return table


def _check(history: pd.DataFrame, attributes: pd.DataFrame) -> None:
    if missing := [c for c in _HISTORY if c not in history.columns]:
        raise RecommenderError(
            f"history lacks column(s) {missing}: the recommender needs one row per date, creative and audience "
            f"with {', '.join(_HISTORY)}."
        )
    if "creative_id" not in attributes.columns:
        raise RecommenderError("creative_attributes need a creative_id column (one row per creative).")
    if unknown := sorted(set(history["creative_id"].astype(str)) - set(attributes["creative_id"].astype(str))):
        raise RecommenderError(
            f"{len(unknown)} creative(s) of the history have no attributes, e.g. {unknown[:5]}: add their rows "
            "to creative_attributes."
        )


def _matrix(table: pd.DataFrame, audiences: Sequence[str], creatives: Sequence[str], column: str) -> np.ndarray:
    """Audience x creative boolean matrix of ``column`` (False where the table has no row)."""
    out = np.zeros((len(audiences), len(creatives)), dtype=bool)
    rows = pd.Index(audiences).get_indexer(table["audience"].astype(str))
    cols = pd.Index(creatives).get_indexer(table["creative_id"].astype(str))
    keep = (rows >= 0) & (cols >= 0)
    out[rows[keep], cols[keep]] = table[column].to_numpy(dtype=bool)[keep]
    return out


def fit_recommender(
    history: pd.DataFrame,
    creative_attributes: pd.DataFrame,
    audiences: pd.DataFrame | None = None,
    config: RecommenderConfig | None = None,
) -> Recommender:
    """Fit LightFM on the training window and evaluate it and the popularity baseline on the last days.

    Parameters
    ----------
    history
        Performance history with ``date``, ``creative_id``, ``audience``, ``platform``, ``impressions``,
        ``clicks``.
    creative_attributes
        One row per creative: ``creative_id`` plus attribute columns (text, boolean or numeric).
    audiences
        One row per audience: ``audience`` plus attribute columns (``segment``, ``age_band``; ``share`` is
        ignored); ``None``: identity features only.
    config
        Settings (:class:`RecommenderConfig`; defaults when ``None``).

    Raises
    ------
    RecommenderError
        When a column is missing, a creative has no attributes, or the windows leave nothing to learn.
    """
    config = config or RecommenderConfig()
    _check(history, creative_attributes)
    frame = history.assign(date=pd.to_datetime(history["date"]), creative_id=history["creative_id"].astype(str))
    train_end = frame["date"].max().normalize() - pd.Timedelta(days=config.test_days)
    if not (frame["date"] <= train_end).any():
        raise RecommenderError(
            f"test_days={config.test_days} leaves no training days in a history of "
            f"{frame['date'].dt.normalize().nunique()} days; lower test_days."
        )
    train = relevance(frame[frame["date"] <= train_end], config.top_share, config.min_impressions)
    test = relevance(frame[frame["date"] > train_end], config.top_share, config.min_impressions)
    positives = train[train["relevant"]]
    if positives.empty:
        raise RecommenderError(f"no pair in the training window has min_impressions={config.min_impressions}.")
    users = tuple(sorted(frame["audience"].astype(str).unique()))
    items = tuple(sorted(frame["creative_id"].unique()))
    user_tokens, item_tokens = _feature_tokens(creative_attributes, audiences, users, items, config)

    dataset = Dataset()  # identity features are added for every audience and creative
    all_tokens = [sorted({t for v in tokens.values() for t in v}) for tokens in (user_tokens, item_tokens)]
    dataset.fit(users, items, user_features=all_tokens[0], item_features=all_tokens[1])
    user_features = dataset.build_user_features(user_tokens.items())
    item_features = dataset.build_item_features(item_tokens.items())
    if config.loss == "warp":
        interactions, _ = dataset.build_interactions(zip(positives["audience"], positives["creative_id"], strict=True))
    else:  # logistic: every ranked pair, +1 relevant and -1 not
        u, i = dataset.mapping()[0], dataset.mapping()[2]
        value, rows, cols = (
            np.where(train["relevant"], 1.0, -1.0),
            train["audience"].map(u),
            train["creative_id"].map(i),
        )
        interactions = sparse.coo_matrix((value, (rows, cols)), shape=(len(users), len(items)))
    model = LightFM(
        no_components=config.components,
        loss=config.loss,
        learning_rate=config.learning_rate,
        item_alpha=config.item_alpha,
        user_alpha=config.user_alpha,
        random_state=config.seed,
    )
    start = time.perf_counter()
    with threadpool_limits(limits=config.threads):
        model.fit(
            interactions,
            user_features=user_features,
            item_features=item_features,
            epochs=config.epochs,
            num_threads=config.threads,
        )
    fit_seconds = time.perf_counter() - start

    popularity = train.groupby("creative_id")["ctr_index"].mean().reindex(list(items)).fillna(0.0)
    data = train[["audience", "creative_id", "impressions", "clicks"]]
    settings = {"kind": "recommender", "settings": config.model_dump(mode="json"), "creatives": list(items)}
    fingerprint = {
        "train_end": str(train_end.date()),
        "data": hashlib.sha256(pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes()).hexdigest()[:16],
        "features": all_tokens,
    }
    rec = Recommender(
        model_id=json_id("model", {**settings, **fingerprint}),
        config=config,
        model=model,
        audiences=users,
        creatives=items,
        metrics=RecommenderMetrics(np.nan, np.nan, np.nan, np.nan, config.k, len(positives)),
        popularity=popularity,
        train_relevance=train,
        test_relevance=test,
        train_end=train_end,
        fit_seconds=fit_seconds,
        user_features=user_features,
        item_features=item_features,
    )
    relevant, ranked = _matrix(test, users, items, "relevant"), _matrix(test.assign(seen=True), users, items, "seen")
    precision, auc = ranking_metrics(rec.scores(), relevant, ranked, config.k)
    baseline = np.tile(popularity.to_numpy(), (len(users), 1))
    base_precision, base_auc = ranking_metrics(baseline, relevant, ranked, config.k)
    return replace(rec, metrics=RecommenderMetrics(precision, base_precision, auc, base_auc, config.k, len(positives)))


def _feature_tokens(
    creative_attributes: pd.DataFrame,
    audiences: pd.DataFrame | None,
    users: Sequence[str],
    items: Sequence[str],
    config: RecommenderConfig,
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Feature tokens of every audience and creative (``column:value``)."""
    attrs = creative_attributes.assign(creative_id=creative_attributes["creative_id"].astype(str))
    attrs = attrs.drop_duplicates("creative_id").set_index("creative_id").loc[list(items)].reset_index()
    # by default every attribute but those unique to each creative (a headline, a path: identity is added anyway)
    item_cols = list(config.item_columns) or [
        c for c in attrs.columns if c != "creative_id" and attrs[c].astype(str).nunique() < max(len(attrs), 2)
    ]
    people = pd.DataFrame({"audience": list(users)}) if audiences is None else audiences
    people = people.assign(audience=people["audience"].astype(str)).drop_duplicates("audience")
    people = people.set_index("audience").reindex(list(users)).reset_index().fillna("unknown")
    user_cols = list(config.user_columns) or [c for c in people.columns if c not in ("audience", "share")]
    for name, cols, table in (("item_columns", item_cols, attrs), ("user_columns", user_cols, people)):
        if missing := [c for c in cols if c not in table.columns]:
            raise RecommenderError(f"{name} {missing} are not columns of the table ({list(table.columns)}).")
    return _tokens(people, "audience", user_cols), _tokens(attrs, "creative_id", item_cols)
