"""Attribution models checked against independent references.

* Markov removal effects against a dense ``numpy.linalg.solve`` of the absorbing chain
  built here from scratch (orders 1 to 3, without collapsing self-loops);
* order-1 credit against ChannelAttribution's simulation on its own public data set;
* exact Shapley values against brute-force enumeration of every channel order;
* the Monte-Carlo Shapley estimate against the exact values within its standard error;
* heuristics against hand-computed splits.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.mta import (
    HEURISTIC_MODELS,
    PathTableError,
    fit_all_models,
    heuristic_attribution,
    markov_attribution,
    parse_path_table,
    read_path_table,
    shapley_attribution,
)

CA_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "mta" / "channelattribution_paths.csv"

# A small table with repeats, cycles, single-touch paths and a path that never converts.
ROWS = [
    ("a > b > c", 10, 25.0, 30),
    ("b > a", 5, 12.0, 20),
    ("c", 2, 8.0, 40),
    ("a > a > c", 3, 6.0, 5),
    ("b > c > b > a", 4, 20.0, 10),
    ("a", 0, 0.0, 15),
    ("c > b", 1, 3.0, 9),
    ("a > b > a > b > c", 2, 9.0, 3),
    ("d > a", 1, 2.0, 4),
    ("b > b > b", 2, 5.0, 6),
    ("d", 0, 0.0, 7),
]


def table() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["path", "total_conversions", "total_conversion_value", "total_null"])


# -- an independent absorbing-chain solution ------------------------------------------------
def _windows(path: list[str], order: int) -> list[tuple[str, ...]]:
    if len(path) < order:
        return [tuple(path)]
    return [tuple(path[i : i + order]) for i in range(len(path) - order + 1)]


def dense_markov(rows, order: int) -> tuple[float, float, dict[str, float], dict[str, float]]:
    """P(conversion), E[value] and both for every channel removed, by dense linear algebra."""
    counts: dict[tuple, dict] = {}
    conv_val: dict[tuple, list[float]] = {}
    for path, conv, value, null in rows:
        seq = [("START",)] + _windows([t.strip() for t in path.split(">")], order)
        for a, b in zip(seq[:-1], seq[1:]):
            counts.setdefault(a, {}).setdefault(b, 0.0)
            counts[a][b] += conv + null
        last = seq[-1]
        counts.setdefault(last, {}).setdefault("CONV", 0.0)
        counts.setdefault(last, {}).setdefault("NULL", 0.0)
        counts[last]["CONV"] += conv
        counts[last]["NULL"] += null
        conv_val.setdefault(last, [0.0, 0.0])
        conv_val[last][0] += value
        conv_val[last][1] += conv
    states = sorted(counts, key=str)
    index = {s: i for i, s in enumerate(states)}
    channels = sorted({c for s in states if s != ("START",) for c in s})

    def solve(removed: str | None) -> tuple[float, float]:
        n = len(states)
        Q = np.zeros((n, n))
        R = np.zeros(n)  # P(s -> conversion)
        for s, row in counts.items():
            total = sum(row.values())
            for t, w in row.items():
                if t == "CONV":
                    R[index[s]] += w / total
                elif t == "NULL":
                    continue
                elif removed is not None and removed in t:
                    continue  # redirected to null
                else:
                    Q[index[s], index[t]] += w / total
        N = np.linalg.inv(np.eye(n) - Q)
        start = index[("START",)]
        mean_value = np.array(
            [conv_val[s][0] / conv_val[s][1] if s in conv_val and conv_val[s][1] > 0 else 0.0 for s in states]
        )
        p = np.linalg.solve(np.eye(n) - Q, R)[start]
        v = float(N[start] @ (R * mean_value))
        return float(p), v

    p, v = solve(None)
    removed = {c: solve(c) for c in channels}
    return p, v, {c: r[0] for c, r in removed.items()}, {c: r[1] for c, r in removed.items()}


@pytest.mark.parametrize("order", [1, 2, 3])
def test_markov_removal_effects_match_dense_solve(order: int) -> None:
    df = table()
    res = markov_attribution(df, order=order)
    p, v, p_without, v_without = dense_markov(ROWS, order)
    assert res.conversion_probability == pytest.approx(p, rel=1e-12)
    assert res.value_per_journey == pytest.approx(v, rel=1e-12)
    expected_re = pd.Series({c: (p - q) / p for c, q in p_without.items()})
    expected_rv = pd.Series({c: (v - q) / v for c, q in v_without.items()})
    got = res.removal_effects
    np.testing.assert_allclose(got["removal_effect_conversion"], expected_re[got.index], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(got["removal_effect_value"], expected_rv[got.index], rtol=1e-10, atol=1e-14)
    # credit: removal effects normalised to the observed totals
    total_conv = df["total_conversions"].sum()
    np.testing.assert_allclose(
        res.credit["conversions"], expected_re[got.index] / expected_re.sum() * total_conv, rtol=1e-10
    )
    assert res.credit["conversions"].sum() == pytest.approx(total_conv)
    assert res.credit["revenue"].sum() == pytest.approx(df["total_conversion_value"].sum())


def test_markov_order1_removal_effect_is_probability_of_converting_through_the_channel() -> None:
    """At order 1, p - p(without c) = P(convert and visit c): check one channel by hand.

    ``d`` only starts two paths ("d > a", "d"): removing it sends those journeys to null.
    """
    res = markov_attribution(table(), order=1)
    assert res.removal_effects.loc["d", "removal_effect_conversion"] > 0
    assert res.removal_effects["removal_effect_conversion"].between(0, 1).all()


def test_markov_is_deterministic_and_ignores_row_order() -> None:
    df = table()
    a = markov_attribution(df, order=2)
    b = markov_attribution(df, order=2)
    pd.testing.assert_frame_equal(a.credit, b.credit, check_exact=True)
    shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    c = markov_attribution(shuffled, order=2)
    pd.testing.assert_frame_equal(a.credit, c.credit, rtol=1e-12)


def test_chunked_and_sparse_paths_give_identical_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small chunks, the sorted (non-dense) transition count and sliced parsing change nothing."""
    import galaxy_lib.mta.data as data_mod
    import galaxy_lib.mta.model as model_mod

    rng = np.random.default_rng(5)
    paths = [" > ".join(rng.choice(list("abcdefg"), size=int(rng.integers(1, 7)))) for _ in range(400)]
    df = pd.DataFrame({"path": paths, "total_conversions": rng.integers(0, 4, 400),
                       "total_null": rng.integers(1, 9, 400)})
    df["total_conversion_value"] = df["total_conversions"] * 2.5
    expected = {k: markov_attribution(df, order=k).credit for k in (1, 2, 3)}
    monkeypatch.setattr(model_mod, "_DENSE_SPAN2", 0)
    monkeypatch.setattr(model_mod, "_CHUNK_TOUCHES", 37)
    monkeypatch.setattr(data_mod, "_PARSE_ROWS", 50)
    for k in (1, 2, 3):
        pd.testing.assert_frame_equal(markov_attribution(df, order=k).credit, expected[k], rtol=1e-12)


