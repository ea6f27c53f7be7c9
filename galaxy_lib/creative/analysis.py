"""The creative notebook's steps: review, generate, measure, score, recommend, allocate.

Each function is one step of ``notebooks/05_creative`` and returns a frozen result
the next step and :mod:`galaxy_lib.creative.report` read. The modules below do the
work; this one only wires them: guardrails (:mod:`~galaxy_lib.creative.guardrails`),
variants (:mod:`~galaxy_lib.creative.variants`), features (:mod:`~galaxy_lib.creative.images`,
:mod:`~galaxy_lib.creative.copy`), the pre-flight model (:mod:`~galaxy_lib.creative.model`),
LightFM (:mod:`~galaxy_lib.creative.recommend`) and the allocation
(:mod:`~galaxy_lib.creative.allocation_sim`).

Guardrail failures are never scored or given budget: :func:`score_variants` and
:func:`allocation_arms` take only the ids that passed every rule.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from skimage.color import rgb2lab

from galaxy_lib.creative.allocation_sim import PolicyComparison, compare_policies
from galaxy_lib.creative.bandit import AllocationConfig
from galaxy_lib.creative.brand import hex_to_rgb
from galaxy_lib.creative.copy import copy_features, embed_texts
from galaxy_lib.creative.data import CreativeInputs
from galaxy_lib.creative.guardrails import CreativeInput, GuardrailResults, check_batch
from galaxy_lib.creative.model import PreflightConfig, PreflightModel, fit_preflight, truth_agreement
from galaxy_lib.creative.recommend import Recommender, RecommenderConfig, fit_recommender
from galaxy_lib.creative.templates import CopyTemplate
from galaxy_lib.creative.variants import VariantBatch, contact_sheet, generate_variants, parse_box

__all__ = [
    "MODEL_FEATURES",
    "CreativeReview",
    "Preflight",
    "VariantRun",
    "allocate_budget",
    "allocation_arms",
    "allocation_table",
    "colour_name",
    "creative_inputs",
    "failure_reasons",
    "failure_sheet",
    "fit_preflight_model",
    "fit_recommender_model",
    "holdout_against_truth",
    "make_variants",
    "model_features",
    "preflight_table",
    "recommendations",
    "recommender_table",
    "review_creatives",
    "score_variants",
    "text_embeddings",
    "variant_creatives",
]

#: Features the pre-flight model reads, all free of the image's pixel size (the history's creatives and
#: the generated variants come in different sizes; a model must not learn "bigger file, more clicks").
MODEL_FEATURES: tuple[str, ...] = (
    "aspect_ratio",
    "dominant_l",
    "dominant_a",
    "dominant_b",
    "dominant_share",
    "palette_distance",
    "contrast_ratio",
    "brightness",
    "colourfulness",
    "edge_density",
    "logo_score",
    "headline_chars",
    "text_chars",
    "has_number",
    "has_cta",
    "log_price",
)


@dataclass(frozen=True)
class CreativeReview:
    """Guardrail results and copy features of a batch of creatives.

    Attributes
    ----------
    results
        Every enabled rule for every creative, and the image features they used.
    copy
        ``creative_id`` plus :meth:`galaxy_lib.creative.copy.CopyFeatures.as_dict` columns.
    creatives
        The creatives checked (``creative_id``, ``platform``, copy, ``image_path``).
    """

    results: GuardrailResults
    copy: pd.DataFrame
    creatives: pd.DataFrame

    @property
    def passed(self) -> list[str]:
        """Ids that passed every rule (the only ones scored or given budget)."""
        return self.results.passed_ids()

    def failed_rules(self) -> pd.Series:
        """Creative id -> the rules it failed, joined by ``", "`` (only creatives that failed one)."""
        failures = self.results.failures()
        return failures.groupby("creative_id", sort=False)["rule"].agg(", ".join)


def creative_inputs(creatives: pd.DataFrame) -> list[CreativeInput]:
    """Rows of a creatives table (the columns :func:`review_creatives` reads) as guardrail inputs."""
    boxes = creatives["text_box"] if "text_box" in creatives.columns else [None] * len(creatives)
    return [
        CreativeInput(
            creative_id=str(row.creative_id),
            platform=str(row.platform),
            category=str(row.category) or None,
            headline=str(row.headline),
            body=str(row.body),
            cta=str(row.cta),
            disclaimer=str(row.disclaimer),
            image_path=str(row.image_path),
            text_box=parse_box(box) if isinstance(box, str) and box else None,
        )
        for row, box in zip(creatives.itertuples(index=False), boxes, strict=True)
    ]


def review_creatives(creatives: pd.DataFrame, inputs: CreativeInputs) -> CreativeReview:
    """Check every creative against the brand file and measure its copy.

    Parameters
    ----------
    creatives
        ``creative_id, platform, category, headline, body, cta, disclaimer, image_path`` and optionally
        ``text_box`` (``"x0,y0,x1,y1"``, where the copy sits, for the contrast estimate).
    inputs
        The loaded inputs (their brand file).
    """
    brand = inputs.brand
    results = check_batch(creative_inputs(creatives), brand)
    copy = pd.DataFrame(
        [
            {
                "creative_id": str(row.creative_id),
                **copy_features(
                    row.headline, row.body, row.cta, brand, disclaimer=row.disclaimer, category=row.category or None
                ).as_dict(),
            }
            for row in creatives.itertuples(index=False)
        ]
    )
    return CreativeReview(results=results, copy=copy, creatives=creatives.reset_index(drop=True))


def failure_reasons(review: CreativeReview, per_rule: int = 2) -> str:
    """Write example failures as a Markdown list: up to ``per_rule`` creatives per rule, with reasons."""
    failures = review.results.failures()
    if failures.empty:
        return "No creative failed a rule."
    lines = [
        f"- **{row.rule}**, {row.creative_id}: {row.reason}"
        for row in failures.groupby("rule", sort=False).head(per_rule).itertuples()
    ]
    return "\n".join(lines)


def failure_sheet(review: CreativeReview, limit: int = 18, thumb: int = 180) -> Image.Image | None:
    """Thumbnails of failed creatives, each labelled with its id and the rules it broke (``None``: none failed)."""
    failed = review.failed_rules().head(limit)
    if failed.empty:
        return None
    paths = review.creatives.set_index("creative_id").loc[failed.index, "image_path"].tolist()
    labels = [f"{cid}: {rules}" for cid, rules in failed.items()]
    return contact_sheet(paths, thumb=thumb, columns=6, labels=labels)


@dataclass(frozen=True)
class VariantRun:
    """Generated variants, the problems met and their guardrail review.

    Attributes
    ----------
    batch
        :class:`~galaxy_lib.creative.variants.VariantBatch` (``table`` of variants, ``problems``).
    review
        The variants checked against the brand file (``creative_id`` = ``variant_id``).
    """

    batch: VariantBatch
    review: CreativeReview

    def sheet(self, limit: int = 24, thumb: int = 200) -> Image.Image | None:
        """Draw a grid of the variants, labelled with platform, size and template."""
        table = self.batch.table.head(limit)
        if table.empty:
            return None
        labels = [f"{r.platform} {r.width}x{r.height} {r.template_name}" for r in table.itertuples()]
        return contact_sheet(table["path"].tolist(), thumb=thumb, columns=6, labels=labels)


def make_variants(
    inputs: CreativeInputs,
    templates: Sequence[CopyTemplate],
    out_dir: Path,
    platforms: Sequence[str] | None = None,
    max_products: int = 0,
    band_colour: str = "galaxy_purple",
) -> VariantRun:
    """Render every product x template x platform size and check the results against the brand file.

    Parameters
    ----------
    inputs
        The catalogue with master images and the brand file.
    templates
        Copy templates.
    out_dir
        Folder the PNGs go to (the run folder's ``variants/``).
    platforms
        Platforms to render for; ``None`` or empty: every platform of the brand file.
    max_products
        Render for the first this many products only (0: all).
    band_colour
        Palette name of the text band.
    """
    products = inputs.products if max_products <= 0 else inputs.products.head(max_products)
    batch = generate_variants(
        products, templates, inputs.brand, out_dir, platforms=list(platforms or []) or None, band_colour=band_colour
    )
    return VariantRun(batch=batch, review=review_creatives(variant_creatives(batch.table), inputs))


def variant_creatives(table: pd.DataFrame) -> pd.DataFrame:
    """Turn the variants table into creatives to review (``creative_id`` = ``variant_id``, with its text box).

    A file used on two platforms is checked once per use: its id gets ``@<platform>``.
    """
    creatives = pd.DataFrame(
        {
            "creative_id": table["variant_id"].astype(str),
            "platform": table["platform"],
            "category": table["category"].fillna("").astype(str),
            "headline": table["headline"],
            "body": table["body"],
            "cta": table["cta"],
            "disclaimer": table["disclaimer"],
            "image_path": table["path"].astype(str),
            "product_sku": table["sku"].astype(str),
            "text_box": table["text_box"],
        }
    )
    ids = creatives["creative_id"]
    creatives["creative_id"] = ids.where(~ids.duplicated(keep=False), ids + "@" + creatives["platform"].astype(str))
    return creatives


def model_features(review: CreativeReview, products: pd.DataFrame | None = None) -> pd.DataFrame:
    """Collect the pre-flight model's inputs per creative (:data:`MODEL_FEATURES`), indexed by ``creative_id``.

    The dominant colour enters as CIELAB coordinates (``dominant_l/a/b``) so the model can learn
    which colours work without a column per colour name. ``log_price`` is the log of the catalogue
    price of the creative's product (``product_sku``; the catalogue's median where unknown): what a
    click is worth converting depends on it. Creatives whose image could not be read have no row.
    """
    feats = review.results.features.set_index("creative_id")
    rgb = np.array([hex_to_rgb(h) for h in feats["dominant_hex"]], dtype=float).reshape(-1, 1, 3) / 255.0
    lab = rgb2lab(rgb).reshape(-1, 3)
    feats = feats.assign(dominant_l=lab[:, 0], dominant_a=lab[:, 1], dominant_b=lab[:, 2])
    copy = review.copy.set_index("creative_id")
    frame = feats.join(copy, how="inner")
    prices = (
        products.set_index("sku")["price"].astype(float)
        if products is not None and len(products)
        else pd.Series(dtype=float)
    )
    skus = review.creatives.set_index("creative_id")["product_sku"].reindex(frame.index)
    price = skus.map(prices).fillna(float(prices.median()) if len(prices) else 1.0)
    frame["log_price"] = np.log(price.clip(lower=0.01))
    out = frame[list(MODEL_FEATURES)].astype(float)
    out["contrast_ratio"] = out["contrast_ratio"].fillna(1.0)  # no text colour found: nothing stands out
    return out.rename_axis("creative_id")


def text_embeddings(review: CreativeReview) -> pd.DataFrame:
    """MiniLM embeddings of each creative's headline and body (offline model), indexed by ``creative_id``."""
    texts = (review.creatives["headline"].astype(str) + ". " + review.creatives["body"].astype(str)).tolist()
    vectors = embed_texts(texts)
    return pd.DataFrame(vectors, index=pd.Index(review.creatives["creative_id"].astype(str), name="creative_id"))


