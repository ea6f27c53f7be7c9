"""Shapley values: exact values against brute-force enumeration of every channel order, and the
Monte-Carlo estimate against the exact values within its standard error."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.mta import PathTableError, heuristic_attribution, shapley_attribution

from .reference import ROWS, table


def brute_force_shapley(rows, baseline: float = 0.0) -> dict[str, float]:
    """Average marginal contribution over every channel order, from the game's definition."""
    groups: dict[frozenset, list[float]] = {}
    for path, conv, _value, null in rows:
        key = frozenset(t.strip() for t in path.split(">"))
        g = groups.setdefault(key, [0.0, 0.0])
        g[0] += conv
        g[1] += conv + null
    rate = {k: c / n for k, (c, n) in groups.items()}
    journeys = {k: n for k, (_c, n) in groups.items()}

    def p(u: frozenset) -> float:
        if not u:
            return baseline
        if u in rate:
            return rate[u]
        subs = [r for k, r in rate.items() if k < u]
        return max([baseline, *subs])

    def v(s: frozenset) -> float:
        return sum(n * p(t & s) for t, n in journeys.items())

    channels = sorted({c for k in groups for c in k})
    phi = dict.fromkeys(channels, 0.0)
    perms = list(itertools.permutations(channels))
    for perm in perms:
        s: frozenset = frozenset()
        for c in perm:
            phi[c] += v(s | {c}) - v(s)
            s = s | {c}
    return {c: x / len(perms) for c, x in phi.items()}


def test_exact_shapley_matches_brute_force() -> None:
    res = shapley_attribution(table())
    assert res.method == "exact"
    expected = brute_force_shapley(ROWS)
    for c, x in expected.items():
        assert res.credit.loc[c, "conversions"] == pytest.approx(x, rel=1e-10, abs=1e-10)
    # efficiency: with no baseline the values add up to the observed conversions
    assert res.credit["conversions"].sum() == pytest.approx(table()["total_conversions"].sum())


def test_exact_shapley_with_baseline_rate() -> None:
    res = shapley_attribution(table(), baseline_rate=0.05)
    expected = brute_force_shapley(ROWS, baseline=0.05)
    for c, x in expected.items():
        assert res.credit.loc[c, "conversions"] == pytest.approx(x, rel=1e-10, abs=1e-10)
    journeys = table()[["total_conversions", "total_null"]].to_numpy().sum()
    assert res.baseline_conversions == pytest.approx(0.05 * journeys)
    assert res.credit["conversions"].sum() + res.baseline_conversions == pytest.approx(
        table()["total_conversions"].sum()
    )


def test_shapley_is_not_linear_attribution() -> None:
    """The game uses nulls: a channel on many non-converting paths earns less than its linear share."""
    shap = shapley_attribution(table()).credit["conversion_share"]
    lin = heuristic_attribution(table(), "linear").credit["conversion_share"]
    assert not np.allclose(shap, lin, atol=1e-3)


def test_permutation_shapley_agrees_with_exact_within_standard_error() -> None:
    rng = np.random.default_rng(7)
    channels = [f"ch{i}" for i in range(7)]
    rows = []
    for _ in range(300):
        k = int(rng.integers(1, 5))
        path = " > ".join(rng.choice(channels, size=k))
        rows.append((path, int(rng.integers(0, 6)), 0.0, int(rng.integers(0, 10)) + 1))
    df = pd.DataFrame(rows, columns=["path", "total_conversions", "total_conversion_value", "total_null"])
    df["total_conversion_value"] = df["total_conversions"] * 3.0
    exact = shapley_attribution(df)
    sampled = shapley_attribution(df, max_exact_channels=3, n_permutations=600, seed=11)
    assert sampled.method == "permutation" and sampled.n_permutations == 600
    se = sampled.std_error["conversions"]
    assert (se > 0).all()
    diff = (sampled.credit["conversions"] - exact.credit["conversions"]).abs()
    assert (diff <= 4 * se + 1e-9).all(), pd.DataFrame({"diff": diff, "se": se})
    # same seed, same estimate
    again = shapley_attribution(df, max_exact_channels=3, n_permutations=600, seed=11)
    pd.testing.assert_frame_equal(sampled.credit, again.credit)


def test_shapley_rejects_too_many_channels() -> None:
    path = " > ".join(f"c{i}" for i in range(63))
    df = pd.DataFrame({"path": [path], "total_conversions": [1], "total_conversion_value": [1.0], "total_null": [0]})
    with pytest.raises(PathTableError, match="up to 62 channels"):
        shapley_attribution(df)