def test_markov_rejects_bad_order() -> None:
    for bad in (0, 4, 1.5, True):
        with pytest.raises(ValueError, match="order must be an integer from 1 to 3"):
            markov_attribution(table(), order=bad)


def test_markov_single_channel_gets_everything() -> None:
    df = pd.DataFrame({"path": ["a", "a > a"], "total_conversions": [3, 1], "total_conversion_value": [6.0, 1.0],
                       "total_null": [2, 2]})
    res = markov_attribution(df, order=2)
    assert res.credit.loc["a", "conversions"] == pytest.approx(4.0)
    assert res.removal_effects.loc["a", "removal_effect_conversion"] == pytest.approx(1.0)


@pytest.mark.skipif(not CA_DATA.is_file(), reason="shared ChannelAttribution data set not available")
def test_order1_credit_agrees_with_channelattribution() -> None:
    ca = pytest.importorskip("ChannelAttribution")
    paths = read_path_table(CA_DATA, separator=" > ")
    ours = markov_attribution(paths, order=1).credit
    raw = pd.read_csv(CA_DATA, sep=";")
    theirs = ca.markov_model(
        raw, "path", "total_conversions", var_value="total_conversion_value", var_null="total_null",
        order=1, sep=">", verbose=False, flg_pro=False,
    ).set_index("channel_name")
    big = theirs.index[theirs["total_conversions"] / theirs["total_conversions"].sum() >= 0.05]
    assert len(big) >= 5
    rel = (ours.loc[big, "conversions"] / theirs.loc[big, "total_conversions"] - 1).abs()
    assert (rel < 0.03).all(), rel.to_dict()
    rel_value = (ours.loc[big, "revenue"] / theirs.loc[big, "total_conversion_value"] - 1).abs()
    assert (rel_value < 0.05).all(), rel_value.to_dict()


