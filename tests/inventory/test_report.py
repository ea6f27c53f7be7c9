"""``inventory.publish`` writes one run: the typed payload, every gate, the tables and the figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from galaxy_lib import inventory
from galaxy_lib.core.metrics import read_metrics
from galaxy_lib.core.store import DataStore
from galaxy_lib.inventory import analysis, plots
from galaxy_lib.inventory.report import NOTEBOOK
from galaxy_lib.schemas.inventory import InventoryMetrics

from .conftest import AS_OF


def _publish(store: DataStore, output_dir: Path, **figures) -> tuple[Path, list]:
    params = inventory.InventoryParams(data_dir=str(store.root))
    profiles = inventory.profile_store(store)
    coverage = analysis.consent_table(store, AS_OF)
    pii = inventory.scan_store_tables(store)
    quarantine = analysis.quarantine_table(store)
    gates = (
        analysis.row_level_gates(store, params)
        + analysis.duplicate_gates(store, params)
        + analysis.freshness_gates(profiles, params, AS_OF)
        + analysis.consent_gates(coverage, params)
        + analysis.pii_gates(pii)
        + analysis.quarantine_gates(quarantine, store, params)
    )
    path = inventory.publish(
        output_dir,
        profiles=profiles,
        gates=gates,
        coverage=coverage,
        pii_findings=pii,
        quarantine=quarantine,
        as_of=AS_OF,
        **figures,
    )
    return path, gates


def test_publish_writes_the_typed_payload_gates_and_tables(dirty_store: DataStore, tmp_path: Path) -> None:
    path, gates = _publish(dirty_store, tmp_path / "run")
    assert path == tmp_path / "run" / "metrics.json"
    run = read_metrics(path, InventoryMetrics)
    assert run.notebook == NOTEBOOK == "01_data_inventory"
    assert run.status == "failed"  # the planted problems fail their gates
    assert run.metrics.model_dump() == {
        "tables": 7,
        "rows_raw": 205 + 60,
        "rows_quarantined": 4,
        "consent_share": {
            "measurement": pytest.approx(0.3),
            "personalisation": 0.0,
            "advertising": 0.0,
            "content": 0.0,
        },
        "pii_findings_outside_raw": 1,
        "as_of": "2025-09-01",
        "unknown_channels": [],
    }
    assert [g.to_dict() for g in run.gates] == [g.to_dict() for g in gates], "every gate, in the order measured"
    assert [t.name for t in run.tables] == ["inventory", "gates", "consent", "quarantine"]
    assert {t.name: t.rows for t in run.tables}["gates"] == len(gates)
    assert run.figures == []
    assert "pii_leak on staged.customers.note" in run.status_reason

    raw = json.loads(path.read_text())["metrics"]
    assert sorted(raw) == [
        "as_of",
        "consent_share",
        "pii_findings_outside_raw",
        "rows_quarantined",
        "rows_raw",
        "tables",
        "unknown_channels",
    ]


def test_publish_writes_the_figures_it_is_given(dirty_store: DataStore, tmp_path: Path) -> None:
    profiles = inventory.profile_store(dirty_store)
    gate_figure = plots.gate_overview(
        analysis.gates_frame(analysis.duplicate_gates(dirty_store, inventory.InventoryParams()))
    )
    path, _ = _publish(dirty_store, tmp_path / "run", sizes_figure=plots.table_sizes(profiles), gate_figure=gate_figure)
    run = read_metrics(path, InventoryMetrics)
    assert [(f.name, f.title) for f in run.figures] == [
        ("table_sizes", "Rows per table and zone"),
        ("gate_overview", "Quality gates by kind and status"),
    ]
    assert (tmp_path / "run" / "gate_overview.html").is_file() and not (
        tmp_path / "run" / "consent_coverage.html"
    ).exists()
