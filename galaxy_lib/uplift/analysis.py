"""The uplift workflow's steps, each one call from the notebook.

* :func:`read_out_campaign`: the A/B readout of every arm (SRM guard, CUPED);
* :func:`monitor_campaign`: the same readout looked at every day, with an
  always-valid p-value (when the table says when each customer was contacted);
* :func:`fit_and_compare`: split, fit every learner, score them on the held-out
  rows, choose one, and explain it;
* :func:`plan_targeting`: the policy, its measured value against the
  alternatives, and the contact list;
* :func:`read_out_geo_tests`: the store's geo lift tests read out from per-geo KPI;
* :func:`register_campaign`: the experiment and its readout in the store's registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from galaxy_lib.core.config import resolve_path
from galaxy_lib.experiments import AbReadout, SequentialResult, ab_readout, sequential_monitor, srm_check
from galaxy_lib.experiments.ab import SrmCheck
from galaxy_lib.uplift import evaluation
from galaxy_lib.uplift.data import UpliftData, split_rows
from galaxy_lib.uplift.model import (
    ENSEMBLE,
    LEARNER_LABELS,
    AveragedUplift,
    FeatureEncoder,
    FittedUplift,
    OutcomeModel,
    fit_learners,
    fit_outcome_model,
)
from galaxy_lib.uplift.policy import (
    NO_CONTACT,
    PolicyEstimate,
    assign_policy,
    candidate_policies,
    estimate_policies,
    true_policy_value,
)

__all__ = [
    "CampaignReadout",
    "TargetingPlan",
    "UpliftFit",
    "fit_and_compare",
    "monitor_campaign",
    "plan_targeting",
    "read_out_campaign",
    "read_out_geo_tests",
    "register_campaign",
]


@dataclass(frozen=True, eq=False)
class CampaignReadout:
    """The experiment read out arm by arm.

    Attributes
    ----------
    srm
        The sample-ratio check (the readout is refused when it fails).
    readouts
        One :class:`~galaxy_lib.experiments.AbReadout` per metric and arm.
    """

    srm: SrmCheck
    readouts: tuple[AbReadout, ...]

    def ate(self, metric: str) -> dict[str, AbReadout]:
        """Arm -> readout of ``metric``."""
        return {r.arm: r for r in self.readouts if r.metric == metric}


def read_out_campaign(data: UpliftData, alpha: float = 0.1) -> CampaignReadout:
    """Read out every treated arm against the control on the outcome and the revenue metric.

    CUPED is used for a metric whose covariate (``cuped_covariates``) is a
    column without blanks; otherwise the plain difference is read out. The
    sample-ratio check runs first and blocks the readout when the split is
    broken (:class:`~galaxy_lib.experiments.SampleRatioMismatch`).
    """
    p = data.params
    frame = data.frame
    metrics = {p.outcome_column: "binary" if p.outcome_type == "binary" else "continuous"}
    if p.revenue_column and p.revenue_column in frame.columns and p.revenue_column != p.outcome_column:
        metrics[p.revenue_column] = "continuous"
    srm = srm_check(frame[p.treatment_column])
    readouts: list[AbReadout] = []
    for metric, kind in metrics.items():
        covariate = p.cuped_covariates.get(metric)
        usable = covariate is not None and covariate in frame.columns and frame[covariate].notna().all()
        readouts += ab_readout(
            frame,
            p.treatment_column,
            metric,
            data.control,
            metric_type=kind,
            covariate_col=covariate if usable else None,
            alpha=alpha,
        )
    return CampaignReadout(srm, tuple(readouts))


def monitor_campaign(
    data: UpliftData, outcome_days: int = 14, alpha: float = 0.1
) -> dict[str, SequentialResult] | None:
    """Replay the campaign as a daily monitor would have seen it (mSPRT, always-valid p-value).

    A customer's outcome is known ``outcome_days`` after their ``sent_at``; each day
    the monitor compares the arm with the control on the customers known by then.
    Its p-value stays valid however often it is looked at
    (:func:`galaxy_lib.experiments.sequential_monitor`), so the first day it falls
    to ``alpha`` is a day the test could have stopped.

    Returns
    -------
    dict or None
        Arm -> monitor result, or ``None`` when the table has no usable ``sent_at``.
    """
    frame = data.frame
    if "sent_at" not in frame.columns or frame["sent_at"].isna().any():
        return None
    known = (pd.to_datetime(frame["sent_at"]).dt.normalize() + pd.Timedelta(days=outcome_days)).dt.date
    table = frame.assign(_known=known)
    p = data.params
    return {
        arm: sequential_monitor(table, p.treatment_column, p.outcome_column, "_known", data.control, arm, alpha=alpha)
        for arm in data.arms
    }


@dataclass(frozen=True, eq=False)
class UpliftFit:
    """Every learner fitted, scored on the held-out rows, and the one chosen.

    Attributes
    ----------
    encoder
        Feature encoding shared by all learners.
    fitted
        Learner key -> fitted learner, and ``ensemble``: their average.
    outcome_model
        Outcome without contact (ranks "target by propensity", prices conversion costs).
    train_rows, test_rows
        Row positions of the two splits.
    predictions
        Learner key -> predicted uplift per arm on the held-out rows.
    scores
        AUUC and Qini per learner and arm (:func:`evaluation.score_table`).
    curves, gain_curves
        Qini and cumulative-gain curves of every learner and of random targeting
        (:func:`evaluation.qini_curves`).
    chosen
        Key of the chosen learner.
    deciles
        The chosen learner's decile table on the held-out rows.
    truth_scores
        PEHE and Spearman per learner and arm (Galaxy world), else ``None``.
    importance
        Feature importance of the chosen learner, features x arms.
    x
        The encoded features of every row (what the learners were given).
    true_uplift
        The true uplift per arm of the held-out rows (Galaxy world), else ``None``.
    """

    encoder: FeatureEncoder
    fitted: dict[str, FittedUplift | AveragedUplift]
    outcome_model: OutcomeModel
    train_rows: np.ndarray
    test_rows: np.ndarray
    predictions: dict[str, pd.DataFrame]
    scores: pd.DataFrame
    curves: pd.DataFrame
    gain_curves: pd.DataFrame
    chosen: str
    deciles: pd.DataFrame
    truth_scores: pd.DataFrame | None
    importance: pd.DataFrame
    x: np.ndarray
    true_uplift: pd.DataFrame | None

    @property
    def chosen_label(self) -> str:
        """Display name of the chosen learner."""
        return LEARNER_LABELS[self.chosen]

    def comparison(self) -> pd.DataFrame:
        """Learners x (score per arm): held-out AUUC and Qini, PEHE and Spearman when known, fit seconds.

        The Qini's standard error is in :attr:`scores` (``qini_se``); it is what the
        choice of the average of learners is judged against.
        """
        scores = self.scores.drop(columns="qini_se")
        table = scores if self.truth_scores is None else scores.join(self.truth_scores)
        wide = table.unstack("arm").reindex(list(self.fitted))
        wide.columns = [f"{metric} {arm}" for metric, arm in wide.columns]
        wide["fit seconds"] = [self.fitted[m].fit_seconds for m in wide.index]
        wide.index = [LEARNER_LABELS[m] + (" (chosen)" if m == self.chosen else "") for m in wide.index]
        return wide.rename_axis("learner")


def fit_and_compare(data: UpliftData, progress: bool = True) -> UpliftFit:
    """Fit every learner on the training split, score each on the held-out split and choose one.

    The choice is the best mean held-out Qini (or AUUC, ``choose_by``) over the
    arms: a ranking measure that needs no truth, so it works on your data too.
    The average of the learners is a candidate too and wins whenever its Qini is
    within one standard error of the best (:func:`evaluation.choose_model`).
    """
    p = data.params
    train, test = split_rows(data.treatment, p.test_share, p.seed)
    frame = data.frame
    encoder = FeatureEncoder.fit(frame.iloc[train], data.features)
    x = encoder.transform(frame)
    treatment, y = data.treatment, data.outcome
    binary = p.outcome_type == "binary"
    fitted = fit_learners(
        p.learners, x[train], treatment[train], y[train], data.control, binary, p.seed, p.forest_trees, progress
    )
    outcome_model = fit_outcome_model(x[train], treatment[train], y[train], data.control, binary, p.seed)
    if len(fitted) > 1:
        fitted[ENSEMBLE] = AveragedUplift(tuple(fitted.values()))
    predictions = {name: f.predict(x[test]) for name, f in fitted.items()}
    scores = evaluation.score_table(predictions, treatment[test], y[test], data.control)
    curves = evaluation.qini_curves(predictions, treatment[test], y[test], data.control)
    gain_curves = evaluation.qini_curves(predictions, treatment[test], y[test], data.control, kind="gain")
    chosen = evaluation.choose_model(scores, p.choose_by, prefer=ENSEMBLE)
    true_test = None if data.truth is None else data.truth.iloc[test][list(data.arms)].reset_index(drop=True)
    deciles = evaluation.decile_table(predictions[chosen], treatment[test], y[test], data.control, true_test)
    truth_scores = None if true_test is None else evaluation.truth_table(predictions, true_test)
    importance = evaluation.feature_importance(fitted[chosen], x[test], encoder, seed=p.seed)
    return UpliftFit(
        encoder,
        fitted,
        outcome_model,
        train,
        test,
        predictions,
        scores,
        curves,
        gain_curves,
        chosen,
        deciles,
        truth_scores,
        importance,
        x,
        true_test,
    )


@dataclass(frozen=True, eq=False)
class TargetingPlan:
    """Who gets which arm, what that is worth, and the list to send.

    Attributes
    ----------
    estimate
        Every candidate policy measured on the held-out experiment (per
        customer, with intervals; ``true_profit`` in a Galaxy world).
    contact_list
        Targetable customers the policy contacts: ``customer_key``, ``arm``,
        expected ``uplift`` and ``profit``; pseudonymised ids only.
    population
        Customers the policy was applied to (the targetable ones).
    """

    estimate: PolicyEstimate
    contact_list: pd.DataFrame
    population: int

    def totals(self) -> pd.DataFrame:
        """Policies x (contacts, incremental conversions and profit with interval bounds) for the whole population.

        Columns: ``contacts``, ``conversions``, ``conversions_low``, ``conversions_high``,
        ``profit``, ``profit_low``, ``profit_high`` and, when known, ``true_profit``.
        """
        t = self.estimate.table
        n = self.population
        out = pd.DataFrame(index=t.index)
        out["contacts"] = (t["contacts"] * n).round().astype(int)
        for col in ("conversions", "profit", "true_profit"):
            for suffix in ("", "_low", "_high"):
                if f"{col}{suffix}" in t.columns:
                    out[f"{col}{suffix}"] = t[f"{col}{suffix}"] * n
        return out

    def table(self) -> pd.DataFrame:
        """Return the totals for people: one row per policy, each value with its interval in one column."""
        totals = self.totals()
        level = f"{100 * self.estimate.level:.0f}%"
        out = pd.DataFrame({"contacts": [f"{c:,}" for c in totals["contacts"]]}, index=totals.index)
        for col in ("conversions", "profit"):
            out[f"incremental {col} ({level} interval)"] = [
                f"{v:,.0f} [{lo:,.0f}, {hi:,.0f}]"
                for v, lo, hi in zip(totals[col], totals[f"{col}_low"], totals[f"{col}_high"], strict=True)
            ]
        if "true_profit" in totals.columns:
            out["true profit"] = [f"{v:,.0f}" for v in totals["true_profit"]]
        return out.rename_axis("policy")


def plan_targeting(data: UpliftData, fit: UpliftFit) -> TargetingPlan:
    """Apply the targeting policy to the targetable customers and measure it on the held-out experiment.

    The budget and contact limit are for the whole targetable population; on the
    held-out rows they are scaled by the share those rows are of it, so the
    measured policy is the same policy in miniature.
    """
    p = data.params
    economics = p.economics
    economics.check_arms(data.arms)
    x = fit.x
    chosen = fit.fitted[fit.chosen]
    population = np.flatnonzero(data.targetable)
    scale = len(fit.test_rows) / max(len(population), 1)
    small = economics.model_copy(
        update={"budget": economics.budget * scale, "max_contacts": math.ceil(economics.max_contacts * scale)}
    )

    test_x = x[fit.test_rows]
    base_test = fit.outcome_model.predict(test_x)
    policy_test = assign_policy(fit.predictions[fit.chosen], base_test, small)
    candidates = candidate_policies(policy_test, base_test, data.arms, small)
    estimate = estimate_policies(
        candidates,
        data.treatment[fit.test_rows],
        data.outcome[fit.test_rows],
        data.control,
        small,
        n_bootstrap=p.n_bootstrap,
        level=p.interval_level,
        seed=p.seed,
    )
    if data.truth is not None:
        truth = data.truth.iloc[fit.test_rows].reset_index(drop=True)
        true_value = true_policy_value(candidates, truth["base"].to_numpy(), truth[list(data.arms)], small)
        estimate = PolicyEstimate(estimate.table.join(true_value), estimate.level, estimate.n_bootstrap)

    pop_x = x[population]
    plan = assign_policy(chosen.predict(pop_x), fit.outcome_model.predict(pop_x), economics)
    plan.insert(0, "customer_key", data.frame["customer_key"].to_numpy()[population])
    contact_list = plan[plan["arm"] != NO_CONTACT].sort_values("profit", ascending=False).reset_index(drop=True)
    return TargetingPlan(estimate, contact_list, len(population))


def register_campaign(data: UpliftData, readout: CampaignReadout) -> tuple[str, str] | None:
    """Record the campaign and its readout in the store's experiment registry; return ``(id, status)``.

    The experiment ``experiment_id`` is registered as running on its first run
    and gets the readout of the primary metric (``outcome_column``): significant
    when the interval of at least one arm excludes zero, else inconclusive. A
    later run finds it decided and leaves it as it is (a decided experiment's
    readout is never replaced; start a new experiment id for a new campaign).
    Nothing is registered for your own table (``data_path``) or with an empty
    ``experiment_id``.
    """
    from galaxy_lib.core.store import DataStore
    from galaxy_lib.experiments.records import ExperimentRegistryError, readout_from_ab
    from galaxy_lib.experiments.registry import ExperimentRegistry

    p = data.params
    if not p.experiment_id or p.data_path:
        return None
    registry = ExperimentRegistry(DataStore(resolve_path(p.data_dir)))
    primary = [r for r in readout.readouts if r.metric == p.outcome_column]
    significant = any(r.diff_low > 0 or r.diff_high < 0 for r in primary)
    binary = p.outcome_type == "binary"
    record = readout_from_ab(
        primary,
        decision="significant" if significant else "inconclusive",
        scale=100.0 if binary else 1.0,
        unit="pts" if binary else "",
        summary=f"{len(data.frame):,} customers; {readout.srm}",
    )
    spec = {
        "id": p.experiment_id,
        "name": f"Campaign: {', '.join(data.arms)} against {data.control}",
        "hypothesis": f"Contacting customers with {' or '.join(data.arms)} raises {p.outcome_column} "
        "against no contact.",
        "metric": p.outcome_column,
        "arms": [data.control, *data.arms],
        "control": data.control,
        "status": "running",
    }
    if "sent_at" in data.frame.columns and data.frame["sent_at"].notna().all():
        sent = pd.to_datetime(data.frame["sent_at"])
        spec["start"] = sent.min().date().isoformat()
        spec["end"] = (sent.max() + pd.Timedelta(days=14)).date().isoformat()  # the last outcome window
    try:
        if p.experiment_id not in registry.ids():
            registry.register(spec)
        if registry.get(p.experiment_id).status == "running":
            registry.record_readout(p.experiment_id, record)
    except ExperimentRegistryError:
        # another run (two notebooks on one store) registered or decided it first: its record stands
        pass
    experiment = registry.get(p.experiment_id)
    return experiment.id, experiment.status


def read_out_geo_tests(data_dir: str, draws: int = 500, seed: int = 0, progress: bool = True) -> pd.DataFrame | None:
    """Read out the store's geo lift tests from its per-geo weekly KPI (CausalPy, :mod:`galaxy_lib.experiments.geo`).

    The design (which geo, channel and weeks) is the store's ``lift_tests``
    table; the lift is measured afresh from ``kpi`` and ``spend``. In a Galaxy
    world each row also gets the test's ``true_delta_y``. Tests that overlap in
    one geo are left out (and logged) rather than read out wrongly.

    Returns
    -------
    pandas.DataFrame or None
        One lift-test row per test (``02_mmm`` reads the table as ``lift_tests_path``),
        or ``None`` when the store has no geo tests.
    """
    import json

    from galaxy_lib.core.store import DataStore
    from galaxy_lib.experiments.geo import geo_lift_table

    store = DataStore(resolve_path(data_dir))
    if not all(store.exists("staged", t) for t in ("lift_tests", "kpi", "spend")):
        return None
    design = store.read("staged", "lift_tests")
    if design.empty:
        return None
    table = geo_lift_table(
        store.read("staged", "kpi"),
        store.read("staged", "spend"),
        design,
        draws=draws,
        tune=draws,
        random_seed=seed,
        conflicts="skip",
        progress=progress,
    )
    truth_file = store.root / "ground_truth.json"
    if truth_file.is_file():
        truth = {t["test_id"]: t["true_delta_y"] for t in json.loads(truth_file.read_text()).get("lift_tests", [])}
        table["true_delta_y"] = table["test_id"].map(truth)
    return table
