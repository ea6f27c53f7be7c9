"""Gates: strict grading, unmeasurable values, the run status of a set of gates, threshold order, round trips."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.core.gates import (
    GATE_STATUSES,
    RUN_STATUSES,
    Gate,
    check_threshold_order,
    grade,
    measure,
    run_status,
    worst_status,
)


# -- grade -----------------------------------------------------------------------------
def test_grade_is_strict_when_higher_is_worse():
    values = (0.0, 0.05, 0.0500001, 0.2, 0.2000001, 5.0)
    assert [grade(v, 0.05, 0.2) for v in values] == ["pass", "pass", "warn", "warn", "fail", "fail"]


def test_grade_is_strict_when_lower_is_worse():
    assert [grade(v, 2, 1, higher_is_worse=False) for v in (0, 0.999, 1, 1.5, 2, 3)] == [
        "fail",
        "fail",
        "warn",
        "warn",
        "pass",
        "pass",
    ]


@pytest.mark.parametrize("value", [None, float("nan"), np.nan, np.float32("nan"), pd.NA, "n/a"])
def test_a_value_that_could_not_be_measured_fails(value):
    assert grade(value, 1.0, 2.0) == "fail"
    assert grade(value, None, None) == "fail"
    assert grade(value, 2.0, 1.0, higher_is_worse=False) == "fail"


def test_numpy_numbers_grade_like_floats():
    assert grade(np.int64(3), 1, 2) == "fail" and grade(np.float32(1.5), 1, 2) == "warn"
    assert grade(np.inf, 1, 2) == "fail" and grade(-np.inf, 2, 1, higher_is_worse=False) == "fail"


def test_none_thresholds_mean_no_such_level():
    assert [grade(v, None, 2.0) for v in (1.0, 2.0, 3.0)] == ["pass", "pass", "fail"]  # a gate that only fails
    assert [grade(v, 1.0, None) for v in (1.0, 3.0, 1e9)] == ["pass", "warn", "warn"]  # a gate that only warns
    assert grade(1e9, None, None) == "pass"


# -- measure and Gate ------------------------------------------------------------------
def test_measure_grades_and_keeps_what_was_measured():
    g = measure("null_rate", 0.3, 0.05, 0.2, "30% null", table="touchpoints", column="creative_id")
    assert g == Gate("null_rate", "touchpoints", "creative_id", 0.3, "fail", 0.05, 0.2, "30% null")
    assert g.limit == 0.2
    low = measure("ess_bulk", 150.0, 400.0, 100.0, "ESS 150", higher_is_worse=False)
    assert (low.status, low.limit, low.table, low.column) == ("warn", 400.0, None, None)
    assert measure("x", 0.0, 1.0, 2.0, "").limit == 1.0  # a pass reports the warn level


def test_gate_is_frozen():
    g = measure("x", 0.0, 1.0, 2.0, "ok")
    with pytest.raises(AttributeError):
        g.status = "fail"  # type: ignore[misc]


@pytest.mark.parametrize("status", ["passed", "ok", "", None, "FAIL"])
def test_invalid_status_is_refused_with_the_allowed_ones(status):
    with pytest.raises(ValueError, match=r"status must be one of \('pass', 'warn', 'fail'\)"):
        Gate("g", None, None, 0.0, status, None, None, "")  # type: ignore[arg-type]


def test_a_gate_needs_a_name():
    with pytest.raises(ValueError, match="non-empty name"):
        Gate("", None, None, 0.0, "pass", None, None, "")


def test_to_dict_is_strict_json_and_from_dict_round_trips():
    g = Gate("mmm_max_rhat", None, None, float("nan"), "fail", 1.01, float("nan"), "R-hat could not be computed")
    d = g.to_dict()
    assert d == {
        "gate": "mmm_max_rhat",
        "table": None,
        "column": None,
        "value": None,
        "status": "fail",
        "warn_at": 1.01,
        "fail_at": None,
        "detail": "R-hat could not be computed",
    }
    json.dumps(d, allow_nan=False)
    back = Gate.from_dict(json.loads(json.dumps(d)))
    assert back == Gate("mmm_max_rhat", None, None, None, "fail", 1.01, None, "R-hat could not be computed")
    g2 = measure("freshness", np.float64(3.5), 7, 14, "3.5 days", table="spend", column="week")
    assert Gate.from_dict(g2.to_dict()) == g2
    assert type(g2.to_dict()["value"]) is float


def test_from_dict_refuses_a_bad_status():
    with pytest.raises(ValueError, match="status"):
        Gate.from_dict({"gate": "g", "status": "passed"})


# -- worst_status and run_status -------------------------------------------------------
@pytest.mark.parametrize(
    ("statuses", "worst", "run"),
    [
        ([], "pass", "passed"),
        (["pass"], "pass", "passed"),
        (["pass", "warn"], "warn", "warn"),
        (["warn", "fail", "pass"], "fail", "failed"),
        (["fail", "fail"], "fail", "failed"),
    ],
)
def test_worst_status_and_run_status(statuses, worst, run):
    gates = [Gate(f"g{i}", None, None, 0.0, s, None, None, "") for i, s in enumerate(statuses)]
    assert worst_status(gates) == worst
    assert run_status(gates) == run
    assert run_status(g.to_dict() for g in gates) == run  # as read back from metrics.json


def test_run_status_maps_gate_statuses_in_order():
    assert dict(zip(GATE_STATUSES, RUN_STATUSES, strict=True)) == {"pass": "passed", "warn": "warn", "fail": "failed"}


def test_an_unknown_status_in_a_dict_is_refused():
    with pytest.raises(ValueError, match="Unknown gate status 'ok'"):
        worst_status([{"gate": "g", "status": "ok"}])


# -- check_threshold_order -------------------------------------------------------------
def test_threshold_order_passes_equal_and_ordered_pairs():
    check_threshold_order(
        {"rate_warn": 0.1, "rate_fail": 0.1, "ess_warn": 400, "ess_fail": 100},
        higher_is_worse=("rate",),
        lower_is_worse=("ess",),
    )


def test_threshold_order_names_every_wrong_pair():
    values = {"rate_warn": 0.5, "rate_fail": 0.1, "age_warn": 1, "age_fail": 2, "ess_warn": 100, "ess_fail": 400}
    with pytest.raises(ValueError) as err:
        check_threshold_order(values, higher_is_worse=("rate", "age"), lower_is_worse=("ess",))
    assert str(err.value) == (
        "rate_warn (0.5) must not exceed rate_fail (0.1); "
        "ess_fail (400) must not exceed ess_warn (100): below warn it warns, below fail it fails."
    )


def test_threshold_order_needs_both_fields():
    with pytest.raises(KeyError, match="rate_fail"):
        check_threshold_order({"rate_warn": 0.1}, higher_is_worse=("rate",))
