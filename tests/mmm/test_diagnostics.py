"""The diagnostics gate: core.gates.Gate objects graded by core.gates, and thresholds checked warn before fail."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from galaxy_lib.core.gates import Gate, grade, worst_status
from galaxy_lib.mmm import GateThresholds, diagnose

GATES = ("mmm_max_rhat", "mmm_min_ess", "mmm_divergences", "mmm_ppc_coverage", "mmm_ppc_r2")


@pytest.fixture(scope="module")
def diagnostics(world_model):
    return diagnose(world_model)


def test_gate_passes_on_ci_world(diagnostics) -> None:
    diag = diagnostics
    assert diag.status in ("pass", "warn"), diag.reasons
    assert diag.max_rhat < 1.05 and diag.min_ess > 50 and diag.divergence_rate <= 0.01
    assert 0.85 <= diag.ppc_coverage <= 1.0 and diag.ppc_r2 > 0.8
    assert tuple(g.gate for g in diag.gates) == GATES


def test_gates_are_core_gates(diagnostics) -> None:
    """Each check is a Gate on table ``mmm`` whose value and thresholds are the diagnostics' own numbers."""
    t = GateThresholds()
    diag = diagnostics
    by_name = {g.gate: g for g in diag.gates}
    assert all(isinstance(g, Gate) and g.table == "mmm" and g.column is None for g in diag.gates)
    expected = {
        "mmm_max_rhat": (diag.max_rhat, t.rhat_warn, t.rhat_fail, True),
        "mmm_min_ess": (diag.min_ess, t.ess_warn, t.ess_fail, False),
        "mmm_divergences": (diag.divergence_rate, t.divergence_warn, t.divergence_fail, True),
        "mmm_ppc_coverage": (diag.ppc_coverage, t.coverage_warn, t.coverage_fail, False),
        "mmm_ppc_r2": (diag.ppc_r2, t.r2_warn, t.r2_fail, False),
    }
    for name, (value, warn, fail, higher_is_worse) in expected.items():
        g = by_name[name]
        assert (g.value, g.warn_at, g.fail_at) == (value, warn, fail), name
        assert g.status == grade(value, warn, fail, higher_is_worse), name
    assert diag.status == worst_status(diag.gates)
    metrics = diag.to_metrics()
    assert metrics["gate_status"] == diag.status and metrics["gate_reasons"] == list(diag.reasons)
    assert metrics["ppc_coverage_94"] == diag.ppc_coverage and metrics["divergences"] == diag.divergences


def test_gate_fails_with_reasons_when_limits_are_strict(world_model) -> None:
    """The same fit judged against impossible limits fails, and says which check and why."""
    strict = GateThresholds(rhat_warn=1.0000001, rhat_fail=1.000001, ess_warn=1e6, ess_fail=1e5)
    diag = diagnose(world_model, strict)
    assert diag.status == "fail" and not diag.passed
    assert any("mmm_min_ess" in r and "fail" in r for r in diag.reasons)
    ess = next(g for g in diag.gates if g.gate == "mmm_min_ess")
    assert f"mmm_min_ess = {ess.value:.4g} (fail: limit 100000.0); smallest bulk ESS at" in " ".join(diag.reasons)


def test_boundaries_are_strict(world_model, diagnostics) -> None:
    """A value equal to its warn threshold passes; just beyond it warns."""
    at = diagnose(world_model, GateThresholds(ess_warn=diagnostics.min_ess, ess_fail=1.0))
    beyond = diagnose(world_model, GateThresholds(ess_warn=diagnostics.min_ess + 1.0, ess_fail=1.0))
    assert {g.gate: g.status for g in at.gates}["mmm_min_ess"] == "pass"
    assert {g.gate: g.status for g in beyond.gates}["mmm_min_ess"] == "warn"
    assert beyond.passed and any(r.startswith("mmm_min_ess") and "(warn:" in r for r in beyond.reasons)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"rhat_warn": 1.06}, "rhat_warn (1.06) must not exceed rhat_fail (1.05)"),
        ({"divergence_warn": 0.02}, "divergence_warn (0.02) must not exceed divergence_fail (0.01)"),
        ({"ess_fail": 300.0}, "ess_fail (300.0) must not exceed ess_warn (200.0)"),
        ({"coverage_fail": 0.9}, "coverage_fail (0.9) must not exceed coverage_warn (0.85)"),
        ({"r2_fail": 0.6}, "r2_fail (0.6) must not exceed r2_warn (0.5)"),
    ],
    ids=["rhat", "divergence", "ess", "coverage", "r2"],
)
def test_thresholds_warn_before_fail(settings: dict, named: str) -> None:
    with pytest.raises(ValidationError, match=named.replace("(", r"\(").replace(")", r"\)")):
        GateThresholds(**settings)