# -- Shapley -----------------------------------------------------------------------------------
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


# -- heuristics --------------------------------------------------------------------------------
SMALL = pd.DataFrame(
    {
        "path": ["search > social > email > direct", "direct", "display > direct"],
        "total_conversions": [4, 2, 1],
        "total_conversion_value": [40.0, 10.0, 5.0],
        "total_null": [1, 3, 0],
    }
)


def credit(model: str, **kw) -> dict[str, float]:
    return heuristic_attribution(SMALL, model, **kw).credit["conversions"].to_dict()


def test_first_last_and_last_non_direct() -> None:
    assert credit("first_touch") == {"direct": 2, "display": 1, "email": 0, "search": 4, "social": 0}
    assert credit("last_touch") == {"direct": 7, "display": 0, "email": 0, "search": 0, "social": 0}
    # all-direct path keeps its credit on direct
    assert credit("last_non_direct") == {"direct": 2, "display": 1, "email": 4, "search": 0, "social": 0}


def test_linear_and_position_based() -> None:
    lin = credit("linear")
    assert lin["search"] == pytest.approx(1.0) and lin["direct"] == pytest.approx(1 + 2 + 0.5)
    pos = credit("position_based")
    assert pos["search"] == pytest.approx(0.4 * 4)
    assert pos["social"] == pytest.approx(0.1 * 4) and pos["email"] == pytest.approx(0.1 * 4)
    assert pos["direct"] == pytest.approx(0.4 * 4 + 2 + 0.5)
    assert pos["display"] == pytest.approx(0.5)
    custom = credit("position_based", first_weight=0.3, last_weight=0.5)
    assert custom["display"] == pytest.approx(0.3 / 0.8)


def test_time_decay_in_touches_and_days() -> None:
    td = credit("time_decay", half_life=1.0)
    w = np.array([1 / 8, 1 / 4, 1 / 2, 1.0])
    w = w / w.sum()
    assert td["search"] == pytest.approx(4 * w[0])
    assert td["direct"] == pytest.approx(4 * w[3] + 2 + 2 / 3)
    timed = SMALL.assign(lag_days=["10 > 10 > 3 > 0", "0", "7 > 0"])
    res = heuristic_attribution(timed, "time_decay", half_life=7.0)
    assert res.params["decay_unit"] == "days"
    wd = 0.5 ** (np.array([10, 10, 3, 0]) / 7.0)
    wd = wd / wd.sum()
    assert res.credit.loc["social", "conversions"] == pytest.approx(4 * wd[1])
    assert res.credit.loc["display", "conversions"] == pytest.approx(0.5 / 1.5)


def test_every_heuristic_conserves_totals() -> None:
    for m in HEURISTIC_MODELS:
        res = heuristic_attribution(SMALL, m)
        assert res.credit["conversions"].sum() == pytest.approx(7.0), m
        assert res.credit["revenue"].sum() == pytest.approx(55.0), m
        assert res.credit["conversion_share"].sum() == pytest.approx(1.0), m


def test_unknown_heuristic_and_bad_weights() -> None:
    with pytest.raises(ValueError, match="Unknown heuristic model 'u_shaped'"):
        heuristic_attribution(SMALL, "u_shaped")
    with pytest.raises(ValueError, match="sum to at most 1"):
        heuristic_attribution(SMALL, "position_based", first_weight=0.7, last_weight=0.5)
    with pytest.raises(ValueError, match="half_life must be > 0"):
        heuristic_attribution(SMALL, "time_decay", half_life=0)


def test_fit_all_models_names() -> None:
    res = fit_all_models(parse_path_table(table()), markov_orders=(1, 3))
    assert list(res) == [*HEURISTIC_MODELS, "markov_order_1", "markov_order_3", "shapley"]
    for r in res.values():
        assert math.isclose(r.credit["conversions"].sum(), 30.0, rel_tol=1e-9)
