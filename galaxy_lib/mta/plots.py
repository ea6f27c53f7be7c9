"""Plotly figures for multi-touch attribution (drawing only; the numbers come from analysis.py)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Protocol

import pandas as pd
import plotly.graph_objects as go

from galaxy_lib.core.plotting import apply_theme, channel_color
from galaxy_lib.mta.analysis import CalibrationResult

__all__ = [
    "RemovalEffects",
    "attributed_vs_incremental",
    "credit_by_model",
    "credit_vs_truth",
    "journey_sankey",
    "removal_effects",
]


class RemovalEffects(Protocol):
    """What :func:`removal_effects` draws: a fitted Markov result (:class:`~galaxy_lib.mta.models.MarkovResult`)."""

    order: int
    removal_effects: pd.DataFrame


_MODEL_COLORS = [
    "#90a4ae",
    "#546e7a",
    "#8d6e63",
    "#26a69a",
    "#7e57c2",
    "#ffa726",
    "#1e88e5",
    "#1565c0",
    "#0d47a1",
    "#e53935",
    "#2e7d32",
    "#ad1457",
]


def credit_by_model(shares: pd.DataFrame, title: str = "Share of conversions credited, by model") -> go.Figure:
    """Draw grouped bars: one group per channel, one bar per model.

    Parameters
    ----------
    shares
        Channels x models (:func:`galaxy_lib.mta.analysis.credit_table`).
    """
    fig = go.Figure()
    for i, model in enumerate(shares.columns):
        fig.add_bar(
            name=str(model),
            x=list(shares.index),
            y=shares[model].to_numpy(),
            marker_color=_MODEL_COLORS[i % len(_MODEL_COLORS)],
            hovertemplate="%{x}: %{y:.1%}<extra>" + str(model) + "</extra>",
        )
    fig.update_layout(barmode="group", yaxis_tickformat=".0%", xaxis_title="channel", yaxis_title="share of credit")
    fig = apply_theme(fig, title)
    fig.update_layout(margin_t=110)  # a legend of ten or more models wraps onto two rows above the plot
    return fig


def removal_effects(result: RemovalEffects) -> go.Figure:
    """Horizontal bars of the Markov removal effects (share of conversions lost without the channel).

    Parameters
    ----------
    result
        A Markov result: its ``removal_effects`` table (``removal_effect_conversion`` per
        channel) and its ``order``.
    """
    re = result.removal_effects["removal_effect_conversion"].sort_values()
    fig = go.Figure(
        go.Bar(
            x=re.to_numpy(),
            y=list(re.index),
            orientation="h",
            marker_color=[channel_color(c) for c in re.index],
            hovertemplate="%{y}: %{x:.1%} of conversions lost<extra></extra>",
        )
    )
    fig.update_layout(xaxis_tickformat=".0%", xaxis_title="conversion probability lost when removed")
    return apply_theme(fig, f"Markov removal effects (order {result.order})", height=360)


def journey_sankey(top: pd.DataFrame, separator: str = " > ", max_steps: int = 4) -> go.Figure:
    """Sankey of the most travelled journeys: touch 1 -> touch 2 -> ... -> converted / not.

    Parameters
    ----------
    top
        ``path``, ``journeys``, ``conversions`` (:func:`galaxy_lib.mta.analysis.top_paths`).
    separator
        Separator of the ``path`` strings.
    max_steps
        Touches shown per journey; longer journeys show their last ``max_steps`` touches
        after a "..." node.
    """
    labels: list[str] = []
    colors: list[str] = []
    index: dict[tuple[int, str], int] = {}

    def node(step: int, label: str, color: str) -> int:
        key = (step, label)
        if key not in index:
            index[key] = len(labels)
            labels.append(label)
            colors.append(color)
        return index[key]

    links: dict[tuple[int, int], float] = {}

    def add(a: int, b: int, value: float) -> None:
        if value > 0:
            links[(a, b)] = links.get((a, b), 0.0) + value

    for path, journeys, conversions in top[["path", "journeys", "conversions"]].itertuples(index=False):
        touches = [t.strip() for t in str(path).split(separator.strip() or " ") if t.strip()]
        if len(touches) > max_steps:
            touches = ["...", *touches[-(max_steps - 1) :]]
        ids = [node(i, t, channel_color(t) if t != "..." else "#cfd8dc") for i, t in enumerate(touches)]
        for a, b in itertools.pairwise(ids):
            add(a, b, float(journeys))
        add(ids[-1], node(max_steps, "converted", "#2e7d32"), float(conversions))
        add(ids[-1], node(max_steps, "no conversion", "#b0bec5"), float(journeys) - float(conversions))
    src, dst, val = zip(*((a, b, v) for (a, b), v in links.items()), strict=True) if links else ((), (), ())
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node=dict(label=labels, color=colors, pad=14, thickness=14),
            link=dict(source=list(src), target=list(dst), value=list(val), color="rgba(120,144,156,0.25)"),
        )
    )
    return apply_theme(fig, f"Top {len(top)} journeys: touches in order, then the outcome", height=480)


def _note(title: str, text: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font=dict(size=14))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return apply_theme(fig, title, height=240)


def attributed_vs_incremental(calibration: CalibrationResult | None) -> go.Figure:
    """Per calibrated channel: the model's share and the incremental (experiment / MMM) share."""
    title = "Attributed vs incremental share of the channels with an experiment or MMM estimate"
    if calibration is None:
        return _note(title, "No incremental estimates (lift tests or incremental_path): nothing to calibrate to.")
    t = calibration.table
    cal = t[t["calibrated"]]
    att_share_k = cal["attributed_conversions"] / cal["attributed_conversions"].sum()
    fig = go.Figure()
    fig.add_bar(
        name=f"{calibration.model} (attributed)",
        x=list(cal.index),
        y=att_share_k.to_numpy(),
        marker_color="#90a4ae",
        hovertemplate="%{x}: %{y:.1%}<extra>attributed</extra>",
    )
    fig.add_bar(
        name=f"incremental ({calibration.source})",
        x=list(cal.index),
        y=cal["incremental_share"].to_numpy(),
        marker_color="#1e88e5",
        hovertemplate="%{x}: %{y:.1%}<extra>incremental</extra>",
    )
    fig.update_layout(
        barmode="group",
        yaxis_tickformat=".0%",
        yaxis_title="share among the calibrated channels",
        xaxis_title="channel",
    )
    return apply_theme(fig, title)


