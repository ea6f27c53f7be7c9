"""Publishing a data-inventory run: ``metrics.json`` (typed by ``InventoryMetrics``), its tables and figures.

The notebook's last cell calls :func:`publish` once with what the earlier cells
computed; the run's status is its worst gate (a failed gate fails the run).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from galaxy_lib.core.gates import Gate
from galaxy_lib.core.reporting import ReportWriter
from galaxy_lib.inventory.analysis import gates_frame
from galaxy_lib.schemas.inventory import InventoryMetrics

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["NOTEBOOK", "inventory_metrics", "publish"]

#: The notebook whose runs this module publishes.
NOTEBOOK = "01_data_inventory"


def inventory_metrics(
    profiles: pd.DataFrame,
    coverage: pd.DataFrame,
    pii_findings: pd.DataFrame,
    quarantine: pd.DataFrame,
    as_of: pd.Timestamp,
    unknown_channels: Sequence[str] = (),
) -> InventoryMetrics:
    """Build the ``metrics`` payload of a run from the tables the notebook computed.

    Parameters
    ----------
    profiles
        :func:`galaxy_lib.inventory.data.profile_store` (one row per zone and table).
    coverage
        :func:`galaxy_lib.inventory.analysis.consent_table` (one row per purpose).
    pii_findings
        :func:`galaxy_lib.inventory.pii.scan_store_tables`.
    quarantine
        :func:`galaxy_lib.inventory.analysis.quarantine_table`.
    as_of
        The reference time the data was judged at.
    unknown_channels
        Channels in the data that the channel mapping does not know.
    """
    return InventoryMetrics(
        tables=len(profiles),
        rows_raw=int(profiles.loc[profiles["zone"] == "raw", "rows"].sum()),
        rows_quarantined=int(quarantine["rows"].sum()),
        consent_share={str(p): float(s) for p, s in zip(coverage["purpose"], coverage["share"], strict=True)},
        pii_findings_outside_raw=int((~pii_findings["allowed"]).sum()),
        as_of=str(pd.Timestamp(as_of).date()),
        unknown_channels=list(unknown_channels),
    )


def publish(
    output_dir: str | Path,
    *,
    profiles: pd.DataFrame,
    gates: Iterable[Gate],
    coverage: pd.DataFrame,
    pii_findings: pd.DataFrame,
    quarantine: pd.DataFrame,
    as_of: pd.Timestamp,
    sizes_figure: go.Figure | None = None,
    gate_figure: go.Figure | None = None,
    consent_figure: go.Figure | None = None,
    unknown_channels: Sequence[str] = (),
) -> Path:
    """Write the run: every gate, the payload, the tables and the figures; return ``metrics.json``'s path.

    Parameters
    ----------
    output_dir
        Run folder; empty means ``reports/adhoc/01_data_inventory`` (the runner injects
        ``reports/<job>/<run_id>``).
    profiles, coverage, pii_findings, quarantine, as_of, unknown_channels
        As in :func:`inventory_metrics`; ``profiles``, ``coverage`` and ``quarantine`` are
        also written as ``inventory.csv``, ``consent.csv`` and ``quarantine.csv``.
    gates
        Every gate of the run, in the order they were measured; written to ``metrics.json``
        and, worst first, as ``gates.csv``. The worst one sets the run's status.
    sizes_figure, gate_figure, consent_figure
        :func:`~galaxy_lib.inventory.plots.table_sizes`, :func:`~galaxy_lib.inventory.plots.gate_overview`
        and :func:`~galaxy_lib.inventory.plots.consent_coverage`, written as ``table_sizes``,
        ``gate_overview`` and ``consent_coverage`` (``None`` skips one).

    Returns
    -------
    Path
        The run's ``metrics.json``.
    """
    gates = list(gates)
    payload = inventory_metrics(profiles, coverage, pii_findings, quarantine, as_of, unknown_channels)
    writer = ReportWriter(output_dir, notebook=NOTEBOOK)
    return writer.publish(
        payload,
        gates=gates,
        tables={"inventory": profiles, "gates": gates_frame(gates), "consent": coverage, "quarantine": quarantine},
        figures={"table_sizes": sizes_figure, "gate_overview": gate_figure, "consent_coverage": consent_figure},
    )
