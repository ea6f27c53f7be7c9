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

from collections.abc import Sequence
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
from galaxy_lib.creative.templates import CopyTemplate
from galaxy_lib.creative.variants import VariantBatch, contact_sheet, generate_variants, parse_box

__all__ = [
    "MODEL_FEATURES",
    "CreativeReview",
    "Preflight",
    "VariantRun",
    "allocate_budget",
    "allocation_arms",
    "failure_sheet",
    "fit_preflight_model",
    "make_variants",
    "model_features",
    "review_creatives",
    "score_variants",
    "text_embeddings",
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


def _inputs(creatives: pd.DataFrame) -> list[CreativeInput]:
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
    results = check_batch(_inputs(creatives), brand)
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
    table = batch.table
    creatives = pd.DataFrame(
        {
            "creative_id": table["variant_id"],
            "platform": table["platform"],
            "category": table["category"].fillna("").astype(str),
            "headline": table["headline"],
            "body": table["body"],
            "cta": table["cta"],
            "disclaimer": table["disclaimer"],
            "image_path": table["path"].astype(str),
            "text_box": table["text_box"],
        }
    )
    if creatives["creative_id"].duplicated().any():  # one file used on two platforms: one check per use
        creatives["creative_id"] = creatives["creative_id"] + "@" + creatives["platform"]
    return VariantRun(batch=batch, review=review_creatives(creatives, inputs))


def model_features(review: CreativeReview) -> pd.DataFrame:
    """Collect the pre-flight model's inputs per creative (:data:`MODEL_FEATURES`), indexed by ``creative_id``.

    The dominant colour enters as CIELAB coordinates (``dominant_l/a/b``) so the model can learn
    which colours work without a column per colour name. Creatives whose image could not be read
    have no row.
    """
    feats = review.results.features.set_index("creative_id")
    rgb = np.array([hex_to_rgb(h) for h in feats["dominant_hex"]], dtype=float).reshape(-1, 1, 3) / 255.0
    lab = rgb2lab(rgb).reshape(-1, 3)
    feats = feats.assign(dominant_l=lab[:, 0], dominant_a=lab[:, 1], dominant_b=lab[:, 2])
    copy = review.copy.set_index("creative_id")
    frame = feats.join(copy, how="inner")
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
    features = model_features(review)
    history = inputs.history[inputs.history["creative_id"].isin(features.index)]
    model = fit_preflight(history, features, config, embeddings=embeddings, truth=inputs.truth)
    agreement = truth_agreement(model, inputs.truth) if inputs.truth is not None else None
    return Preflight(model=model, agreement=agreement)


def score_variants(preflight: Preflight, variants: VariantRun, embeddings: pd.DataFrame | None = None) -> pd.DataFrame:
    """Predict CTR and CVR with intervals for the variants that passed the guardrails, best first.

    Returns
    -------
    pandas.DataFrame
        ``creative_id`` (the variant), ``platform``, ``ctr``, ``ctr_low``, ``ctr_high``, ``cvr``, ``cvr_low``,
        ``cvr_high``, ``model_id``, plus ``sku``, ``template_name``, ``width``, ``height``, ``path``.
    """
    passed = variants.review.passed
    if not passed:
        return pd.DataFrame()
    features = model_features(variants.review).loc[passed]
    platforms = variants.review.creatives.set_index("creative_id").loc[passed, "platform"].to_dict()
    emb = embeddings.loc[passed] if embeddings is not None else None
    scores = preflight.model.score(features, platforms=platforms, embeddings=emb)
    meta = variants.batch.table.assign(creative_id=variants.review.creatives["creative_id"].to_numpy())[
        ["creative_id", "sku", "template_name", "width", "height", "path"]
    ]
    return scores.merge(meta, on="creative_id").sort_values("ctr", ascending=False).reset_index(drop=True)


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
