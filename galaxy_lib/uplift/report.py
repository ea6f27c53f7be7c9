"""Publish an uplift run: its gates, ``metrics.json``, tables and figures.

``metrics.json`` is typed by :class:`galaxy_lib.schemas.uplift.UpliftMetrics`.

* :func:`report_gates`: ``uplift_beats_random`` (the chosen learner's held-out
  Qini) and ``uplift_policy_loss_risk`` (the lower end of the policy's profit);
* :func:`report_metrics`: the ``metrics`` payload;
* :func:`publish`: the one call at the end of ``notebooks/04_uplift``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from galaxy_lib.core.gates import Gate, measure
from galaxy_lib.core.reporting import ReportWriter, figures_in_order
from galaxy_lib.schemas.uplift import (
    ArmReadoutMetrics,
    GeoTestMetrics,
    LearnerArmMetrics,
    PolicyMetrics,
    UpliftInputsMetrics,
    UpliftMetrics,
)
from galaxy_lib.uplift.analysis import CampaignReadout, TargetingPlan, UpliftFit
from galaxy_lib.uplift.data import UpliftData

__all__ = ["FIGURES", "NOTEBOOK", "publish", "report_gates", "report_metrics"]

#: The notebook this module publishes for.
NOTEBOOK = "04_uplift"
#: Figures a run publishes, by file name, in this order.
FIGURES: tuple[str, ...] = (
    "ab_readout",
    "sequential_monitor",
    "qini_curves",
    "gain_curves",
    "uplift_deciles",
    "feature_importance",
    "policy_profit",
    "uplift_vs_truth",
    "geo_tests",
)


def _finite(x: Any) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def report_gates(fit: UpliftFit, plan: TargetingPlan) -> list[Gate]:
    """Quality gates of an uplift run (both can only warn: the numbers are still worth reading).

    * ``uplift_beats_random``: mean held-out Qini coefficient of the chosen learner
      over the arms; below 0 it ranks customers worse than random and warns.
    * ``uplift_policy_loss_risk``: lower end of the policy's incremental profit
      interval; below 0 the policy may lose money and warns.
    """
    qini = float(fit.scores.loc[fit.chosen, "qini"].mean())
    policy = plan.estimate.table.loc["uplift targeting"]
    level = 100 * plan.estimate.level
    return [
        measure(
            "uplift_beats_random",
            qini,
            0.0,
            None,
            f"{fit.chosen_label} ranks held-out customers with a mean Qini coefficient of {qini:+.3f} over the "
            "arms (0 = random targeting).",
            higher_is_worse=False,
            table="learner_comparison",
            column="qini",
        ),
        measure(
            "uplift_policy_loss_risk",
            float(policy["profit_low"]) * plan.population,
            0.0,
            None,
            f"The targeting policy earns {policy['profit'] * plan.population:,.0f} over no contact "
            f"({level:.0f}% interval {policy['profit_low'] * plan.population:,.0f} to "
            f"{policy['profit_high'] * plan.population:,.0f}) for {plan.population:,} customers.",
            higher_is_worse=False,
            table="policy_comparison",
            column="profit",
        ),
    ]


def report_metrics(
    data: UpliftData,
    readout: CampaignReadout,
    fit: UpliftFit,
    plan: TargetingPlan,
    geo_tests: pd.DataFrame | None = None,
    experiment: tuple[str, str] | None = None,
) -> UpliftMetrics:
    """Build the ``metrics`` payload of ``metrics.json``.

    Parameters
    ----------
    data, readout, fit, plan
        The notebook's steps (:mod:`galaxy_lib.uplift.analysis`).
    geo_tests
        Geo-test readout rows (``test_id, channel, geo, delta_y``, interval bounds
        ``delta_y_low``/``delta_y_high`` and, in a Galaxy world, ``true_delta_y``), or ``None``.
    experiment
        ``(id, status)`` of the campaign in the experiment registry, or ``None``.
    """
    scores = fit.scores if fit.truth_scores is None else fit.scores.join(fit.truth_scores)
    learners: dict[str, dict[str, LearnerArmMetrics]] = {}
    for (model, arm), row in scores.iterrows():
        learners.setdefault(str(model), {})[str(arm)] = LearnerArmMetrics(
            **{k: _finite(v) for k, v in row.items() if k in LearnerArmMetrics.model_fields}
        )
    ate: dict[str, dict[str, ArmReadoutMetrics]] = {}
    for r in readout.readouts:
        ate.setdefault(r.metric, {})[r.arm] = ArmReadoutMetrics(
            diff=r.diff,
            diff_low=r.diff_low,
            diff_high=r.diff_high,
            lift=_finite(r.lift),
            lift_low=_finite(r.lift_low),
            lift_high=_finite(r.lift_high),
            p_value=r.p_value,
            n_arm=r.n_arm,
            n_control=r.n_control,
            cuped_variance_reduction=r.variance_reduction,
        )
    policies = {
        str(name): PolicyMetrics(**{k: _finite(v) for k, v in row.items() if k in PolicyMetrics.model_fields})
        for name, row in plan.estimate.table.iterrows()
    }
    geo = None
    if geo_tests is not None and len(geo_tests):
        geo = {
            str(row["test_id"]): GeoTestMetrics(
                channel=str(row["channel"]),
                geo=str(row["geo"]),
                delta_y=float(row["delta_y"]),
                low=float(row["delta_y_low"]),
                high=float(row["delta_y_high"]),
                true_delta_y=_finite(row.get("true_delta_y")),
            )
            for _, row in geo_tests.iterrows()
        }
    return UpliftMetrics(
        chosen_model=fit.chosen,
        choose_by=data.params.choose_by,
        learners=learners,
        ate=ate,
        srm_p_value=readout.srm.p_value,
        interval_level=plan.estimate.level,
        policies=policies,
        population=plan.population,
        contacts={str(k): int(v) for k, v in plan.contact_list["arm"].value_counts().items()},
        geo_tests=geo,
        experiment_id=experiment[0] if experiment else None,
        experiment_status=experiment[1] if experiment else None,
        inputs=UpliftInputsMetrics.model_validate(data.summary()),
    )


def publish(
    output_dir: str | Path,
    data: UpliftData,
    readout: CampaignReadout,
    fit: UpliftFit,
    plan: TargetingPlan,
    geo_tests: pd.DataFrame | None = None,
    experiment: tuple[str, str] | None = None,
    figures: Mapping[str, Any] | None = None,
) -> Path:
    """Write the uplift run: gates, ``metrics.json``, tables and figures; return ``metrics.json``'s path.

    Tables: ``ab_readout``, ``learner_comparison``, ``uplift_deciles``,
    ``feature_importance``, ``policy_comparison``, ``contact_list`` (pseudonymised
    keys only) and, with geo tests, ``geo_readouts`` (every test) and
    ``geo_lift_tests`` (the tests whose lift has the sign of their spend change:
    the rows ``02_mmm`` accepts as ``lift_tests_path``, see
    :func:`galaxy_lib.experiments.geo.usable_lift_rows`).

    Raises
    ------
    ValueError
        When a figure's name is not one of :data:`FIGURES`.
    """
    figures = figures_in_order(figures, FIGURES, "an uplift run")
    from galaxy_lib.experiments import readout_table
    from galaxy_lib.experiments.geo import usable_lift_rows

    writer = ReportWriter(output_dir, notebook=NOTEBOOK)
    return writer.publish(
        report_metrics(data, readout, fit, plan, geo_tests, experiment),
        gates=report_gates(fit, plan),
        tables={
            "ab_readout": readout_table(readout.readouts),
            "learner_comparison": fit.comparison(),
            "uplift_deciles": fit.deciles,
            "feature_importance": fit.importance,
            "policy_comparison": plan.totals(),
            "contact_list": plan.contact_list,
            "geo_readouts": geo_tests,
            "geo_lift_tests": None if geo_tests is None else usable_lift_rows(geo_tests),
        },
        figures=figures,
    )
