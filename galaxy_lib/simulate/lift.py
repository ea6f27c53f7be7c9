"""Geo lift tests: planned spend changes in one geo and their measured effect.

Mechanism
---------
Each test picks a channel, a geo and a window of 4 to 6 weeks in which that
geo-channel had spend every week (so a flighted channel is tested while it is
on; if the planned geo has no such window, another geo or a shorter window
down to 4 weeks is used), preferring the steadiest quarter of such windows
(lowest coefficient of variation of planned spend from two weeks before to two
weeks after). Two out of three tests *raise* spend by 50-100 %, every third
test *cuts* it by 50 % or goes dark (-100 %). The change is multiplicative on
the planned weekly spend, so the stored ``spend`` table shows the spend that
actually ran. Tests on the same geo-channel never overlap (cool-down included).

Columns of the ``lift_tests`` table (pymc-marketing ``add_lift_test_measurements``
semantics, in the geo's own units):

* ``x``: mean *planned* weekly spend of the geo-channel over the test window
  (what would have run without the test);
* ``delta_x``: mean change in weekly spend over the window (``actual - planned``);
* ``delta_y``: measured incremental revenue **per test week**. The truth is the
  difference between the contribution with the actual spend and with the planned
  spend, summed over the test window *plus a cool-down of* ``l_max - 1`` *weeks*
  (so the adstock carry-over is counted), divided by the number of test weeks.
  With normalised adstock each week of spend has total weight 1, so this equals
  the steady-state weekly effect ``f(x + delta_x) - f(x)`` of the geo's saturation
  curve when spend is flat. Measurement noise ``Normal(0, sigma)`` is added;
* ``sigma``: the known standard error of ``delta_y`` (8-15 % of the true effect, so
  the sign is never in doubt, as pymc-marketing's Gamma likelihood on ``|delta_y|``
  requires).

For a *national* model, convert a geo test to national units with the geo's
population share ``s_g`` (``ground_truth["world"]["geo_shares"]``): the geo curve
is ``f_g(x) = s_g f(x / s_g)``, so use ``x / s_g``, ``delta_x / s_g``,
``delta_y / s_g`` and ``sigma / s_g``. ``ground_truth["lift_tests"]`` lists the
noise-free effect and the steady-state curve difference of every test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from galaxy_lib.core.contracts import MMM_CHANNELS
from galaxy_lib.simulate.config import WorldConfig

__all__ = ["LiftDesign", "apply_lift_tests", "design_lift_tests", "measure_lift_tests"]

_CHANNEL_ORDER = (
    "tv",
    "social",
    "search",
    "display",
    "video",
    "social",
    "tv",
    "video",
    "display",
    "search",
    "social",
    "video",
)


@dataclass(frozen=True)
class LiftDesign:
    """One planned test: channel/geo indices, first and last test week (inclusive), relative spend change."""

    test_id: str
    channel: int
    geo: int
    start: int
    end: int
    change: float


def _candidates(
    base_spend: np.ndarray, c: int, g: int, length: int, busy: dict[tuple[int, int], list[tuple[int, int]]]
) -> tuple[list[int], list[float]]:
    """Start weeks with spend in every test week and no overlap (incl. cool-down) with earlier tests."""
    from galaxy_lib.simulate.mmm import L_MAX

    n_weeks = base_spend.shape[-1]
    candidates, steadiness = [], []
    for s in range(16, n_weeks - length - L_MAX + 1):
        window = base_spend[c, g, s : s + length]
        span = (s - L_MAX, s + length + L_MAX)
        clash = any(not (span[1] <= a or b <= span[0]) for a, b in busy.get((c, g), []))
        if (window > 0).all() and not clash:
            around = base_spend[c, g, s - 2 : s + length + 3]
            candidates.append(s)
            steadiness.append(float(around.std() / around.mean()))
    return candidates, steadiness


def design_lift_tests(rng: np.random.Generator, base_spend: np.ndarray, config: WorldConfig) -> list[LiftDesign]:
    """Choose ``config.n_lift_tests`` non-overlapping tests on weeks with spend (see module docstring)."""
    n_geos = base_spend.shape[1]
    busy: dict[tuple[int, int], list[tuple[int, int]]] = {}
    designs: list[LiftDesign] = []
    geo_order = list(rng.permutation(n_geos))
    for i in range(config.n_lift_tests):
        c = MMM_CHANNELS.index(_CHANNEL_ORDER[i % len(_CHANNEL_ORDER)])
        g = int(geo_order[i % n_geos])
        if i % n_geos == n_geos - 1:
            geo_order = list(rng.permutation(n_geos))
        wanted = int(rng.integers(4, 7))
        # The planned geo first, then the others; the wanted length first, then shorter (>= 4 weeks).
        options = [(int(gg), ll) for ll in range(wanted, 3, -1) for gg in [g] + [x for x in geo_order if x != g]]
        for g, length in options:
            candidates, steadiness = _candidates(base_spend, c, g, length, busy)
            if candidates:
                break
        else:
            raise RuntimeError(
                f"No window of 4 to 6 weeks with spend for a lift test on {MMM_CHANNELS[c]} in any geo; "
                "increase n_weeks or lower n_lift_tests."
            )
        # Prefer windows where planned spend is steady (as a test planner would), so the
        # measured effect is close to the steady-state curve difference.
        steady = np.asarray(candidates)[np.asarray(steadiness) <= np.quantile(steadiness, 0.25)]
        start = int(rng.choice(steady))
        change = float(rng.choice([-0.5, -1.0]) if i % 3 == 2 else rng.choice([0.5, 0.75, 1.0]))
        busy.setdefault((c, g), []).append((start, start + length))
        designs.append(LiftDesign(f"LT{i + 1:02d}", c, g, start, start + length - 1, change))
    return designs


def apply_lift_tests(base_spend: np.ndarray, designs: list[LiftDesign]) -> np.ndarray:
    """Spend that actually ran: planned spend times ``1 + change`` in each test window (rounded to cents)."""
    spend = base_spend.copy()
    for d in designs:
        w = slice(d.start, d.end + 1)
        spend[d.channel, d.geo, w] = np.round(base_spend[d.channel, d.geo, w] * (1 + d.change), 2)
    return spend


def measure_lift_tests(
    rng: np.random.Generator,
    designs: list[LiftDesign],
    base_spend: np.ndarray,
    spend: np.ndarray,
    shares: np.ndarray,
    geos: tuple[str, ...],
    channel_truth: dict[str, dict[str, float]],
    weeks: pd.DatetimeIndex,
) -> tuple[pd.DataFrame, list[dict]]:
    """Measure every test from the true response curves.

    Returns
    -------
    table, truth
        The ``lift_tests`` table, and one dict per test with the noise-free
        ``true_delta_y`` and the steady-state curve difference ``curve_delta_y``.
    """
    from galaxy_lib.simulate.mmm import L_MAX, channel_contributions, logistic_saturation

    rows, truth = [], []
    n_weeks = spend.shape[-1]
    for d in designs:
        c = MMM_CHANNELS[d.channel]
        p = channel_truth[c]
        s = shares[d.geo : d.geo + 1]
        actual = spend[d.channel, d.geo][None, :]
        planned = actual.copy()
        planned[0, d.start : d.end + 1] = base_spend[d.channel, d.geo, d.start : d.end + 1]
        args = (s, p["adstock_alpha"], p["lam"], p["beta"], p["spend_scale"])
        diff = channel_contributions(actual, *args) - channel_contributions(planned, *args)
        n_test = d.end - d.start + 1
        horizon = min(n_weeks, d.end + L_MAX)
        true_dy = float(diff[0, d.start : horizon].sum() / n_test)
        x = float(planned[0, d.start : d.end + 1].mean())
        delta_x = float(actual[0, d.start : d.end + 1].mean() - x)
        sk = float(s[0]) * p["spend_scale"]
        curve_dy = float(
            p["beta"]
            * s[0]
            * (logistic_saturation((x + delta_x) / sk, p["lam"]) - logistic_saturation(x / sk, p["lam"]))
        )
        sigma = abs(true_dy) * float(rng.uniform(0.08, 0.15))
        delta_y = true_dy + float(rng.normal(0, sigma))
        rows.append(
            {
                "test_id": d.test_id,
                "channel": c,
                "geo": geos[d.geo],
                "start_week": weeks[d.start],
                "end_week": weeks[d.end],
                "x": round(x, 2),
                "delta_x": round(delta_x, 2),
                "delta_y": round(delta_y, 2),
                "sigma": round(sigma, 2),
            }
        )
        truth.append(
            {
                "test_id": d.test_id,
                "channel": c,
                "geo": geos[d.geo],
                "weeks": n_test,
                "relative_change": d.change,
                "true_delta_y": true_dy,
                "curve_delta_y": curve_dy,
                "cooldown_weeks": horizon - d.end - 1,
            }
        )
    return pd.DataFrame(rows), truth
