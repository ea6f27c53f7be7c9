"""Dashboard widgets of the data-inventory workflow."""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd

from galaxy_lib.core.plotting import STATUS_COLORS
from galaxy_lib.core.templating import render_template

__all__ = ["filter_gates", "gate_explorer"]

_ALL = "all"


def filter_gates(gates: pd.DataFrame, status: str = _ALL, gate: str = _ALL, table: str = _ALL) -> pd.DataFrame:
    """Rows of the gate table matching the chosen status, gate kind and table (``"all"`` = no filter)."""
    out = gates
    for column, value in (("status", status), ("gate", gate), ("table", table)):
        if value != _ALL:
            out = out[out[column] == value]
    return out


def _render(rows: pd.DataFrame) -> str:
    """Render the matching gates as an HTML table (``apps/templates/gate_table.html.j2``) under their count."""
    view = [
        {
            "status": r.status,
            "color": STATUS_COLORS[r.status],
            "gate": r.gate,
            "table": r.table,
            "column": r.column,
            "detail": r.detail,
        }
        for r in rows.itertuples()
    ]
    return render_template("galaxy_lib.apps", "gate_table.html.j2", rows=view)


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
