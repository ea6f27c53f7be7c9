"""Plotly figures of the MMM results (drawing only; the numbers come from analysis.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from galaxy_lib.core.plotting import apply_theme, channel_color

__all__ = [
    "budget_chart",
    "decomposition_chart",
    "forecast_chart",
    "ppc_chart",
    "prior_posterior_chart",
    "response_curves_chart",
    "roi_chart",
    "share_chart",
    "spend_chart",
]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _add_band(fig: go.Figure, x: pd.Series, low: pd.Series, high: pd.Series, color: str, **trace: object) -> None:
    """Draw a filled interval from ``low`` to ``high`` over ``x`` (no hover, no legend entry unless named)."""
    fig.add_scatter(
        x=list(x) + list(x[::-1]),
        y=list(high) + list(low[::-1]),
        fill="toself",
        fillcolor=_rgba(color, 0.15),
        line=dict(width=0),
        hoverinfo="skip",
        showlegend=False,
        **trace,
    )


def spend_chart(frame: pd.DataFrame, channels: tuple[str, ...] | list[str], target_name: str = "KPI") -> go.Figure:
    """Spend per channel (stacked bars) and the KPI (line, right axis) per period, summed over geos."""
    nat = frame.groupby("date")[[*channels, "kpi"]].sum().reset_index()
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for ch in channels:
        fig.add_bar(x=nat["date"], y=nat[ch], name=ch, marker_color=channel_color(ch), secondary_y=False)
    fig.add_scatter(
        x=nat["date"],
        y=nat["kpi"],
        name=target_name,
        mode="lines",
        line=dict(color="#263238", width=2),
        secondary_y=True,
    )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="spend", secondary_y=False)
    fig.update_yaxes(title_text=target_name, secondary_y=True)
    return apply_theme(fig, "Spend per channel and KPI")


def roi_chart(summary: pd.DataFrame, true_roi: dict[str, float] | None = None) -> go.Figure:
    """ROI and marginal ROI per channel with 94% HDIs (true ROI as diamonds when known)."""
    s = summary.sort_values("roi_mean", ascending=False)
    chans = list(s.index)
    fig = go.Figure()
    fig.add_bar(
        x=chans,
        y=s["roi_mean"],
        name="ROI",
        marker_color=[channel_color(c) for c in chans],
        error_y=dict(
            type="data",
            symmetric=False,
            array=s["roi_hdi_high"] - s["roi_mean"],
            arrayminus=s["roi_mean"] - s["roi_hdi_low"],
        ),
    )
    if "mroi_mean" in s:
        fig.add_scatter(
            x=chans,
            y=s["mroi_mean"],
            name="marginal ROI",
            mode="markers",
            marker=dict(symbol="circle-open", size=12, color="#263238"),
            error_y=dict(
                type="data",
                symmetric=False,
                array=s["mroi_hdi_high"] - s["mroi_mean"],
                arrayminus=s["mroi_mean"] - s["mroi_hdi_low"],
                color="#78909c",
            ),
        )
    if true_roi:
        fig.add_scatter(
            x=chans,
            y=[true_roi.get(c) for c in chans],
            name="true ROI",
            mode="markers",
            marker=dict(symbol="diamond", size=11, color="#c62828"),
        )
    fig.add_hline(y=1.0, line_dash="dot", line_color="#9e9e9e")
    fig.update_yaxes(title_text="KPI per unit of spend")
    return apply_theme(fig, "ROI and marginal ROI per channel (94% HDI)")


def share_chart(summary: pd.DataFrame) -> go.Figure:
    """Share of the media-driven KPI per channel, with 94% HDI."""
    s = summary.sort_values("share_of_media", ascending=True)
    fig = go.Figure(
        go.Bar(
            y=list(s.index),
            x=s["share_of_media"],
            orientation="h",
            marker_color=[channel_color(c) for c in s.index],
            error_x=dict(
                type="data",
                symmetric=False,
                array=s["share_of_media_hdi_high"] - s["share_of_media"],
                arrayminus=s["share_of_media"] - s["share_of_media_hdi_low"],
            ),
            text=[f"{v:.0%}" for v in s["share_of_media"]],
            textposition="auto",
        )
    )
    fig.update_xaxes(title_text="share of media contribution", tickformat=".0%")
    return apply_theme(fig, "Contribution share per channel")


def decomposition_chart(decomp: pd.DataFrame) -> go.Figure:
    """Stacked contributions over time (baseline, controls, trend, seasonality, channels) and the observed KPI."""
    fig = go.Figure()
    order = ["baseline", "trend", "seasonality", "control", "media"]
    comps = decomp[decomp["kind"] != "observed"]
    for kind in order:
        for comp in comps.loc[comps["kind"] == kind, "component"].unique():
            part = comps[comps["component"] == comp]
            color = channel_color(comp) if kind == "media" else None
            if kind == "baseline":
                color = "#bdbdbd"
            fig.add_scatter(
                x=part["date"],
                y=part["contribution"],
                name=comp,
                stackgroup="one",
                mode="lines",
                line=dict(width=0.5, color=color),
            )
    obs = decomp[decomp["kind"] == "observed"]
    fig.add_scatter(
        x=obs["date"],
        y=obs["contribution"],
        name="observed",
        mode="lines",
        line=dict(color="#263238", width=1.5, dash="dot"),
    )
    fig.update_yaxes(title_text="KPI")
    return apply_theme(fig, "Where the KPI came from: contributions over time", height=480)


def response_curves_chart(curves: pd.DataFrame) -> go.Figure:
    """Response curve per channel with its 94% band and the current spend per period marked."""
    fig = go.Figure()
    for ch, part in curves.groupby("channel", sort=False):
        color = channel_color(str(ch))
        _add_band(fig, part["spend"], part["hdi_low"], part["hdi_high"], color, legendgroup=str(ch))
        fig.add_scatter(
            x=part["spend"], y=part["mean"], name=str(ch), mode="lines", line=dict(color=color), legendgroup=str(ch)
        )
        cur = float(part["current_spend"].iloc[0])
        y_cur = float(np.interp(cur, part["spend"], part["mean"]))
        fig.add_scatter(
            x=[cur],
            y=[y_cur],
            mode="markers",
            marker=dict(color=color, size=10, symbol="x"),
            name=f"{ch} current",
            showlegend=False,
            legendgroup=str(ch),
        )
    fig.update_xaxes(title_text="spend per period")
    fig.update_yaxes(title_text="KPI per period (steady state)")
    return apply_theme(fig, "Response curves (x = current spend per period)")


def prior_posterior_chart(shift: pd.DataFrame) -> go.Figure:
    """Prior and posterior ROI intervals per channel, side by side."""
    chans = list(shift.index)
    fig = go.Figure()
    for which, color in (("prior", "#9e9e9e"), ("posterior", "#1e88e5")):
        mean, low, high = shift[f"{which}_mean"], shift[f"{which}_hdi_low"], shift[f"{which}_hdi_high"]
        fig.add_scatter(
            x=chans,
            y=mean,
            mode="markers",
            name=which,
            marker=dict(color=color, size=10),
            error_y=dict(type="data", symmetric=False, array=high - mean, arrayminus=mean - low),
        )
    fig.update_yaxes(title_text="ROI", type="log")
    return apply_theme(fig, "Prior vs posterior ROI (94% HDI, log scale)")


def budget_chart(allocation: pd.DataFrame) -> go.Figure:
    """Draw current vs recommended spend per channel over the horizon, with floors and caps."""
    chans = list(allocation.index)
    fig = go.Figure()
    fig.add_bar(x=chans, y=allocation["current_total"], name="current split", marker_color="#b0bec5")
    fig.add_bar(
        x=chans,
        y=allocation["optimal_total"],
        name="recommended",
        marker_color=[channel_color(c) for c in chans],
        text=[f"{v:+.0f}%" for v in allocation["change_pct"]],
        textposition="outside",
    )
    horizon = allocation["current_total"] / allocation["current_per_period"]
    fig.add_scatter(
        x=chans,
        y=allocation["cap_per_period"] * horizon,
        mode="markers",
        name="cap",
        marker=dict(symbol="line-ew-open", size=22, color="#c62828"),
    )
    fig.add_scatter(
        x=chans,
        y=allocation["floor_per_period"] * horizon,
        mode="markers",
        name="floor",
        marker=dict(symbol="line-ew-open", size=22, color="#2e7d32"),
    )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="spend over the horizon")
    return apply_theme(fig, "Budget: current split vs recommended")


def forecast_chart(history: pd.DataFrame, forecasts: dict[str, pd.DataFrame], target_name: str = "KPI") -> go.Figure:
    """Observed KPI and forecasts of one or more spend plans with 94% bands.

    Parameters
    ----------
    history
        ``date, kpi`` (national totals).
    forecasts
        Plan name -> output of :func:`galaxy_lib.mmm.analysis.forecast`.
    """
    fig = go.Figure()
    fig.add_scatter(x=history["date"], y=history["kpi"], name="observed", mode="lines", line=dict(color="#263238"))
    palette = ["#1e88e5", "#e53935", "#43a047", "#fb8c00"]
    for i, (name, fc) in enumerate(forecasts.items()):
        color = palette[i % len(palette)]
        _add_band(fig, fc["date"], fc["kpi_hdi_low"], fc["kpi_hdi_high"], color)
        fig.add_scatter(x=fc["date"], y=fc["kpi_mean"], name=name, mode="lines", line=dict(color=color))
    fig.update_yaxes(title_text=target_name)
    return apply_theme(fig, f"Forecast of {target_name} for planned spend (94% interval)")


def ppc_chart(ppc: pd.DataFrame) -> go.Figure:
    """Posterior predictive check: observed KPI against the model's 94% predictive band."""
    fig = go.Figure()
    fig.add_scatter(
        x=list(ppc["date"]) + list(ppc["date"][::-1]),
        y=list(ppc["hdi_high"]) + list(ppc["hdi_low"][::-1]),
        fill="toself",
        fillcolor="rgba(30,136,229,0.18)",
        line=dict(width=0),
        name="94% predictive interval",
    )
    fig.add_scatter(x=ppc["date"], y=ppc["mean"], name="predicted (mean)", mode="lines", line=dict(color="#1e88e5"))
    fig.add_scatter(
        x=ppc["date"], y=ppc["observed"], name="observed", mode="markers", marker=dict(color="#263238", size=4)
    )
    fig.update_yaxes(title_text="KPI")
    return apply_theme(fig, "Posterior predictive check")
