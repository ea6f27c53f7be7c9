"""Plotly figures for the creative workflow (drawing only; the numbers come from the other modules)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from galaxy_lib.core.plotting import apply_theme

__all__ = [
    "calibration_chart",
    "guardrail_chart",
    "importance_chart",
    "recommender_chart",
    "regret_chart",
    "spend_chart",
    "truth_chart",
    "variant_score_chart",
]

_STATUS = {"pass": "#2e7d32", "fail": "#c62828", "not checked": "#bdbdbd"}
_POLICY = {"thompson": "#6a1b9a", "even": "#9e9e9e", "oracle": "#212121"}
_PALETTE = ["#6a1b9a", "#1e88e5", "#00897b", "#f57c00", "#c62828", "#5d4037", "#3949ab", "#7cb342", "#8e24aa"]
_TARGET = {"ctr": "click-through rate", "cvr": "conversions per click"}


def _legend_below(fig: go.Figure, y: float = -0.2) -> go.Figure:
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=y, xanchor="left", x=0.0))
    return fig


def guardrail_chart(counts: dict[str, pd.DataFrame], title: str = "Brand guardrails: creatives per rule") -> go.Figure:
    """Draw pass / fail / not checked per rule, one panel per batch (existing creatives, generated variants).

    Parameters
    ----------
    counts
        Batch name -> :meth:`galaxy_lib.creative.guardrails.GuardrailResults.counts` (rules x statuses).
    """
    fig = make_subplots(rows=1, cols=len(counts), shared_yaxes=True, subplot_titles=list(counts))
    for col, table in enumerate(counts.values(), start=1):
        rules = list(table.index)[::-1]
        for status, color in _STATUS.items():
            values = table.reindex(rules)[status] if status in table.columns else [0] * len(rules)
            fig.add_bar(
                x=values,
                y=rules,
                orientation="h",
                name=status,
                marker_color=color,
                legendgroup=status,
                showlegend=col == 1,
                hovertemplate=f"%{{y}}: %{{x}} {status}<extra></extra>",
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="creatives", row=1, col=col)
    fig.update_layout(barmode="stack")
    return _legend_below(apply_theme(fig, title, height=460), y=-0.15)


def calibration_chart(
    calibration: pd.DataFrame, title: str = "Pre-flight model calibration (held-out creatives)"
) -> go.Figure:
    """Predicted against observed rate per bin and target, with the diagonal a calibrated model sits on.

    Parameters
    ----------
    calibration
        ``target, bin, predicted, observed, trials`` (:attr:`PreflightModel.calibration`).
    """
    targets = list(dict.fromkeys(calibration["target"]))
    fig = make_subplots(rows=1, cols=len(targets), subplot_titles=[_TARGET.get(t, t) for t in targets])
    for col, target in enumerate(targets, start=1):
        part = calibration[calibration["target"] == target]
        top = float(max(part["predicted"].max(), part["observed"].max())) * 1.05
        fig.add_scatter(
            x=[0, top],
            y=[0, top],
            mode="lines",
            line=dict(dash="dot", color="#9e9e9e"),
            showlegend=False,
            row=1,
            col=col,
        )
        size = 8 + 22 * part["trials"] / max(float(part["trials"].max()), 1.0)
        fig.add_scatter(
            x=part["predicted"],
            y=part["observed"],
            mode="markers+lines",
            marker=dict(size=size, color=_PALETTE[col - 1]),
            name=_TARGET.get(target, target),
            customdata=part["trials"],
            hovertemplate="predicted %{x:.3%}<br>observed %{y:.3%}<br>%{customdata:,.0f} trials<extra></extra>",
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="predicted", tickformat=".2%", row=1, col=col)
        fig.update_yaxes(title_text="observed", tickformat=".2%", row=1, col=col)
    return apply_theme(fig, title, height=420)


def importance_chart(importance: pd.DataFrame, top: int = 10, title: str = "What drives the prediction") -> go.Figure:
    """Permutation importance per target: how much worse held-out log loss gets when an input is shuffled.

    Parameters
    ----------
    importance
        ``target, feature, importance, importance_sd`` (:attr:`PreflightModel.importance`).
    """
    targets = list(dict.fromkeys(importance["target"]))
    fig = make_subplots(rows=1, cols=len(targets), subplot_titles=[_TARGET.get(t, t) for t in targets])
    for col, target in enumerate(targets, start=1):
        part = importance[importance["target"] == target].nlargest(top, "importance").iloc[::-1]
        fig.add_bar(
            x=part["importance"],
            y=part["feature"],
            orientation="h",
            error_x=dict(type="data", array=part.get("importance_sd")),
            marker_color=_PALETTE[col - 1],
            showlegend=False,
            hovertemplate="%{y}: %{x:.2e}<extra></extra>",
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="rise of held-out log loss", tickformat=".1e", row=1, col=col)
    return apply_theme(fig, title, height=460)


def truth_chart(scores: pd.DataFrame, title: str = "Held-out creatives: predicted against true CTR") -> go.Figure:
    """Predicted CTR with its interval against the true CTR of a Galaxy world, one colour per platform.

    Parameters
    ----------
    scores
        ``creative_id, platform, ctr, ctr_low, ctr_high, true_ctr``.
    """
    fig = go.Figure()
    for i, (platform, part) in enumerate(scores.groupby("platform")):
        fig.add_scatter(
            x=part["true_ctr"],
            y=part["ctr"],
            mode="markers",
            name=str(platform),
            marker=dict(size=10, color=_PALETTE[i % len(_PALETTE)]),
            error_y=dict(
                type="data",
                symmetric=False,
                array=part["ctr_high"] - part["ctr"],
                arrayminus=part["ctr"] - part["ctr_low"],
            ),
            text=part["creative_id"],
            hovertemplate="%{text}<br>true %{x:.3%}<br>predicted %{y:.3%}<extra></extra>",
        )
    top = float(max(scores["true_ctr"].max(), scores["ctr_high"].max())) * 1.05
    fig.add_scatter(x=[0, top], y=[0, top], mode="lines", line=dict(dash="dot", color="#9e9e9e"), showlegend=False)
    ticks = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1]
    fig.update_xaxes(title_text="true CTR", tickformat=".1%", type="log", tickvals=ticks)
    fig.update_yaxes(title_text="predicted CTR", tickformat=".1%", type="log", tickvals=ticks)
    return _legend_below(apply_theme(fig, title, height=460))


def variant_score_chart(
    scores: pd.DataFrame, top: int = 15, title: str = "Pre-flight CTR of the on-brand variants"
) -> go.Figure:
    """Draw the best-scored variants with their CTR interval, one colour per platform.

    Parameters
    ----------
    scores
        :func:`galaxy_lib.creative.analysis.score_variants` (best first).
    """
    part = scores.head(top).iloc[::-1]
    labels = (
        part["sku"] + " " + part["template_name"] + " " + part["width"].astype(str) + "x" + part["height"].astype(str)
    )
    platforms = list(dict.fromkeys(scores["platform"]))
    fig = go.Figure()
    for i, platform in enumerate(platforms):
        rows = part["platform"] == platform
        if not rows.any():
            continue
        sub = part[rows]
        fig.add_scatter(
            x=sub["ctr"],
            y=labels[rows],
            mode="markers",
            name=platform,
            marker=dict(size=10, color=_PALETTE[i % len(_PALETTE)]),
            error_x=dict(
                type="data", symmetric=False, array=sub["ctr_high"] - sub["ctr"], arrayminus=sub["ctr"] - sub["ctr_low"]
            ),
            customdata=sub["creative_id"],
            hovertemplate="%{customdata}<br>CTR %{x:.3%}<extra></extra>",
        )
    fig.update_xaxes(title_text="predicted CTR (interval)", tickformat=".2%")
    return _legend_below(apply_theme(fig, title, height=max(360, 26 * len(part) + 160)))


def recommender_chart(
    table: pd.DataFrame, title: str = "Recommendation on held-out days: LightFM against popularity"
) -> go.Figure:
    """Precision@k and AUC of LightFM and of the popularity baseline side by side.

    Parameters
    ----------
    table
        Index ``LightFM`` / ``popularity``, columns the metrics (``precision@5``, ``AUC``).
    """
    fig = make_subplots(rows=1, cols=len(table.columns), subplot_titles=list(table.columns))
    for col, metric in enumerate(table.columns, start=1):
        fig.add_bar(
            x=list(table.index),
            y=table[metric],
            marker_color=[_PALETTE[0], "#9e9e9e"][: len(table)],
            text=[f"{v:.3f}" for v in table[metric]],
            textposition="outside",
            showlegend=False,
            row=1,
            col=col,
        )
        fig.update_yaxes(range=[0, max(1.0, float(table[metric].max()) * 1.15)], row=1, col=col)
    return apply_theme(fig, title, height=380)


def regret_chart(
    regret: pd.DataFrame, title: str = "Cumulative regret against the oracle (expected conversions lost)"
) -> go.Figure:
    """Cumulative regret per day of Thompson sampling and of the even split.

    Parameters
    ----------
    regret
        ``policy, day, cumulative_regret`` (:attr:`PolicyComparison.regret`).
    """
    fig = go.Figure()
    for policy, part in regret.groupby("policy", sort=False):
        fig.add_scatter(
            x=part["day"],
            y=part["cumulative_regret"],
            mode="lines+markers",
            name={"thompson": "Thompson sampling", "even": "even split"}.get(str(policy), str(policy)),
            line=dict(color=_POLICY.get(str(policy), "#1e88e5"), width=3),
            hovertemplate="day %{x}: %{y:,.1f} conversions lost<extra></extra>",
        )
    fig.update_xaxes(title_text="day")
    fig.update_yaxes(title_text="conversions lost, cumulative", rangemode="tozero")
    return _legend_below(apply_theme(fig, title, height=420))


def spend_chart(
    daily: pd.DataFrame,
    killed: dict[str, int],
    title: str = "Thompson sampling: share of the day's budget per creative",
) -> go.Figure:
    """Stacked daily budget shares per arm; a killed arm's last funded day is marked.

    Parameters
    ----------
    daily
        ``day, arm_id, label, share`` of one policy (:attr:`AllocationRun.daily`).
    killed
        Arm id -> the day the kill switch stopped it.
    """
    fig = go.Figure()
    for i, (arm, part) in enumerate(daily.groupby("arm_id", sort=False)):
        name = f"{arm} (killed day {killed[arm]})" if arm in killed else str(arm)
        fig.add_scatter(
            x=part["day"],
            y=part["share"],
            stackgroup="spend",
            name=name,
            line=dict(width=0.5, color=_PALETTE[i % len(_PALETTE)]),
            customdata=part["label"],
            hovertemplate=f"{arm}<br>%{{customdata}}<br>day %{{x}}: %{{y:.1%}}<extra></extra>",
        )
    fig.update_xaxes(title_text="day")
    fig.update_yaxes(title_text="share of the day's impressions", tickformat=".0%", range=[0, 1])
    return _legend_below(apply_theme(fig, title, height=440))
