"""Plotly figures for the uplift workflow (drawing only; the numbers come from analysis, evaluation and policy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from galaxy_lib.core.plotting import apply_theme
from galaxy_lib.experiments import AbReadout, SequentialResult
from galaxy_lib.uplift.params import LEARNER_LABELS

__all__ = [
    "decile_chart",
    "geo_chart",
    "importance_chart",
    "policy_chart",
    "qini_chart",
    "readout_chart",
    "sequential_chart",
    "truth_scatter",
]

_ARM_COLORS = ["#1e88e5", "#e53935", "#2e7d32", "#7e57c2", "#ffa726", "#00897b"]
_MODEL_COLORS = {
    "s": "#90a4ae",
    "t": "#8d6e63",
    "x": "#1e88e5",
    "r": "#7e57c2",
    "dr": "#26a69a",
    "forest": "#ffa726",
    "ensemble": "#212121",
    "random": "#9e9e9e",
}


def _arm_color(i: int) -> str:
    return _ARM_COLORS[i % len(_ARM_COLORS)]


def _legend_below(fig: go.Figure) -> go.Figure:
    """Put the legend under the panels, so it never covers a subplot title."""
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0.0))
    fig.update_layout(margin=dict(b=110))
    return fig


def readout_chart(readouts: Sequence[AbReadout], title: str = "Relative lift of each arm against control") -> go.Figure:
    """Draw each arm's relative lift with its confidence interval, one row per metric and arm.

    Parameters
    ----------
    readouts
        :attr:`galaxy_lib.uplift.analysis.CampaignReadout.readouts`.
    """
    fig = go.Figure()
    labels = [f"{r.metric}: {r.arm}" for r in readouts]
    arms = sorted({r.arm for r in readouts})
    for r, label in zip(readouts, labels, strict=True):
        fig.add_scatter(
            x=[100 * r.lift],
            y=[label],
            mode="markers",
            marker=dict(size=11, color=_arm_color(arms.index(r.arm))),
            error_x=dict(
                type="data",
                symmetric=False,
                array=[100 * (r.lift_high - r.lift)],
                arrayminus=[100 * (r.lift - r.lift_low)],
            ),
            name=r.arm,
            showlegend=False,
            hovertemplate=f"{label}<br>lift %{{x:.1f}}% [{100 * r.lift_low:.1f}, {100 * r.lift_high:.1f}]"
            f"<br>p = {r.p_value:.3g}<extra></extra>",
        )
    fig.add_vline(x=0, line_dash="dot", line_color="#616161")
    level = 100 * (1 - readouts[0].alpha) if readouts else 90
    fig.update_xaxes(title_text=f"lift against control, % ({level:.0f}% interval)")
    fig.update_yaxes(autorange="reversed")
    return apply_theme(fig, title, height=120 + 45 * len(readouts))


def qini_chart(curves: pd.DataFrame, chosen: str, title: str = "Qini curves on the held-out customers") -> go.Figure:
    """Draw each model's Qini (or cumulative-gain) curve against random targeting, one panel per arm.

    Parameters
    ----------
    curves
        :func:`galaxy_lib.uplift.evaluation.qini_curves` (either kind).
    chosen
        Key of the chosen learner (drawn thicker).
    title
        Figure title (say which kind of curve it is).
    """
    arms = list(dict.fromkeys(curves["arm"]))
    fig = make_subplots(rows=1, cols=len(arms), subplot_titles=[f"{a} vs control" for a in arms])
    for col, arm in enumerate(arms, start=1):
        for model, part in curves[curves["arm"] == arm].groupby("model", sort=False):
            name = LEARNER_LABELS.get(str(model), "random targeting")
            fig.add_scatter(
                x=100 * part["share_targeted"],
                y=part["incremental"],
                mode="lines",
                name=name,
                legendgroup=name,
                showlegend=col == 1,
                line=dict(
                    color=_MODEL_COLORS.get(str(model), "#616161"),
                    width=4 if model == chosen else 1.8,
                    dash="dash" if model == "random" else "solid",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="customers targeted, % (highest predicted uplift first)", row=1, col=col)
    fig.update_yaxes(title_text="incremental conversions", row=1, col=1)
    return _legend_below(apply_theme(fig, title, height=500))


def decile_chart(deciles: pd.DataFrame, title: str = "Predicted and observed uplift by decile") -> go.Figure:
    """Draw predicted uplift (bars) and the observed treated-minus-control difference (points) per decile.

    Parameters
    ----------
    deciles
        :func:`galaxy_lib.uplift.evaluation.decile_table` (a ``true`` column is drawn when present).
    """
    arms = list(dict.fromkeys(deciles["arm"]))
    fig = make_subplots(rows=1, cols=len(arms), subplot_titles=[f"{a} vs control" for a in arms])
    for col, arm in enumerate(arms, start=1):
        d = deciles[deciles["arm"] == arm]
        fig.add_bar(
            x=d["decile"], y=d["predicted"], name="predicted", marker_color="#90caf9", showlegend=col == 1,
            legendgroup="predicted", row=1, col=col,
        )  # fmt: skip
        fig.add_scatter(
            x=d["decile"],
            y=d["observed"],
            mode="markers",
            name="observed (treated - control)",
            marker=dict(color="#0d47a1", size=9),
            error_y=dict(type="data", array=1.645 * d["observed_se"].fillna(0)),
            showlegend=col == 1,
            legendgroup="observed",
            row=1,
            col=col,
        )
        if "true" in d.columns:
            fig.add_scatter(
                x=d["decile"], y=d["true"], mode="lines+markers", name="true uplift", showlegend=col == 1,
                legendgroup="true", line=dict(color="#212121", dash="dot"), marker=dict(symbol="line-ew-open", size=14),
                row=1, col=col,
            )  # fmt: skip
        fig.update_xaxes(title_text="decile of predicted uplift (1 = highest)", dtick=1, row=1, col=col)
    fig.update_yaxes(title_text="uplift (outcome per customer)", row=1, col=1)
    return _legend_below(apply_theme(fig, title, height=480))


def importance_chart(importance: pd.DataFrame, title: str = "What drives the predicted uplift") -> go.Figure:
    """Draw each feature's share of importance, one bar per arm.

    Parameters
    ----------
    importance
        Features x arms (:func:`galaxy_lib.uplift.evaluation.feature_importance`).
    """
    ordered = importance.assign(_total=importance.sum(axis=1)).sort_values("_total").drop(columns="_total")
    fig = go.Figure()
    for i, arm in enumerate(ordered.columns):
        fig.add_bar(y=list(ordered.index), x=100 * ordered[arm], name=arm, orientation="h", marker_color=_arm_color(i))
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="share of importance, % (permutation, surrogate model)")
    return apply_theme(fig, title, height=140 + 38 * len(ordered))


def policy_chart(
    totals: pd.DataFrame, level: float, title: str = "Incremental profit of each targeting policy"
) -> go.Figure:
    """Draw each policy's measured incremental profit with its bootstrap interval (and the truth when known).

    Parameters
    ----------
    totals
        :meth:`galaxy_lib.uplift.analysis.TargetingPlan.totals`.
    level
        Interval level (0.9 = 90%).
    """
    low, high = totals["profit_low"], totals["profit_high"]
    colors = ["#2e7d32" if name == "uplift targeting" else "#90a4ae" for name in totals.index]
    fig = go.Figure()
    fig.add_bar(
        x=list(totals.index),
        y=totals["profit"],
        marker_color=colors,
        name="measured on the held-out experiment",
        error_y=dict(type="data", symmetric=False, array=high - totals["profit"], arrayminus=totals["profit"] - low),
        customdata=np.stack([totals["contacts"], low, high], axis=1),
        hovertemplate="%{x}<br>profit %{y:,.0f} [%{customdata[1]:,.0f}, %{customdata[2]:,.0f}]"
        "<br>contacts %{customdata[0]:,}<extra></extra>",
    )
    if "true_profit" in totals.columns:
        fig.add_scatter(
            x=list(totals.index),
            y=totals["true_profit"],
            mode="markers",
            name="true (Galaxy world)",
            marker=dict(symbol="line-ew-open", size=26, color="#212121", line=dict(width=3)),
        )
    fig.add_hline(y=0, line_color="#616161", line_dash="dot")
    fig.update_yaxes(title_text=f"incremental profit over no contact ({100 * level:.0f}% interval)")
    return apply_theme(fig, title, height=440)


def truth_scatter(
    prediction: pd.DataFrame,
    true_uplift: pd.DataFrame,
    max_points: int = 3_000,
    seed: int = 0,
    title: str = "Predicted against true uplift (Galaxy world)",
) -> go.Figure:
    """Draw predicted against true individual uplift, one panel per arm, on a sample of customers.

    Parameters
    ----------
    prediction, true_uplift
        Rows x arms, aligned (the chosen model's held-out predictions and the truth).
    """
    arms = list(prediction.columns)
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(prediction), size=min(len(prediction), max_points), replace=False)
    fig = make_subplots(rows=1, cols=len(arms), subplot_titles=[f"{a} vs control" for a in arms])
    for col, arm in enumerate(arms, start=1):
        t, p = true_uplift[arm].to_numpy()[rows], prediction[arm].to_numpy()[rows]
        fig.add_scatter(
            x=t, y=p, mode="markers", marker=dict(size=4, opacity=0.35, color=_arm_color(col - 1)),
            name=arm, showlegend=False, row=1, col=col,
        )  # fmt: skip
        lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
        fig.add_scatter(
            x=[lo, hi], y=[lo, hi], mode="lines", line=dict(color="#616161", dash="dot"), showlegend=False,
            row=1, col=col,
        )  # fmt: skip
        fig.update_xaxes(title_text="true uplift", row=1, col=col)
    fig.update_yaxes(title_text="predicted uplift", row=1, col=1)
    return apply_theme(fig, title, height=420)


def geo_chart(tests: pd.DataFrame, title: str = "Geo tests: incremental revenue per test week") -> go.Figure:
    """Draw each geo test's measured lift with its interval (and the true lift when known).

    Parameters
    ----------
    tests
        :func:`galaxy_lib.uplift.analysis.read_out_geo_tests` (``delta_y``, ``delta_y_low``,
        ``delta_y_high``, optional ``true_delta_y``).
    """
    labels = [f"{r.test_id}: {r.channel} in {r.geo}" for r in tests.itertuples()]
    fig = go.Figure()
    fig.add_scatter(
        x=tests["delta_y"],
        y=labels,
        mode="markers",
        name="measured (94% interval)",
        marker=dict(size=10, color="#1e88e5"),
        error_x=dict(
            type="data",
            symmetric=False,
            array=tests["delta_y_high"] - tests["delta_y"],
            arrayminus=tests["delta_y"] - tests["delta_y_low"],
        ),
    )
    if "true_delta_y" in tests.columns and tests["true_delta_y"].notna().any():
        fig.add_scatter(
            x=tests["true_delta_y"],
            y=labels,
            mode="markers",
            name="true (Galaxy world)",
            marker=dict(symbol="line-ns-open", size=18, color="#212121", line=dict(width=3)),
        )
    fig.add_vline(x=0, line_dash="dot", line_color="#616161")
    fig.update_xaxes(title_text="incremental revenue per test week")
    fig.update_yaxes(autorange="reversed")
    return apply_theme(fig, title, height=140 + 40 * len(tests))


def sequential_chart(
    results: dict[str, SequentialResult], title: str = "Looking every day: always-valid p-value and effect"
) -> go.Figure:
    """Draw each arm's always-valid p-value by day (left) and its difference with the confidence sequence (right).

    Parameters
    ----------
    results
        :func:`galaxy_lib.uplift.analysis.monitor_campaign`.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=["always-valid p-value", "difference vs control"])
    for i, (arm, result) in enumerate(results.items()):
        looks, color = result.looks, _arm_color(i)
        fig.add_scatter(
            x=looks["look"], y=looks["p_value"], mode="lines+markers", name=arm, legendgroup=arm,
            line=dict(color=color), row=1, col=1,
        )  # fmt: skip
        fig.add_scatter(
            x=list(looks["look"]) + list(looks["look"])[::-1],
            y=list(looks["ci_high"]) + list(looks["ci_low"])[::-1],
            fill="toself", fillcolor=color, opacity=0.18, line=dict(width=0), name=f"{arm} confidence sequence",
            legendgroup=arm, showlegend=False, hoverinfo="skip", row=1, col=2,
        )  # fmt: skip
        fig.add_scatter(
            x=looks["look"], y=looks["diff"], mode="lines", line=dict(color=color), name=f"{arm} difference",
            legendgroup=arm, showlegend=False, row=1, col=2,
        )  # fmt: skip
    alpha = next(iter(results.values())).alpha if results else 0.05
    fig.add_hline(y=alpha, line_dash="dot", line_color="#616161", row=1, col=1)
    fig.add_hline(y=0, line_dash="dot", line_color="#616161", row=1, col=2)
    fig.update_yaxes(type="log", title_text="p-value (log scale)", row=1, col=1)
    fig.update_yaxes(title_text="difference in outcome", row=1, col=2)
    fig.update_xaxes(title_text="day the outcome was known")
    return _legend_below(apply_theme(fig, title, height=460))
