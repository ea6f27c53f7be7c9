"""One plotly look for every notebook, report and dashboard.

Workflow ``plots.py`` modules call :func:`apply_theme` (or start from
:data:`TEMPLATE`) so reports read as one product, and use :data:`STATUS_COLORS`
for pass / warn / fail everywhere.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

__all__ = ["CHANNEL_COLORS", "STATUS_COLORS", "TEMPLATE", "apply_theme", "channel_color"]

STATUS_COLORS: dict[str, str] = {
    "pass": "#2e7d32",
    "passed": "#2e7d32",
    "warn": "#f9a825",
    "fail": "#c62828",
    "failed": "#c62828",
}

#: Stable colours per channel so a channel looks the same in every chart.
CHANNEL_COLORS: dict[str, str] = {
    "tv": "#5e35b1",
    "search": "#1e88e5",
    "social": "#e53935",
    "display": "#fb8c00",
    "video": "#43a047",
    "email": "#00acc1",
    "direct": "#757575",
    "baseline": "#bdbdbd",
}
_FALLBACK = ["#6d4c41", "#8e24aa", "#3949ab", "#00897b", "#c0ca33", "#f4511e", "#546e7a"]

TEMPLATE = go.layout.Template(pio.templates["plotly_white"])
TEMPLATE.layout.update(
    font=dict(family="Inter, Helvetica, Arial, sans-serif", size=13, color="#263238"),
    title=dict(x=0.0, xanchor="left", font=dict(size=16)),
    margin=dict(l=60, r=30, t=60, b=50),
    legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0.0),
    colorway=list(CHANNEL_COLORS.values())[:7] + _FALLBACK,
)
pio.templates["galaxy"] = TEMPLATE


def channel_color(channel: str) -> str:
    """Colour of ``channel`` (a stable fallback colour for channels not in the palette)."""
    if channel in CHANNEL_COLORS:
        return CHANNEL_COLORS[channel]
    return _FALLBACK[sum(map(ord, channel)) % len(_FALLBACK)]


def apply_theme(fig: go.Figure, title: str | None = None, height: int | None = 420) -> go.Figure:
    """Apply the Galaxy template (and optionally a title and height) to ``fig`` and return it."""
    fig.update_layout(template=TEMPLATE)
    if title is not None:
        fig.update_layout(title_text=title)
    if height is not None:
        fig.update_layout(height=height)
    return fig
