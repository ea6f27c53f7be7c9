"""How good is each learner's ranking, measured on the held-out split.

Qini and cumulative-gain curves, AUUC and the Qini coefficient come from
causalml's ``metrics`` (one treated arm against the control at a time, the
form they take); the decile table and, in a Galaxy world, the distance to the
true uplift (PEHE, Spearman rank correlation) are computed here because they
are one line of pandas each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from galaxy_lib.uplift.model import LEARNER_LABELS, AveragedUplift, FeatureEncoder, FittedUplift, threads_limited

__all__ = [
    "arm_frame",
    "choose_model",
    "decile_table",
    "feature_importance",
    "qini_curves",
    "score_table",
    "truth_table",
]


def arm_frame(
    predictions: Mapping[str, pd.DataFrame], treatment: np.ndarray, y: np.ndarray, arm: str, control: str
) -> pd.DataFrame:
    """Rows of ``arm`` or ``control`` with ``y``, ``w`` (1 = arm) and each model's predicted uplift of ``arm``."""
    treatment = np.asarray(treatment).astype(str)
    mask = (treatment == arm) | (treatment == control)
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float)[mask], "w": (treatment[mask] == arm).astype(int)})
    for name, pred in predictions.items():
        frame[name] = pred[arm].to_numpy()[mask]
    return frame


def score_table(
    predictions: Mapping[str, pd.DataFrame],
    treatment: np.ndarray,
    y: np.ndarray,
    control: str,
    n_bootstrap: int = 100,
    seed: int = 0,
) -> pd.DataFrame:
    """AUUC and Qini coefficient of every model for every treated arm (causalml's scores).

    Parameters
    ----------
    predictions
        Model name -> predicted uplift per arm on the held-out rows.
    treatment, y
        Arm label and outcome of the held-out rows.
    control
        Control arm label.

    Returns
    -------
    pandas.DataFrame
        Index ``(model, arm)``; columns ``auuc`` (area under the cumulative-gain
        curve normalised by the gain of treating everyone; random targeting scores
        0.5), ``qini`` (area between the Qini curve and random targeting; above 0
        beats random) and ``qini_se`` (its standard error, causalml's half-sample
        bootstrap).
    """
    from causalml.metrics import auuc_score, qini_score

    arms = next(iter(predictions.values())).columns
    rows = []
    for arm in arms:
        frame = arm_frame(predictions, treatment, y, arm, control)
        auuc = auuc_score(frame, outcome_col="y", treatment_col="w", normalize=True)
        qini = qini_score(
            frame, outcome_col="y", treatment_col="w", normalize=True, return_ci=True,
            n_bootstrap=n_bootstrap, random_state=seed,
        )  # fmt: skip
        for name in predictions:
            rows.append(
                {
                    "model": name,
                    "arm": arm,
                    "auuc": float(auuc[name]),
                    "qini": float(qini.loc[name, "qini"]),
                    "qini_se": float(qini.loc[name, "se"]),
                }
            )
    return pd.DataFrame(rows).set_index(["model", "arm"])


def choose_model(scores: pd.DataFrame, metric: str = "qini", prefer: str | None = None) -> str:
    """Pick the model with the best mean ``metric`` over the arms (ties go to the earlier model).

    With ``prefer`` (the average of the learners), that model is chosen whenever
    its mean Qini is within one standard error of the best (the one-standard-error
    rule): a held-out Qini difference smaller than its own noise is no reason to
    give up the variance reduction of averaging.
    """
    if metric not in ("auuc", "qini"):
        raise ValueError(f"cannot choose by {metric!r}; choose from 'auuc' or 'qini'")
    means = scores[metric].groupby(level="model", sort=False).mean()
    best = str(means.idxmax())
    if prefer is not None and prefer in means.index and prefer != best and "qini_se" in scores.columns:
        qini = scores["qini"].groupby(level="model", sort=False).mean()
        se = float(scores.loc[best, "qini_se"].mean())
        if qini[prefer] >= qini[best] - se:
            return prefer
    return best


def qini_curves(
    predictions: Mapping[str, pd.DataFrame],
    treatment: np.ndarray,
    y: np.ndarray,
    control: str,
    points: int = 101,
    kind: Literal["qini", "gain"] = "qini",
) -> pd.DataFrame:
    """Qini (or cumulative-gain) curves of every model and of random targeting, per arm.

    Parameters
    ----------
    predictions, treatment, y, control
        As in :func:`score_table`.
    points
        Grid of shares targeted the curves are interpolated on.
    kind
        ``qini`` (causalml's ``get_qini``: incremental outcomes counted on the treated
        side) or ``gain`` (``get_cumgain``: the uplift of the targeted group times its size).

    Returns
    -------
    pandas.DataFrame
        Long table ``arm, model, share_targeted, incremental``: incremental outcomes
        when the top ``share_targeted`` of customers (by predicted uplift) are treated.
        Model ``random`` is random targeting: the straight line to treating everyone.
    """
    from causalml.metrics import get_cumgain, get_qini

    get_curve = get_qini if kind == "qini" else get_cumgain

    arms = next(iter(predictions.values())).columns
    grid = np.linspace(0.0, 1.0, points)
    parts = []
    for arm in arms:
        frame = arm_frame(predictions, treatment, y, arm, control)
        curve = get_curve(frame, outcome_col="y", treatment_col="w", normalize=False)
        share = np.asarray(curve.index, dtype=float) / max(len(frame), 1)
        for model in curve.columns:
            values = np.interp(grid, share, curve[model].to_numpy(dtype=float))
            parts.append(pd.DataFrame({"arm": arm, "model": model, "share_targeted": grid, "incremental": values}))
        everyone = float(curve.iloc[-1, 0]) if len(curve) else 0.0
        parts.append(
            pd.DataFrame({"arm": arm, "model": "random", "share_targeted": grid, "incremental": grid * everyone})
        )
    return pd.concat(parts, ignore_index=True)