@dataclass(frozen=True)
class Preflight:
    """The fitted pre-flight model and, in a Galaxy world, how it agrees with the truth.

    Attributes
    ----------
    model
        :class:`~galaxy_lib.creative.model.PreflightModel`.
    agreement
        ``target, platform, creatives, spearman, coverage`` on the held-out creatives, or ``None``.
    """

    model: PreflightModel
    agreement: pd.DataFrame | None


def fit_preflight_model(
    inputs: CreativeInputs, review: CreativeReview, config: PreflightConfig, embeddings: pd.DataFrame | None = None
) -> Preflight:
    """Fit the pre-flight CTR and CVR models on the performance history of the reviewed creatives.

    Every creative of the history trains the model, on-brand or not: the history is what happened.
    Only creatives that pass the guardrails are ever *scored* (:func:`score_variants`).
    """
    if inputs.history is None or inputs.history.empty:
        raise ValueError(
            "the pre-flight model needs a performance history: the store has no creative_performance and "
            "history_path is empty. Give history_path (date, creative_id, audience, platform, impressions, "
            "clicks, conversions)."
        )
    features = model_features(review, inputs.products)
    history = inputs.history[inputs.history["creative_id"].isin(features.index)]
    model = fit_preflight(history, features, config, embeddings=embeddings, truth=inputs.truth)
    agreement = truth_agreement(model, inputs.truth) if inputs.truth is not None else None
    return Preflight(model=model, agreement=agreement)


