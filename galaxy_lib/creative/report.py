"""Publish a creative run: its gates, ``metrics.json``, tables, figures and contact sheets.

``metrics.json`` is typed by :class:`galaxy_lib.schemas.creative.CreativeMetrics`.

* :func:`report_gates`: ``variants_on_brand``, ``unreadable_creatives``,
  ``preflight_beats_baseline``, ``recommender_beats_popularity``, ``allocation_regret``;
* :func:`report_metrics`: the ``metrics`` payload;
* :func:`publish`: the one call at the end of ``notebooks/05_creative``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from galaxy_lib.core.gates import Gate, measure
from galaxy_lib.core.reporting import ReportWriter, figures_in_order
from galaxy_lib.creative.allocation_sim import PolicyComparison
from galaxy_lib.creative.analysis import CreativeReview, Preflight, VariantRun
from galaxy_lib.creative.data import CreativeInputs
from galaxy_lib.creative.recommend import Recommender
from galaxy_lib.creative.templates import CopyTemplate
from galaxy_lib.schemas.creative import (
    AllocationMetrics,
    CreativeInputsMetrics,
    CreativeMetrics,
    GuardrailMetrics,
    PreflightMetricsPayload,
    RecommenderMetricsPayload,
    RuleCounts,
)

__all__ = ["FIGURES", "NOTEBOOK", "CreativeRun", "publish", "report_gates", "report_metrics", "run_folder"]

#: The notebook this module publishes for.
NOTEBOOK = "05_creative"
#: Figures a run publishes, by file name, in this order.
FIGURES: tuple[str, ...] = (
    "guardrails",
    "calibration",
    "feature_importance",
    "preflight_vs_truth",
    "variant_scores",
    "recommender",
    "regret",
    "spend_shares",
)


@dataclass(frozen=True)
class CreativeRun:
    """Everything a creative run publishes, gathered from the notebook's steps.

    Attributes
    ----------
    inputs, review, variants, templates
        What was read, the existing creatives' review, the generated variants and the templates used.
    preflight, scores
        The pre-flight model and its scores of the on-brand variants.
    recommender, recommended
        LightFM and its top on-brand creatives per audience (``None`` without a history).
    arms, allocation, allocation_platform, simulated_against
        The allocation's arms, its policy comparison, the platform whose creatives share the budget and
        what it was simulated against (``None``: not run).
    """

    inputs: CreativeInputs
    review: CreativeReview
    variants: VariantRun
    templates: Sequence[CopyTemplate]
    preflight: Preflight
    scores: pd.DataFrame
    recommender: Recommender | None = None
    recommended: pd.DataFrame | None = None
    arms: pd.DataFrame | None = None
    allocation: PolicyComparison | None = None
    allocation_platform: str = ""
    simulated_against: str = ""


def run_folder(output_dir: str | Path) -> Path:
    """Return the folder this run publishes into (``output_dir``, or ``reports/adhoc/05_creative`` when empty).

    The notebook writes the generated variants under it before anything else is published.
    """
    return ReportWriter(output_dir, notebook=NOTEBOOK).output_dir


def _finite(x: Any) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _unreadable(review: CreativeReview) -> list[str]:
    """Ids of the creatives whose image could not be read."""
    table = review.results.table
    return (
        table.loc[(table["rule"] == "readable_image") & (table["status"] == "fail"), "creative_id"].astype(str).tolist()
    )


def _guardrail_metrics(review: CreativeReview) -> GuardrailMetrics:
    counts = review.results.counts()
    return GuardrailMetrics(
        checked=review.creatives["creative_id"].astype(str).tolist(),
        passed_ids=review.passed,
        rules={
            str(rule): RuleCounts(passed=int(r["pass"]), failed=int(r["fail"]), not_checked=int(r["not checked"]))
            for rule, r in counts.iterrows()
        },
        unreadable=_unreadable(review),
    )


def report_gates(run: CreativeRun) -> list[Gate]:
    """Quality gates of a creative run.

    * ``variants_on_brand``: share of generated variants that pass every rule; below 1 warns (a
      template or the brand file needs a look), below 0.5 fails.
    * ``unreadable_creatives``: creatives whose image could not be read (listed in the guardrails
      table); any warns.
    * ``preflight_beats_baseline``: held-out CTR AUC minus the platform-only baseline's; not above 0 warns.
    * ``recommender_beats_popularity``: precision@k of LightFM minus popularity's; below 0 warns.
    * ``allocation_regret``: Thompson sampling's regret over the even split's; above 0.5 warns, above 1
      (worse than splitting evenly) fails.
    """
    checked = len(run.variants.review.creatives)
    share = len(run.variants.review.passed) / checked if checked else None
    unreadable = len(_unreadable(run.review))
    ctr = run.preflight.model.metrics["ctr"]
    gates = [
        measure(
            "variants_on_brand",
            share,
            1.0,
            0.5,
            f"{len(run.variants.review.passed):,} of {checked:,} generated variants pass every brand rule.",
            higher_is_worse=False,
            table="variant_guardrails",
            column="status",
        ),
        measure(
            "unreadable_creatives",
            float(unreadable),
            0.0,
            None,
            f"{unreadable:,} creative image(s) could not be read; the guardrails table names each file and why.",
            table="guardrails",
            column="status",
        ),
        measure(
            "preflight_beats_baseline",
            ctr.auc - ctr.baseline_auc,
            0.0,
            None,
            f"On {ctr.n_holdout_creatives} held-out creatives the CTR model's AUC is {ctr.auc:.3f} against "
            f"{ctr.baseline_auc:.3f} for platform base rates alone.",
            higher_is_worse=False,
            table="preflight_metrics",
            column="auc",
        ),
    ]
    if run.recommender is not None:
        m = run.recommender.metrics
        gates.append(
            measure(
                "recommender_beats_popularity",
                m.precision_at_k - m.baseline_precision_at_k,
                -1e-12,
                None,
                f"On the held-out days LightFM's precision@{m.k} is {m.precision_at_k:.3f} against "
                f"{m.baseline_precision_at_k:.3f} for ranking by popularity.",
                higher_is_worse=False,
                table="recommender_metrics",
                column="precision_at_k",
            )
        )
    if run.allocation is not None:
        ratio = _finite(run.allocation.regret_ratio)
        gates.append(
            measure(
                "allocation_regret",
                ratio,
                0.5,
                1.0,
                f"Over {run.allocation.runs['thompson'].config.days} simulated days Thompson sampling loses "
                + (f"{ratio:.2f} times" if ratio is not None else "an unmeasurable share of")
                + " the conversions an even split loses against the oracle.",
                table="allocation_summary",
                column="regret",
            )
        )
    return gates


def _allocation_metrics(run: CreativeRun) -> AllocationMetrics | None:
    if run.allocation is None:
        return None
    comparison = run.allocation
    thompson, even, oracle = (comparison.runs[p] for p in ("thompson", "even", "oracle"))
    final = comparison.regret.groupby("policy")["cumulative_regret"].last()
    daily = thompson.daily
    live = daily[~daily["killed"]]
    cfg = thompson.config
    violations = int(((live["share"] < cfg.floor - 1e-9) & ~live["relaxed"]).sum()) + int(
        ((live["share"] > cfg.cap + 1e-9) & ~live["relaxed"]).sum()
    )
    killed_after = daily[daily["arm_id"].map(thompson.killed).lt(daily["day"]) & (daily["impressions"] > 0)]
    return AllocationMetrics(
        platform=run.allocation_platform,
        days=cfg.days,
        arms=run.arms["arm_id"].astype(str).tolist(),
        simulated_against=run.simulated_against,
        regret=float(final.get("thompson", np.nan)),
        even_regret=float(final.get("even", np.nan)),
        regret_ratio=_finite(comparison.regret_ratio),
        oracle_conversions=float(oracle.daily["expected_conversions"].sum()),
        spend_share={str(k): float(v) for k, v in thompson.spend_share().items()},
        even_spend_share={str(k): float(v) for k, v in even.spend_share().items()},
        killed={str(k): int(v) for k, v in thompson.killed.items()},
        constraint_violations=violations + len(killed_after),
    )


def report_metrics(run: CreativeRun) -> CreativeMetrics:
    """Build the ``metrics`` payload of ``metrics.json`` (every number names the ids it came from)."""
    model = run.preflight.model
    preflight = {
        target: PreflightMetricsPayload(
            model_id=model.model_id,
            target=target,
            auc=m.auc,
            baseline_auc=m.baseline_auc,
            calibration_error=m.calibration_error,
            log_loss=m.log_loss,
            baseline_log_loss=_finite(m.baseline_log_loss),
            spearman=_finite(m.spearman),
            interval_coverage=_finite(m.interval_coverage),
            n_train_creatives=m.n_train_creatives,
            n_holdout_creatives=m.n_holdout_creatives,
        )
        for target, m in model.metrics.items()
    }
    recommender = None
    if run.recommender is not None:
        m = run.recommender.metrics
        recommender = RecommenderMetricsPayload(
            model_id=run.recommender.model_id,
            k=m.k,
            precision_at_k=m.precision_at_k,
            baseline_precision_at_k=m.baseline_precision_at_k,
            auc=m.auc,
            baseline_auc=m.baseline_auc,
            interactions=m.interactions,
        )
    table = run.variants.batch.table
    summary = run.inputs.summary()
    return CreativeMetrics(
        inputs=CreativeInputsMetrics(**summary, templates=[t.template_id for t in run.templates]),
        guardrails=_guardrail_metrics(run.review),
        variant_guardrails=_guardrail_metrics(run.variants.review),
        variants=table["variant_id"].astype(str).tolist(),
        masters=sorted(set(table["master_id"].astype(str))),
        preflight=preflight,
        scored=run.scores["creative_id"].astype(str).tolist() if len(run.scores) else [],
        scored_model_id=model.model_id,
        recommender=recommender,
        allocation=_allocation_metrics(run),
        interval_level=model.config.interval_level,
    )


def _tables(run: CreativeRun) -> dict[str, pd.DataFrame | None]:
    model = run.preflight.model
    metrics = pd.DataFrame([vars(m) for m in model.metrics.values()]).set_index("target")
    tables: dict[str, pd.DataFrame | None] = {
        "guardrails": run.review.results.table,
        "guardrail_matrix": run.review.results.matrix(),
        "variant_guardrails": run.variants.review.results.table,
        "variants": run.variants.batch.table,
        "variant_problems": run.variants.batch.problems if len(run.variants.batch.problems) else None,
        "history_rejected": run.inputs.rejected if len(run.inputs.rejected) else None,
        "preflight_metrics": metrics,
        "calibration": model.calibration,
        "feature_importance": model.importance,
        "preflight_truth": run.preflight.agreement,
        "variant_scores": run.scores,
        "recommendations": run.recommended,
    }
    if run.recommender is not None:
        tables["recommender_metrics"] = pd.DataFrame([vars(run.recommender.metrics)])
    if run.allocation is not None:
        tables["allocation_summary"] = run.allocation.summary()
        tables["allocation_daily"] = run.allocation.runs["thompson"].daily
        tables["allocation_arms"] = run.allocation.runs["thompson"].summary()
    return tables


def publish(
    output_dir: str | Path,
    run: CreativeRun,
    figures: Mapping[str, Any] | None = None,
    sheets: Mapping[str, Image.Image | None] | None = None,
) -> Path:
    """Write the creative run: gates, ``metrics.json``, tables, figures and contact sheets (PNG).

    Tables: ``guardrails`` and ``variant_guardrails`` (creative x rule with status, reason and measured
    value), ``guardrail_matrix``, ``variants``, ``variant_problems`` and ``history_rejected`` (when there
    are any), ``preflight_metrics``, ``calibration``, ``feature_importance``, ``preflight_truth`` (in a
    Galaxy world), ``variant_scores``, ``recommendations``, ``recommender_metrics``, ``allocation_summary``,
    ``allocation_daily``, ``allocation_arms``.

    Raises
    ------
    ValueError
        When a figure's name is not one of :data:`FIGURES`.
    """
    figures = figures_in_order(figures, FIGURES, "a creative run")
    writer = ReportWriter(output_dir, notebook=NOTEBOOK)
    for name, sheet in (sheets or {}).items():
        if sheet is not None:
            sheet.save(writer.output_dir / f"{name}.png")
    return writer.publish(report_metrics(run), gates=report_gates(run), tables=_tables(run), figures=figures)
