"""Notebook parameters and inputs: a user's own path table and incremental estimates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from galaxy_lib.core.config import ConfigError, validate_params
from galaxy_lib.mta import MtaParams, fit_all_models, load_inputs
from galaxy_lib.mta.analysis import calibrate_if_available, compare_if_known, report_gates


def test_params_are_validated() -> None:
    p = validate_params(MtaParams, {"markov_order": 2, "calibration_model": "shapley"})
    assert p.calibrated_model_name == "shapley"
    assert MtaParams().calibrated_model_name == "markov_order_3"
    with pytest.raises(ConfigError, match="markov_order"):
        validate_params(MtaParams, {"markov_order": 4})
    with pytest.raises(ConfigError, match="unknown parameter"):
        validate_params(MtaParams, {"lookback": 30})
    with pytest.raises(ConfigError, match="calibration_model"):
        validate_params(MtaParams, {"calibration_model": "u_shaped"})


def test_own_path_table_with_incremental_file(tmp_path: Path) -> None:
    table = tmp_path / "paths.csv"
    table.write_text(
        "path;total_conversions;total_conversion_value;total_null\n"
        "search|video;3;30;10\nvideo;2;20;5\nsearch;4;40;20\n;1;1;1\nemail|search;-1;0;2\n"
    )
    inc = tmp_path / "mmm.json"
    inc.write_text(json.dumps({"search": 1.0, "video": 3.0}))
    params = MtaParams(paths_path=str(table), separator="|", incremental_path=str(inc), markov_order=1)
    inputs = load_inputs(params)
    assert inputs.journeys is None and inputs.truth is None
    assert inputs.paths.n_paths == 3
    assert sorted(inputs.quarantine()["_rule"]) == ["empty_path", "negative_conversions"]
    s = inputs.summary()
    assert s["source"] == "path table paths.csv" and s["quarantined_path_rows"] == 2
    results = fit_all_models(inputs.paths, markov_orders=(1,))
    cal = calibrate_if_available(results, params.calibrated_model_name, inputs.incremental)
    assert cal is not None and cal.shares()["video"] == pytest.approx(0.75)
    assert compare_if_known(cal.shares().to_frame(), inputs.truth) is None
    gates = report_gates(s, None, cal)
    assert [g["gate"] for g in gates] == ["mta_quarantined_conversions"]
    with pytest.raises(ValueError, match="was not fitted"):
        calibrate_if_available(results, "markov_order_3", inputs.incremental)
