"""Figures draw what the analysis computed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from galaxy_lib.mta import heuristic_attribution, markov_attribution, parse_path_table
from galaxy_lib.mta.analysis import calibrate, credit_table, top_paths
from galaxy_lib.mta.plots import (
    attributed_vs_incremental,
    credit_by_model,
    credit_vs_truth,
    journey_sankey,
    removal_effects,
)

PATHS = parse_path_table(
    pd.DataFrame(
        {
            "path": ["video > search", "social > search", "search", "a > b > c > d > e > search"],
            "total_conversions": [10, 6, 8, 1],
            "total_conversion_value": [100.0, 60.0, 80.0, 5.0],
            "total_null": [40, 30, 60, 3],
        }
    )
)


def test_credit_by_model_has_one_bar_trace_per_model() -> None:
    results = {"last_touch": heuristic_attribution(PATHS, "last_touch"), "markov_order_1": markov_attribution(PATHS)}
    shares = credit_table(results)
    fig = credit_by_model(shares)
    assert [t.name for t in fig.data] == ["last_touch", "markov_order_1"]
    np.testing.assert_allclose(fig.data[0].y, shares["last_touch"].to_numpy())


def test_removal_effects_sorted() -> None:
    fig = removal_effects(markov_attribution(PATHS, order=2))
    assert list(fig.data[0].x) == sorted(fig.data[0].x)
    assert "order 2" in fig.layout.title.text


def test_sankey_flows_conserve_journeys() -> None:
    top = top_paths(PATHS, n=10)
    fig = journey_sankey(top, max_steps=3)
    s = fig.data[0]
    labels = list(s.node.label)
    links = list(zip(s.link.target, s.link.value, strict=True))
    into_end = sum(v for t, v in links if labels[t] in ("converted", "no conversion"))
    assert into_end == top["journeys"].sum()
    conv = sum(v for t, v in links if labels[t] == "converted")
    assert conv == top["conversions"].sum()
    assert "..." in labels  # the six-touch path is shortened


def test_attributed_vs_incremental_and_truth() -> None:
    last = heuristic_attribution(PATHS, "last_touch")
    cal = calibrate(last, {"search": 1.0, "video": 1.0, "social": 2.0})
    fig = attributed_vs_incremental(cal)
    assert dict(zip(fig.data[1].x, fig.data[1].y, strict=True)) == {"search": 0.25, "social": 0.5, "video": 0.25}
    truth = {"search": 0.2, "video": 0.5, "social": 0.3}
    fig2 = credit_vs_truth(credit_table({"last_touch": last}), truth)
    marker = fig2.data[-1]
    assert marker.name == "true credit"
    assert dict(zip(marker.x, marker.y, strict=True))["video"] == 0.5
