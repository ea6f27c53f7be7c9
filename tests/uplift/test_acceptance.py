"""The issue's acceptance on a large simulated campaign (the bench world's simulator, 100k customers).

The chosen learner (held-out Qini, no truth used) must rank like the truth (Spearman >= 0.5
per arm), be no worse in PEHE than the best causalml learner fitted with its base models'
library defaults (LightGBM) on the same split, and the targeting policy's true profit must lie
inside its measured interval and beat targeting by propensity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.simulate.uplift import simulate_campaign
from galaxy_lib.uplift import evaluation
from galaxy_lib.uplift.data import split_rows
from galaxy_lib.uplift.model import (
    ENSEMBLE,
    LEARNERS,
    AveragedUplift,
    FeatureEncoder,
    _quiet_causalml,
    fit_learners,
    fit_outcome_model,
)
from galaxy_lib.uplift.params import WORLD_FEATURES
from galaxy_lib.uplift.policy import (
    Economics,
    assign_policy,
    candidate_policies,
    estimate_policies,
    true_policy_value,
)

pytestmark = pytest.mark.slow

ECONOMICS = Economics(
    margin_per_conversion=30.0, contact_cost={"email": 0.1, "coupon": 0.1}, conversion_cost={"coupon": 12.0}
)


def make_study() -> dict:
    """Simulate, split, fit every learner and choose one, as the notebook does."""
    table, truth = simulate_campaign(100_000, seed=2024)
    treatment, y = table["treatment"].to_numpy(), table["converted"].to_numpy()
    train, test = split_rows(treatment, 0.3, seed=0)
    encoder = FeatureEncoder.fit(table.iloc[train], WORLD_FEATURES)
    x = encoder.transform(table)
    fitted = fit_learners(LEARNERS, x[train], treatment[train], y[train], "control", progress=False)
    fitted[ENSEMBLE] = AveragedUplift(tuple(fitted.values()))
    predictions = {name: f.predict(x[test]) for name, f in fitted.items()}
    scores = evaluation.score_table(predictions, treatment[test], y[test], "control")
    chosen = evaluation.choose_model(scores, prefer=ENSEMBLE)
    true_test = truth.iloc[test][["tau_coupon", "tau_email"]].set_axis(["coupon", "email"], axis=1)
    outcome = fit_outcome_model(x[train], treatment[train], y[train], "control")
    return {
        "table": table,
        "truth": truth,
        "x": x,
        "train": train,
        "test": test,
        "predictions": predictions,
        "chosen": chosen,
        "true_test": true_test.reset_index(drop=True),
        "base_test": outcome.predict(x[test]),
    }


@pytest.fixture(scope="module")
def study() -> dict:
    return make_study()


def _defaults_predictions(study) -> dict[str, pd.DataFrame]:
    """causalml's learners with LightGBM at its library defaults (what a first try looks like)."""
    from lightgbm import LGBMClassifier, LGBMRegressor

    meta, tree = _quiet_causalml()
    x, train, test = study["x"], study["train"], study["test"]
    treatment = study["table"]["treatment"].to_numpy()
    y = study["table"]["converted"].to_numpy()
    shares = {
        a: float((treatment[train] == a).sum() / np.isin(treatment[train], [a, "control"]).sum())
        for a in ("coupon", "email")
    }
    p_train = {a: np.full(len(train), s) for a, s in shares.items()}
    p_test = {a: np.full(len(test), s) for a, s in shares.items()}
    clf, reg = LGBMClassifier(verbose=-1, n_jobs=1), LGBMRegressor(verbose=-1, n_jobs=1)
    models = {
        "s": meta.BaseSClassifier(learner=clf, control_name="control"),
        "t": meta.BaseTClassifier(learner=clf, control_name="control"),
        "x": meta.BaseXClassifier(outcome_learner=clf, effect_learner=reg, control_name="control"),
        "r": meta.BaseRClassifier(outcome_learner=clf, effect_learner=reg, control_name="control", random_state=0),
        "dr": meta.BaseDRClassifier(
            control_outcome_learner=clf,
            treatment_outcome_learner=clf,
            treatment_effect_learner=reg,
            control_name="control",
        ),
        "forest": tree.UpliftRandomForestClassifier(control_name="control", random_state=0, n_jobs=1),
    }
    out = {}
    for name, model in models.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            if name in ("x", "r", "dr"):
                model.fit(X=x[train], treatment=treatment[train], y=y[train], p=p_train)
            else:
                model.fit(X=x[train], treatment=treatment[train], y=y[train])
            raw = model.predict(x[test], p=p_test) if name == "x" else model.predict(x[test])
        order = [str(c) for c in model.classes_[1:]] if name == "forest" else [str(g) for g in model.t_groups]
        out[name] = pd.DataFrame(np.asarray(raw).reshape(len(test), -1), columns=order)[["coupon", "email"]]
    return out


def test_chosen_learner_ranks_customers_like_the_truth(study):
    truth = evaluation.truth_table({study["chosen"]: study["predictions"][study["chosen"]]}, study["true_test"])
    assert (truth["spearman"] >= 0.5).all(), truth


def test_chosen_learner_is_no_worse_in_pehe_than_causalml_with_default_bases(study):
    ours = evaluation.truth_table({"chosen": study["predictions"][study["chosen"]]}, study["true_test"])
    defaults = evaluation.truth_table(_defaults_predictions(study), study["true_test"])
    best_default = defaults["pehe"].groupby(level="model").mean().min()
    assert ours["pehe"].mean() <= best_default, (ours, defaults)


def test_policy_true_profit_is_inside_its_interval_and_beats_propensity(study):
    treatment = study["table"]["treatment"].to_numpy()[study["test"]]
    y = study["table"]["converted"].to_numpy()[study["test"]]
    policy = assign_policy(study["predictions"][study["chosen"]], study["base_test"], ECONOMICS)
    candidates = candidate_policies(policy, study["base_test"], ("coupon", "email"), ECONOMICS)
    estimate = estimate_policies(candidates, treatment, y, "control", ECONOMICS, n_bootstrap=400, level=0.9)
    true = true_policy_value(
        candidates, study["truth"]["base"].to_numpy()[study["test"]], study["true_test"], ECONOMICS
    )
    row = estimate.table.loc["uplift targeting"]
    assert row["profit_low"] <= true["uplift targeting"] <= row["profit_high"], (row, true)
    for arm in ("coupon", "email"):
        assert true["uplift targeting"] > true[f"propensity: {arm}"], true
