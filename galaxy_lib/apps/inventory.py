"""Dashboard widgets of the data-inventory workflow."""

from __future__ import annotations

import html

import ipywidgets as widgets
import pandas as pd

from galaxy_lib.core.plotting import STATUS_COLORS

__all__ = ["gate_explorer", "filter_gates"]

_ALL = "all"


def filter_gates(gates: pd.DataFrame, status: str = _ALL, gate: str = _ALL, table: str = _ALL) -> pd.DataFrame:
    """Rows of the gate table matching the chosen status, gate kind and table (``"all"`` = no filter)."""
    out = gates
    for column, value in (("status", status), ("gate", gate), ("table", table)):
        if value != _ALL:
            out = out[out[column] == value]
    return out


def _render(rows: pd.DataFrame) -> str:
    if rows.empty:
        return "<p class='galaxy-gates-count'><b>0 checks</b> match.</p>"
    body = "".join(
        f"<tr><td><span style='color:white;background:{STATUS_COLORS[r.status]};padding:1px 6px;border-radius:3px'>"
        f"{html.escape(r.status)}</span></td><td>{html.escape(r.gate)}</td><td>{html.escape(r.table)}</td>"
        f"<td>{html.escape(str(r.column))}</td><td>{html.escape(r.detail)}</td></tr>"
        for r in rows.itertuples()
    )
    return (
        f"<p class='galaxy-gates-count'><b>{len(rows)} checks</b> match.</p>"
        "<table class='galaxy-gates' style='border-collapse:collapse;font-size:13px'>"
        "<thead><tr><th>status</th><th>gate</th><th>table</th><th>column</th><th>detail</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def gate_explorer(gates: pd.DataFrame) -> widgets.VBox:
    """Filter the quality gates by status, kind and table.

    Parameters
    ----------
    gates
        The gate table (``analysis.gates_frame``): columns status, gate, table, column, detail.

    Returns
    -------
    ipywidgets.VBox
        Status buttons and two drop-downs above the matching checks.
    """
    status = widgets.ToggleButtons(options=[_ALL, "fail", "warn", "pass"], value=_ALL, description="Status")
    gate = widgets.Dropdown(options=[_ALL, *sorted(gates["gate"].unique())], value=_ALL, description="Gate")
    table = widgets.Dropdown(options=[_ALL, *sorted(gates["table"].unique())], value=_ALL, description="Table")
    out = widgets.HTML()

    def refresh(_change: object = None) -> None:
        out.value = _render(filter_gates(gates, status.value, gate.value, table.value))

    for w in (status, gate, table):
        w.observe(refresh, names="value")
    refresh()
    return widgets.VBox([status, widgets.HBox([gate, table]), out])