def decile_table(
    prediction: pd.DataFrame,
    treatment: np.ndarray,
    y: np.ndarray,
    control: str,
    true_uplift: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Predicted against observed uplift by decile of predicted uplift, per arm.

    Decile 1 holds the 10% of customers with the highest predicted uplift. In
    each decile the observed uplift is the treated-minus-control difference of
    the outcome mean (a randomised experiment makes it an unbiased estimate of
    the decile's uplift).

    Returns
    -------
    pandas.DataFrame
        One row per arm and decile: ``predicted``, ``observed``, its standard
        error ``observed_se``, ``n_treated``, ``n_control`` and ``true`` when the
        true uplift is known.
    """
    treatment = np.asarray(treatment).astype(str)
    y = np.asarray(y, dtype=float)
    rows = []
    for arm in prediction.columns:
        pred = prediction[arm].to_numpy()
        rank = pd.Series(pred).rank(method="first").to_numpy()  # 1 = lowest predicted uplift
        decile = 10 - ((rank - 1) * 10 // max(len(pred), 1)).astype(int)  # a tenth of the rows each
        for d in range(1, 11):
            in_d = decile == d
            t, c = y[in_d & (treatment == arm)], y[in_d & (treatment == control)]
            se = (
                np.sqrt(t.var(ddof=1) / max(len(t), 1) + c.var(ddof=1) / max(len(c), 1))
                if min(len(t), len(c)) > 1
                else np.nan
            )
            row = {
                "arm": arm,
                "decile": d,
                "predicted": float(pred[in_d].mean()),
                "observed": float(t.mean() - c.mean()) if len(t) and len(c) else np.nan,
                "observed_se": float(se),
                "n_treated": len(t),
                "n_control": len(c),
            }
            if true_uplift is not None:
                row["true"] = float(true_uplift[arm].to_numpy()[in_d].mean())
            rows.append(row)
    return pd.DataFrame(rows)


def truth_table(predictions: Mapping[str, pd.DataFrame], true_uplift: pd.DataFrame) -> pd.DataFrame:
    """Distance of each model's predicted uplift to the true uplift, per arm.

    Returns
    -------
    pandas.DataFrame
        Index ``(model, arm)``; ``pehe`` (root mean squared error of the
        individual uplift, in outcome units) and ``spearman`` (rank correlation:
        does the model order customers as the truth does).
    """
    rows = []
    for name, pred in predictions.items():
        for arm in pred.columns:
            p, t = pred[arm].to_numpy(), true_uplift[arm].to_numpy()
            rows.append(
                {
                    "model": name,
                    "arm": arm,
                    "pehe": float(np.sqrt(np.mean((p - t) ** 2))),
                    "spearman": float(spearmanr(p, t).statistic),
                }
            )
    return pd.DataFrame(rows).set_index(["model", "arm"])


def feature_importance(
    fitted: FittedUplift | AveragedUplift,
    x: np.ndarray,
    encoder: FeatureEncoder,
    max_rows: int = 5_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Which features drive the predicted uplift of each arm (causalml's ``Explainer``).

    A surrogate gradient-boosting model (LightGBM, quiet and single-threaded) learns the predicted uplift from the
    features; each feature's importance is the drop of the surrogate's fit when
    that feature is shuffled (permutation importance), so it reads the same for
    every learner, the uplift forest included.

    Returns
    -------
    pandas.DataFrame
        Features (index, one-hot levels folded back into their column) x arms,
        each column summing to 1.
    """
    from causalml.inference.meta.explainer import Explainer
    from lightgbm import LGBMRegressor

    rng = np.random.default_rng(seed)
    rows = rng.choice(len(x), size=min(len(x), max_rows), replace=False)
    tau = fitted.predict(x[rows])
    explainer = Explainer(
        model_tau=LGBMRegressor(n_estimators=100, verbose=-1, n_jobs=1, random_state=seed),
        method="permutation",
        control_name=fitted.control,
        X=x[rows],
        tau=tau.to_numpy(),
        classes={arm: i for i, arm in enumerate(fitted.arms)},
        features=encoder.names,
        random_state=seed,
    )
    with threads_limited(1):
        importance = pd.DataFrame(explainer.get_importance()).clip(lower=0)
    importance.index = [name.split("=")[0] for name in importance.index]
    folded = importance.groupby(level=0).sum()
    folded = folded / folded.sum().replace(0, np.nan)
    return folded.sort_values(next(iter(folded.columns)), ascending=False).rename_axis("feature")


def label_models(frame: pd.DataFrame) -> pd.DataFrame:
    """Replace learner keys in the ``model`` index level by display names (``x`` -> ``X-learner``)."""
    return frame.rename(index=LEARNER_LABELS, level="model")