def score_variants(
    preflight: Preflight, variants: VariantRun, products: pd.DataFrame, embeddings: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Predict CTR and CVR with intervals for the variants that passed the guardrails, best first.

    ``products`` is the catalogue (the variants' prices); ``embeddings`` their copy's embeddings when the
    model was fitted with them.

    Returns
    -------
    pandas.DataFrame
        ``creative_id`` (the variant), ``platform``, ``ctr``, ``ctr_low``, ``ctr_high``, ``cvr``, ``cvr_low``,
        ``cvr_high``, ``model_id``, plus ``sku``, ``template_name``, ``width``, ``height``, ``path``.
    """
    passed = variants.review.passed
    if not passed:
        return pd.DataFrame()
    features = model_features(variants.review, products).loc[passed]
    platforms = variants.review.creatives.set_index("creative_id").loc[passed, "platform"].to_dict()
    emb = embeddings.loc[passed] if embeddings is not None else None
    scores = preflight.model.score(features, platforms=platforms, embeddings=emb)
    meta = variants.batch.table.assign(creative_id=variants.review.creatives["creative_id"].to_numpy())[
        ["creative_id", "sku", "template_name", "width", "height", "path"]
    ]
    return scores.merge(meta, on="creative_id").sort_values("ctr", ascending=False).reset_index(drop=True)


def colour_name(hex_colour: str) -> str:
    """Name a hex colour plainly (black, white, grey, or one of eight hues), for recommender features.

    Written here: the recommender needs a handful of colour levels it can share across creatives, and
    rounding hue and lightness in HSV is all that takes.
    """
    r, g, b = (c / 255.0 for c in hex_to_rgb(hex_colour))
    hi, lo = max(r, g, b), min(r, g, b)
    if hi < 0.2:
        return "black"
    if hi - lo < 0.12:
        return "white" if hi > 0.85 else "grey"
    if hi == r:
        hue = ((g - b) / (hi - lo)) % 6
    elif hi == g:
        hue = (b - r) / (hi - lo) + 2
    else:
        hue = (r - g) / (hi - lo) + 4
    names = ("red", "orange", "yellow", "green", "teal", "blue", "purple", "red")
    edges = (0.25, 0.6, 1.1, 2.6, 3.2, 4.4, 5.6, 6.01)
    return next(n for n, e in zip(names, edges, strict=True) if hue < e)


def _shape(ratio: float) -> str:
    return "square" if 0.9 <= ratio <= 1.1 else ("landscape" if ratio > 1.1 else "portrait")


def fit_recommender_model(inputs: CreativeInputs, review: CreativeReview, config: RecommenderConfig) -> Recommender:
    """Fit LightFM on the history with creative attributes measured from the files and copy.

    A creative is described by its platform, shape, colour name, logo, a number in the copy and its
    product category; an audience by the attributes its name carries (segment, age band).
    """
    if inputs.history is None or inputs.history.empty:
        raise ValueError("the recommender needs a performance history (history_path, or the store's).")
    feats = review.results.features.set_index("creative_id")
    creatives = review.creatives.set_index("creative_id")
    copy = review.copy.set_index("creative_id")
    ids = [c for c in creatives.index if c in feats.index]
    attributes = pd.DataFrame(
        {
            "creative_id": ids,
            "platform": creatives.loc[ids, "platform"].to_numpy(),
            "shape": [_shape(r) for r in feats.loc[ids, "aspect_ratio"]],
            "colour": [colour_name(h) for h in feats.loc[ids, "dominant_hex"]],
            "logo": feats.loc[ids, "has_logo"].astype(bool).to_numpy(),
            "number": copy.loc[ids, "has_number"].astype(bool).to_numpy(),
            "category": creatives.loc[ids, "category"].replace("", "unknown").to_numpy(),
        }
    )
    history = inputs.history[inputs.history["creative_id"].isin(ids)]
    return fit_recommender(history, attributes, inputs.audiences, config)


def recommendations(
    recommender: Recommender, passed: Sequence[str], k: int | None = None, headlines: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """List the top ``k`` on-brand creatives per audience (audiences x rank), for people to read.

    LightFM ranks every creative it learned from; creatives that failed a guardrail are left out of the
    lists here, since they must not be bought. With ``headlines`` (creative id -> headline) each cell
    reads ``"CR0006: 25% off audio favourites"``.
    """
    k = k or recommender.config.k
    keep = [i for i, c in enumerate(recommender.creatives) if c in set(passed)]
    if not keep:
        return pd.DataFrame(index=pd.Index(recommender.audiences, name="audience"))
    scores = recommender.scores()[:, keep]
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    ids = np.array(recommender.creatives)[keep][order]
    if headlines is not None:
        named = np.vectorize(lambda c: f"{c}: {textwrap.shorten(str(headlines.get(c, '')), 30, placeholder=' …')}")
        ids = named(ids)
    table = pd.DataFrame(ids, index=pd.Index(recommender.audiences, name="audience"))
    table.columns = [f"#{i + 1}" for i in range(order.shape[1])]
    return table


def allocation_arms(inputs: CreativeInputs, passed: Sequence[str], platform: str) -> tuple[pd.DataFrame, str]:
    """Build the arms the budget is split over: on-brand creatives of ``platform``, with rates to simulate.

    In a Galaxy world each arm's true conversion rate per impression is its incremental effect plus the
    baseline, averaged over the audiences by their share; the baseline is the same average. With your
    own history the observed conversions per impression stand in for the truth and the baseline is the
    lowest arm's rate, so the kill switch has nothing to detect (the simulation shows how fast the policy
    learns, not which creative would hurt).

    Returns
    -------
    (arms, simulated_against)
        ``arm_id, label, true_rate, baseline`` and a phrase for the report.
    """
    creatives = inputs.creatives.set_index("creative_id")
    ids = [c for c in passed if c in creatives.index and creatives.loc[c, "platform"] == platform]
    if not ids:
        raise ValueError(
            f"no creative on {platform!r} passed the guardrails, so there is nothing to allocate budget to: "
            "choose another allocation_platform or fix the creatives the guardrails table lists."
        )
    labels = creatives.loc[ids, "headline"].astype(str).str.slice(0, 40)
    if inputs.truth is not None:
        truth = inputs.truth[inputs.truth["creative_id"].isin(ids)]
        shares = inputs.audiences.set_index("audience")["share"] if inputs.audiences is not None else None
        weight = truth["audience"].map(shares).fillna(0.0) if shares is not None else pd.Series(1.0, truth.index)
        truth = truth.assign(w=weight, rate=truth["baseline"] + truth["true_incremental"])
        totals = truth.assign(rate=truth["rate"] * truth["w"], base=truth["baseline"] * truth["w"])
        per_arm = totals.groupby("creative_id")[["rate", "base", "w"]].sum()
        # every creative meets the same audiences in the same shares, so one baseline serves all arms
        baseline = float((per_arm["base"] / per_arm["w"]).mean())
        rates = (per_arm["rate"] / per_arm["w"]).reindex(ids).clip(0.0, 1.0)
        against = "the Galaxy world's true incremental effects"
    else:
        history = inputs.history[inputs.history["creative_id"].isin(ids)]
        sums = history.groupby("creative_id")[["impressions", "conversions"]].sum()
        rates = (sums["conversions"] / sums["impressions"].clip(lower=1)).reindex(ids).fillna(0.0)
        baseline = float(rates.min())
        against = "the observed conversion rates of your history (no truth: the kill switch cannot be judged)"
    arms = pd.DataFrame(
        {"arm_id": ids, "label": labels.reindex(ids).to_numpy(), "true_rate": rates.to_numpy(), "baseline": baseline}
    )
    return arms, against


def allocate_budget(arms: pd.DataFrame, config: AllocationConfig) -> PolicyComparison:
    """Simulate Thompson sampling, an even split and the oracle day by day (:func:`compare_policies`)."""
    return compare_policies(arms, config)


def preflight_table(preflight: Preflight) -> pd.DataFrame:
    """Tabulate the pre-flight model's held-out scores, one row per target, formatted for people."""
    rows = {}
    for target, m in preflight.model.metrics.items():
        rows[{"ctr": "click-through", "cvr": "conversion per click"}.get(target, target)] = {
            "AUC": m.auc,
            "AUC, base rates only": m.baseline_auc,
            "calibration error": m.calibration_error,
            "Spearman vs truth": m.spearman,
            "interval coverage": m.interval_coverage,
            "held-out creatives": m.n_holdout_creatives,
        }
    table = pd.DataFrame(rows).T.dropna(axis=1, how="all")
    return table.style.format(
        {
            "AUC": "{:.3f}",
            "AUC, base rates only": "{:.3f}",
            "calibration error": "{:.2e}",
            "Spearman vs truth": "{:.2f}",
            "interval coverage": "{:.0%}",
            "held-out creatives": "{:.0f}",
        },
        subset=list(table.columns),
    )


def holdout_against_truth(preflight: Preflight, inputs: CreativeInputs) -> pd.DataFrame | None:
    """Held-out creatives' predicted CTR and interval next to their true CTR (audiences weighted by share).

    ``None`` outside a Galaxy world.
    """
    if inputs.truth is None or inputs.audiences is None:
        return None
    shares = inputs.audiences.set_index("audience")["share"]
    truth = inputs.truth.assign(w=inputs.truth["audience"].map(shares).fillna(0.0))
    truth = truth.assign(wctr=truth["w"] * truth["true_ctr"]).groupby("creative_id")[["wctr", "w"]].sum()
    true_ctr = (truth["wctr"] / truth["w"]).rename("true_ctr")
    return preflight.model.holdout_scores.join(true_ctr, on="creative_id").dropna(subset=["true_ctr"])


def recommender_table(recommender: Recommender) -> pd.DataFrame:
    """LightFM and the popularity baseline on the held-out days: precision@k and AUC (rows: the two)."""
    m = recommender.metrics
    return pd.DataFrame(
        {f"precision@{m.k}": [m.precision_at_k, m.baseline_precision_at_k], "AUC": [m.auc, m.baseline_auc]},
        index=["LightFM", "popularity"],
    )


def allocation_table(comparison: PolicyComparison) -> pd.DataFrame:
    """Tabulate the allocation per creative, formatted for people.

    Its true rate, the share of budget Thompson sampling and the even split gave it, and the day the kill
    switch stopped it.
    """
    thompson = comparison.runs["thompson"].summary().set_index("arm_id")
    even = comparison.runs["even"].spend_share()
    table = pd.DataFrame(
        {
            "creative": thompson["label"],
            "true conversions per 1,000 impressions": 1000 * thompson["true_rate"],
            "Thompson share": thompson["spend_share"],
            "even share": even.reindex(thompson.index),
            "killed on day": thompson["killed_on"].astype("object").where(thompson["killed_on"].notna(), "–"),
        }
    ).sort_values("Thompson share", ascending=False)
    return table.style.format(
        {"true conversions per 1,000 impressions": "{:.3f}", "Thompson share": "{:.1%}", "even share": "{:.1%}"}
    ).set_properties(subset=["creative"], **{"text-align": "left"})
