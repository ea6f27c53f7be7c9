"""Figures of the data-inventory workflow (plotly only; nothing here computes a gate)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from galaxy_lib.core.plotting import STATUS_COLORS, apply_theme, channel_color
from galaxy_lib.governance.quality import robust_z

__all__ = [
    "consent_coverage",
    "gate_overview",
    "latency_histogram",
    "quarantine_reasons",
    "spend_outliers",
    "table_sizes",
]

_ZONE_COLORS = {"raw": "#90a4ae", "staged": "#1e88e5", "curated": "#43a047", "quarantine": "#c62828"}


def table_sizes(profiles: pd.DataFrame) -> go.Figure:
    """Rows per table, one bar per zone (log scale: event tables dwarf reference tables)."""
    fig = px.bar(
        profiles.sort_values("rows"),
        x="rows",
        y="table",
        color="zone",
        orientation="h",
        barmode="group",
        color_discrete_map=_ZONE_COLORS,
        log_x=True,
        hover_data=["columns", "megabytes", "schema_version", "contract"],
    )
    return apply_theme(fig, "Rows per table and zone", height=120 + 28 * profiles["table"].nunique())


def gate_overview(gates: pd.DataFrame) -> go.Figure:
    """How many checks of each kind passed, warned or failed."""
    counts = gates.groupby(["gate", "status"]).size().rename("checks").reset_index()
    fig = px.bar(
        counts,
        x="checks",
        y="gate",
        color="status",
        orientation="h",
        color_discrete_map=STATUS_COLORS,
        category_orders={"status": ["pass", "warn", "fail"]},
    )
    return apply_theme(fig, "Quality gates by kind and status", height=160 + 30 * counts["gate"].nunique())


def consent_coverage(coverage: pd.DataFrame, min_share: float) -> go.Figure:
    """Share of customers whose consent covers each purpose, against the warning line."""
    fig = px.bar(
        coverage,
        x="purpose",
        y="share",
        text=coverage["share"].map("{:.0%}".format),
        hover_data=["tcf_purposes", "consented", "customers"],
    )
    fig.add_hline(
        y=min_share, line_dash="dash", line_color=STATUS_COLORS["warn"], annotation_text=f"warn below {min_share:.0%}"
    )
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return apply_theme(fig, "Consent coverage by purpose")


def latency_histogram(hours: pd.Series, warn_at: float, fail_at: float) -> go.Figure:
    """Distribution of event-to-ingestion delay with the gate thresholds."""
    upper = max(float(hours.quantile(0.999)), 1.0) * 1.2
    fig = px.histogram(hours.clip(upper=upper), nbins=60)
    for at, status in ((warn_at, "warn"), (fail_at, "fail")):
        if at <= upper:
            fig.add_vline(x=at, line_dash="dash", line_color=STATUS_COLORS[status], annotation_text=status)
    fig.update_layout(
        showlegend=False,
        yaxis_title="events",
        xaxis_title=(
            f"hours from event to ingestion (clipped at {upper:.1f} h; warn at {warn_at:g} h, fail at {fail_at:g} h)"
        ),
    )
    return apply_theme(fig, f"Ingestion latency (p95 {hours.quantile(0.95):.1f} h)")


def spend_outliers(spend: pd.DataFrame, z_limit: float) -> go.Figure:
    """Weekly national spend per channel; on-air weeks beyond the robust z limit (of log spend) are marked."""
    weekly = spend.groupby(["week", "channel"], as_index=False)["spend"].sum()
    fig = go.Figure()
    for channel, g in weekly.groupby("channel"):
        fig.add_scatter(x=g["week"], y=g["spend"], mode="lines", name=channel, line_color=channel_color(channel))
        on_air = g[g["spend"] > 0]
        out = on_air[abs(robust_z(np.log(on_air["spend"]))) > z_limit]
        if len(out):
            fig.add_scatter(
                x=out["week"],
                y=out["spend"],
                mode="markers",
                name=f"{channel} outlier",
                marker=dict(color=STATUS_COLORS["fail"], size=10, symbol="x"),
                showlegend=False,
            )
    fig.update_layout(yaxis_title="spend per week", xaxis_title="")
    return apply_theme(fig, "Weekly spend per channel (x = robust outlier)")


def quarantine_reasons(quarantine: pd.DataFrame) -> go.Figure:
    """Quarantined rows per table and rule."""
    if quarantine.empty:
        fig = go.Figure()
        fig.add_annotation(text="Nothing in quarantine", showarrow=False, font_size=16)
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return apply_theme(fig, "Quarantine", height=240)
    fig = px.bar(quarantine, x="rows", y="table", color="rule", orientation="h", hover_data=["example_reason"])
    return apply_theme(fig, "Quarantined rows by table and rule", height=160 + 30 * quarantine["table"].nunique())