def credit_vs_truth(
    shares: pd.DataFrame, truth: pd.Series | dict | None, models: Sequence[str] | None = None
) -> go.Figure:
    """Bars of selected models' shares with the true share as a black marker per channel."""
    if truth is None:
        return _note("Credit vs the true channel credit", "The true channel credit is known only in a Galaxy world.")
    t = pd.Series(truth, dtype=float)
    cols = list(models) if models is not None else list(shares.columns)
    channels = list(t.index.union(shares.index))
    fig = go.Figure()
    for i, m in enumerate(cols):
        fig.add_bar(
            name=m,
            x=channels,
            y=shares[m].reindex(channels).fillna(0.0).to_numpy(),
            marker_color=_MODEL_COLORS[(i * 3 + 1) % len(_MODEL_COLORS)],
            hovertemplate="%{x}: %{y:.1%}<extra>" + m + "</extra>",
        )
    fig.add_scatter(
        name="true credit",
        x=channels,
        y=t.reindex(channels).fillna(0.0).to_numpy(),
        mode="markers",
        marker=dict(symbol="line-ew-open", size=38, line=dict(width=3, color="#000000")),
        hovertemplate="%{x}: true %{y:.1%}<extra></extra>",
    )
    fig.update_layout(
        barmode="group",
        yaxis_tickformat=".0%",
        yaxis_title="share of marketing-caused conversions",
        xaxis_title="channel",
    )
    return apply_theme(fig, "Credit vs the world's true channel credit")
