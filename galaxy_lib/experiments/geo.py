"""Geo-experiment readout: the lift of a geo test, with an interval, as a row the MMM and the MTA accept.

A geo test changes one channel's spend in one geo for a few weeks. Its lift is the
test geo's KPI minus what the KPI would have been without the test, summed over the
test window and a cool-down (adstock carry-over), divided by the number of test weeks:
pymc-marketing's ``delta_y`` ("incremental KPI per test week, carry-over included"),
so :func:`geo_lift_table` writes rows ``channel, geo, x, delta_x, delta_y, sigma`` that
``02_mmm`` reads as ``lift_tests_path`` and the MTA's calibration reads as lift tests.

The counterfactual
------------------
CausalPy's :class:`~causalpy.InterruptedTimeSeries` with its Bayesian
:class:`~causalpy.pymc_models.LinearRegression`, fitted to the pre-period: the test
geo's KPI regressed, without an intercept, on the donor geos' KPI (each geo divided by
its own pre-period mean, so every series is near 1). Why this model:

* With three donors or fewer, CausalPy's ``SyntheticControl`` with ``WeightedSumFitter``
  (weights on the simplex) cannot reach a test geo smaller or larger than every donor,
  and on pre-period-normalised series its weights sum to one, which pins the test geo's
  level to its pre-period mean and leaves the uncertainty of that level out of the
  interval (on the Galaxy world the intervals then miss). Free regression weights keep
  the level's uncertainty in the posterior.
* No intercept: geos differ by size, not by an additive offset (a geo's baseline is a
  share of the national one), and an intercept on a series near 1 is nearly collinear
  with the donors.
* The regression is fitted on the donors' mean and each donor's deviation from it (the
  same model, reparametrised): raw donor series are nearly collinear and NUTS then needs
  ~90 leapfrog steps per draw instead of ~5.

Hand-written on top of CausalPy, and why
----------------------------------------
* **The interval is predictive.** CausalPy's impact subtracts the posterior mean ``mu``
  of the counterfactual, so its interval holds only the parameter uncertainty; the
  noise the test geo would have had in the counterfactual weeks is left out, and summed
  over 10+ weeks that noise dominates. Each posterior draw here adds the model's noise
  (``sigma`` of that draw) to the counterfactual, as an AR(1) series with the lag-1
  autocorrelation of the pre-period residuals (0 when negative), so a noisy test gets a
  wide interval that still covers.
* **The interval** is the 94% highest-density interval of the lift draws (ArviZ's
  ``hdi``; 94% as the MMM's ROI intervals, which the MTA reads as 94%). ``sigma`` in the
  row is the posterior standard deviation of the lift.
* ``x`` (planned spend per week) is not in the data: the spend that ran is. Unless the
  test gives ``planned_spend``, it is the donors' spend of the channel during the test
  times the test geo's ratio to them before the test
  (:func:`galaxy_lib.experiments.geo_data.prepare_geo_test`).

Measured on the Galaxy world
----------------------------
ci world, seed 42 (8 tests, 156 weeks, ``tests/experiments/test_geo.py``): 7 of 8 94%
intervals cover the true lift (the miss, LT06, is 2.3 posterior sd off: a noisy quarter in
north); about 20 s for all 8 on one core once PyTensor's cache is warm. Over nine more ci
seeds (1, 3-5, 7-11; 60 tests read out, tests overlapping in one geo skipped) 57 of 60
intervals covered (95%); on 52 of them the z-scores ``(estimate - truth) / sd`` had mean
0.02 and sd 1.00 and 37% of the intervals excluded zero: the KPI noise of a geo over 10-13
weeks is of the order of the effects, so most intervals are wide (median width 3.5 times
the median true lift) and honest.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from galaxy_lib.experiments.ab import ExperimentDataError
from galaxy_lib.experiments.geo_data import (
    DEFAULT_COOLDOWN_WEEKS,
    GeoDesignConflict,
    GeoTest,
    PreparedGeoTest,
    check_overlaps,
    overlapping_pairs,
    prepare_geo_test,
    tests_from_design,
)

__all__ = [
    "DEFAULT_HDI_PROB",
    "GEO_LIFT_COLUMNS",
    "GeoFitDiagnostics",
    "GeoLiftReadout",
    "geo_lift_readout",
    "geo_lift_readouts",
    "geo_lift_table",
    "usable_lift_rows",
]

#: Probability mass of the lift's highest-density interval.
DEFAULT_HDI_PROB = 0.94
#: Columns of :func:`geo_lift_table` (the MMM's lift-test columns first).
GEO_LIFT_COLUMNS: tuple[str, ...] = (
    "test_id",
    "channel",
    "geo",
    "start_week",
    "end_week",
    "x",
    "delta_x",
    "delta_y",
    "sigma",
    "delta_y_low",
    "delta_y_high",
    "hdi_prob",
    "geo_share",
    "test_weeks",
    "cooldown_weeks",
    "pre_weeks",
    "donors",
    "kpi",
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GeoFitDiagnostics:
    """How well the counterfactual fits and whether the sampler can be trusted.

    Attributes
    ----------
    r2
        Bayesian R-squared of the pre-period fit (CausalPy's ``score``).
    residual_sd
        Posterior mean of the noise ``sigma``, in KPI units per week.
    residual_autocorr
        Lag-1 autocorrelation of the pre-period residuals (used for the counterfactual noise when > 0).
    max_rhat, min_ess
        Worst R-hat and bulk effective sample size over the model's parameters.
    divergences
        Divergent transitions of NUTS.
    """

    r2: float
    residual_sd: float
    residual_autocorr: float
    max_rhat: float
    min_ess: float
    divergences: int

    @property
    def converged(self) -> bool:
        """R-hat below 1.05, at least 100 effective draws, no divergences."""
        return self.max_rhat < 1.05 and self.min_ess >= 100 and self.divergences == 0


@dataclass(frozen=True, eq=False)
class GeoLiftReadout:
    """Readout of one geo test.

    Attributes
    ----------
    test
        The test read out.
    kpi
        KPI column the lift is in.
    lift, lift_sd, lift_low, lift_high
        Incremental KPI per test week (window + cool-down, divided by the test weeks: the
        MMM's ``delta_y``), its posterior sd (``sigma``) and highest-density interval.
    hdi_prob
        Mass of that interval.
    total_lift
        Incremental KPI over window and cool-down (``lift * test_weeks``).
    relative_lift
        ``total_lift`` over the counterfactual KPI of the same weeks.
    x, delta_x
        Planned spend per test week and the mean change of spend per test week.
    planned_spend_source
        ``"given"`` or how ``x`` was estimated.
    geo_share
        The test geo's share of the channel's spend outside the test window.
    test_weeks, cooldown_weeks, pre_weeks
        Weeks in the window, in the cool-down (cut at the data's end), in the fitted pre-period.
    donors, donor_weights
        Donor geos and their posterior mean weights on the normalised (pre-period mean 1) scale.
    excluded_donors
        Geos left out of the donors because their own test ran at the same time.
    series
        Per week: ``observed``, ``counterfactual`` (posterior mean), ``counterfactual_low`` /
        ``_high`` (predictive interval), ``impact`` and ``period`` (``pre``, ``test``, ``cooldown``).
    diagnostics
        Fit and sampler diagnostics.
    """

    test: GeoTest
    kpi: str
    lift: float
    lift_sd: float
    lift_low: float
    lift_high: float
    hdi_prob: float
    total_lift: float
    relative_lift: float
    x: float
    delta_x: float
    planned_spend_source: str
    geo_share: float
    test_weeks: int
    cooldown_weeks: int
    pre_weeks: int
    donors: tuple[str, ...]
    donor_weights: dict[str, float]
    excluded_donors: tuple[str, ...]
    series: pd.DataFrame
    diagnostics: GeoFitDiagnostics

    @property
    def excludes_zero(self) -> bool:
        """True when the interval lies on one side of zero (the test detected an effect)."""
        return self.lift_low > 0 or self.lift_high < 0

    def row(self) -> dict[str, Any]:
        """Return the test as a lift-test row (:data:`GEO_LIFT_COLUMNS`)."""
        t = self.test
        return {
            "test_id": t.test_id,
            "channel": t.channel,
            "geo": t.geo,
            "start_week": t.start_week,
            "end_week": t.end_week,
            "x": self.x,
            "delta_x": self.delta_x,
            "delta_y": self.lift,
            "sigma": self.lift_sd,
            "delta_y_low": self.lift_low,
            "delta_y_high": self.lift_high,
            "hdi_prob": self.hdi_prob,
            "geo_share": self.geo_share,
            "test_weeks": self.test_weeks,
            "cooldown_weeks": self.cooldown_weeks,
            "pre_weeks": self.pre_weeks,
            "donors": ",".join(self.donors),
            "kpi": self.kpi,
        }

    def __str__(self) -> str:
        lo, hi = self.lift_low, self.lift_high
        return (
            f"{self.test.test_id} {self.test.channel} in {self.test.geo}: {self.kpi} {self.lift:+,.0f} per test week "
            f"({self.hdi_prob:.0%} HDI {lo:+,.0f} to {hi:+,.0f}) for {self.delta_x:+,.0f} spend per week"
        )


@contextmanager
def _quiet_sampler():
    """Keep PyMC's per-fit log lines out of notebooks and test output."""
    loggers = [logging.getLogger(name) for name in ("pymc", "pymc.sampling", "pymc.stats.convergence")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*chains.*", category=UserWarning)
            # pip's PyTensor has no BLAS to link; these regressions are small enough not to need it
            warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS", category=UserWarning)
            # NUTS's first jittered steps under the wide default priors can overflow; tuning recovers.
            warnings.filterwarnings("ignore", message="overflow encountered", category=RuntimeWarning)
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _design(prep: PreparedGeoTest) -> tuple[pd.DataFrame, str, pd.Series]:
    """Normalised model frame (``y``, donor mean, donor deviations, centred controls), formula, scales."""
    panel = prep.kpi
    pre = panel.index < prep.treatment_week
    scale = panel.loc[pre].mean()
    if (scale <= 0).any():
        bad = list(scale.index[scale <= 0])
        raise ExperimentDataError(
            f"test {prep.test.test_id}: geo(s) {bad} have a pre-period KPI mean <= 0; the counterfactual works "
            "on each geo relative to its pre-period mean. Use a KPI that is positive (revenue, conversions)."
        )
    norm = panel / scale
    data = pd.DataFrame({"y": norm[prep.test.geo], "donor_mean": norm[list(prep.donors)].mean(axis=1)})
    terms = ["donor_mean"]
    for j, g in enumerate(prep.donors[:-1]):
        data[f"dev_{j}"] = norm[g] - data["donor_mean"]
        terms.append(f"dev_{j}")
    for j, c in enumerate(prep.controls.columns):
        col = prep.controls[c].astype(float)
        data[f"control_{j}"] = col - col.loc[pre].mean()
        terms.append(f"control_{j}")
    return data, "y ~ 0 + " + " + ".join(terms), scale


def _donor_weights(beta: np.ndarray, donors: Sequence[str]) -> dict[str, float]:
    """Weights on each normalised donor implied by the mean/deviation coefficients (posterior means)."""
    k = len(donors)
    b_mean, b_dev = beta[0], beta[1:k]
    w = np.full(k, b_mean / k) - b_dev.sum() / k
    w[: k - 1] += b_dev
    return {g: float(v) for g, v in zip(donors, w, strict=True)}


def _lag1(resid: pd.Series) -> float:
    """Lag-1 autocorrelation over consecutive weeks only (masked weeks break the series)."""
    r = resid - resid.mean()
    consecutive = r.index.to_series().diff() == pd.Timedelta(weeks=1)
    a, b = r.shift(1)[consecutive], r[consecutive]
    if len(a) < 10 or float((a**2).sum()) == 0:
        return 0.0
    return float((a * b).sum() / np.sqrt((a**2).sum() * (b**2).sum()))


def _ar1_noise(rng: np.random.Generator, sigma: np.ndarray, rho: float, n: int) -> np.ndarray:
    """Stationary AR(1) noise with marginal sd ``sigma`` (one per draw), ``n`` weeks per draw."""
    e = rng.normal(size=(sigma.size, n))
    out = np.empty_like(e)
    out[:, 0] = e[:, 0]
    innov = np.sqrt(1 - rho**2)
    for t in range(1, n):
        out[:, t] = rho * out[:, t - 1] + innov * e[:, t]
    return out * sigma[:, None]


def geo_lift_readout(
    kpi: pd.DataFrame,
    spend: pd.DataFrame,
    test: GeoTest,
    *,
    other_tests: Sequence[GeoTest] = (),
    kpi_column: str = "revenue",
    spend_column: str = "spend",
    week_column: str = "week",
    geo_column: str = "geo",
    control_columns: Sequence[str] = (),
    min_pre_weeks: int | None = None,
    hdi_prob: float = DEFAULT_HDI_PROB,
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    random_seed: int = 0,
) -> GeoLiftReadout:
    """Read out one geo test: lift per test week with a predictive interval (see the module docstring).

    Parameters
    ----------
    kpi
        Per-geo weekly KPI (``week, geo, <kpi_column>``; the Galaxy world's ``kpi`` table).
    spend
        Per-geo weekly spend by channel (``week, geo, channel, spend``; the world's ``spend`` table).
    test
        The test.
    other_tests
        Other tests of the same design (kept out of the donors and the pre-period while they run).
    kpi_column, spend_column, week_column, geo_column
        Column names.
    control_columns
        Optional per-week controls of the KPI table (e.g. ``holiday``); national controls that
        move every geo alike are already in the donors, so the default is none.
    min_pre_weeks
        Usable pre-period weeks required (default ``max(12, 3 x test weeks)``).
    hdi_prob
        Mass of the lift's highest-density interval.
    draws, tune, chains, random_seed
        NUTS settings (chains run one after another on one core).

    Returns
    -------
    GeoLiftReadout

    Raises
    ------
    ExperimentDataError
        Before anything is fitted, for every input problem of
        :func:`~galaxy_lib.experiments.geo_data.prepare_geo_test`.
    """
    if not 0 < hdi_prob < 1:
        raise ExperimentDataError(f"hdi_prob must be between 0 and 1, got {hdi_prob}.")
    prep = prepare_geo_test(
        kpi,
        spend,
        test,
        other_tests=other_tests,
        kpi_column=kpi_column,
        spend_column=spend_column,
        week_column=week_column,
        geo_column=geo_column,
        control_columns=control_columns,
        min_pre=min_pre_weeks,
    )
    return _fit(prep, kpi_column, hdi_prob, draws=draws, tune=tune, chains=chains, random_seed=random_seed)


def _fit(
    prep: PreparedGeoTest, kpi_column: str, hdi_prob: float, *, draws: int, tune: int, chains: int, random_seed: int
) -> GeoLiftReadout:
    """Fit the counterfactual of a prepared test and summarise the lift."""
    import arviz as az
    import causalpy as cp

    data, formula, scale = _design(prep)
    model = cp.pymc_models.LinearRegression(
        sample_kwargs={
            "draws": draws,
            "tune": tune,
            "chains": chains,
            "cores": 1,
            "random_seed": random_seed,
            "progressbar": False,
        }
    )
    with _quiet_sampler():
        result = cp.InterruptedTimeSeries(data, prep.treatment_week, formula=formula, model=model)
    test = prep.test
    s = float(scale[test.geo])
    post = result.idata.posterior
    sigma = post["y_hat_sigma"].isel(treated_units=0).stack(sample=("chain", "draw")).to_numpy()
    mean_impact = result.post_impact.stack(sample=("chain", "draw")).transpose("sample", "obs_ind").to_numpy()
    pre_resid = result.pre_impact.mean(("chain", "draw")).to_series()
    rho = _lag1(pre_resid)
    rng = np.random.default_rng(random_seed)
    noise = _ar1_noise(rng, sigma, min(max(rho, 0.0), 0.9), mean_impact.shape[1])
    impact = (mean_impact - noise) * s  # observed - (mu + noise): the predictive impact per week
    lift_draws = impact.sum(axis=1) / test.test_weeks
    low, high = (float(v) for v in az.hdi(lift_draws, hdi_prob=hdi_prob))

    post_index = data.index[data.index >= prep.treatment_week]
    observed = prep.kpi[test.geo]
    cf_mean = observed.copy()
    cf_mean.loc[post_index] = observed.loc[post_index].to_numpy() - mean_impact.mean(axis=0) * s
    pre_index = data.index[data.index < prep.treatment_week]
    cf_mean.loc[pre_index] = observed.loc[pre_index].to_numpy() - pre_resid.to_numpy() * s
    cf_draws = observed.loc[post_index].to_numpy()[None, :] - impact
    band = np.quantile(cf_draws, [(1 - hdi_prob) / 2, (1 + hdi_prob) / 2], axis=0)
    period = np.where(
        data.index < prep.treatment_week, "pre", np.where(data.index <= test.end_week, "test", "cooldown")
    )
    series = pd.DataFrame(
        {"observed": observed, "counterfactual": cf_mean, "period": period}, index=data.index.rename("week")
    )
    series["counterfactual_low"] = np.nan
    series["counterfactual_high"] = np.nan
    series.loc[post_index, "counterfactual_low"] = band[0]
    series.loc[post_index, "counterfactual_high"] = band[1]
    series["impact"] = series["observed"] - series["counterfactual"]

    summary = az.summary(result.idata, var_names=["beta", "y_hat_sigma"], kind="diagnostics")
    beta = post["beta"].isel(treated_units=0).mean(("chain", "draw")).to_numpy()
    diagnostics = GeoFitDiagnostics(
        r2=float(result.score.iloc[0]),
        residual_sd=float(sigma.mean() * s),
        residual_autocorr=rho,
        max_rhat=float(summary["r_hat"].max()),
        min_ess=float(summary["ess_bulk"].min()),
        divergences=int(result.idata.sample_stats["diverging"].sum()),
    )
    total = float(lift_draws.mean() * test.test_weeks)
    counterfactual_total = float(cf_mean.loc[post_index].sum())
    return GeoLiftReadout(
        test=test,
        kpi=kpi_column,
        lift=float(lift_draws.mean()),
        lift_sd=float(lift_draws.std(ddof=1)),
        lift_low=low,
        lift_high=high,
        hdi_prob=hdi_prob,
        total_lift=total,
        relative_lift=total / counterfactual_total if counterfactual_total else float("nan"),
        x=prep.x,
        delta_x=prep.delta_x,
        planned_spend_source=prep.planned_spend_source,
        geo_share=prep.geo_share,
        test_weeks=test.test_weeks,
        cooldown_weeks=prep.cooldown_weeks,
        pre_weeks=prep.pre_weeks,
        donors=prep.donors,
        donor_weights=_donor_weights(beta, prep.donors),
        excluded_donors=prep.excluded_donors,
        series=series,
        diagnostics=diagnostics,
    )


def geo_lift_readouts(
    kpi: pd.DataFrame,
    spend: pd.DataFrame,
    design: pd.DataFrame | Sequence[GeoTest],
    *,
    cooldown_weeks: int = DEFAULT_COOLDOWN_WEEKS,
    kpi_column: str = "revenue",
    spend_column: str = "spend",
    week_column: str = "week",
    geo_column: str = "geo",
    control_columns: Sequence[str] = (),
    min_pre_weeks: int | None = None,
    hdi_prob: float = DEFAULT_HDI_PROB,
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    random_seed: int = 0,
    conflicts: Literal["raise", "skip"] = "raise",
    progress: bool = True,
) -> list[GeoLiftReadout]:
    """Read out every test of a design; every test is checked before the first one is fitted.

    Parameters
    ----------
    kpi, spend
        As in :func:`geo_lift_readout`.
    design
        A lift-test design table (``test_id, channel, geo, start_week, end_week``, optional
        ``cooldown_weeks`` and ``planned_spend``; the world's ``lift_tests`` table works)
        or a list of :class:`~galaxy_lib.experiments.geo_data.GeoTest`.
    cooldown_weeks
        Cool-down of tests whose row does not give one.
    conflicts
        Tests that get in each other's way (two in one geo at once, cool-down included, or a
        test whose every other geo is under test at the same time, so no donor is left):
        ``"raise"`` refuses the design; ``"skip"`` leaves those tests out, logs each, and reads
        out the others (whose donors and pre-periods still avoid the skipped tests' weeks).
    progress
        Show a tqdm bar over the tests.
    kpi_column, spend_column, week_column, geo_column, control_columns, min_pre_weeks
        As in :func:`geo_lift_readout`.
    hdi_prob, draws, tune, chains, random_seed
        As in :func:`geo_lift_readout` (each test is fitted with ``random_seed``).

    Raises
    ------
    ExperimentDataError
        For the first test that fails a check, before any model is fitted.
    """
    from tqdm.auto import tqdm

    if not 0 < hdi_prob < 1:
        raise ExperimentDataError(f"hdi_prob must be between 0 and 1, got {hdi_prob}.")
    tests = tests_from_design(design, cooldown_weeks) if isinstance(design, pd.DataFrame) else list(design)
    if not tests:
        raise ExperimentDataError("the lift-test design has no tests; give one row per test.")
    if conflicts not in ("raise", "skip"):
        raise ExperimentDataError(f"conflicts must be 'raise' or 'skip', got {conflicts!r}.")
    skipped: set[str] = set()
    if conflicts == "skip":
        skipped = {t.test_id for pair in overlapping_pairs(tests) for t in pair}
    else:
        check_overlaps(tests)
    prepared = []
    for t in tests:
        if t.test_id in skipped:
            logger.warning("geo test %s overlaps another test in its geo; left out (conflicts='skip').", t.test_id)
            continue
        try:
            prepared.append(
                prepare_geo_test(
                    kpi,
                    spend,
                    t,
                    other_tests=tests,
                    kpi_column=kpi_column,
                    spend_column=spend_column,
                    week_column=week_column,
                    geo_column=geo_column,
                    control_columns=control_columns,
                    min_pre=min_pre_weeks,
                )
            )
        except GeoDesignConflict as err:
            if conflicts == "raise":
                raise
            logger.warning("geo test %s left out (conflicts='skip'): %s", t.test_id, err)
    fit: dict[str, int] = {"draws": draws, "tune": tune, "chains": chains, "random_seed": random_seed}
    return [_fit(p, kpi_column, hdi_prob, **fit) for p in tqdm(prepared, desc="geo tests", disable=not progress)]


def geo_lift_table(
    kpi: pd.DataFrame, spend: pd.DataFrame, design: pd.DataFrame | Sequence[GeoTest], **kwargs: Any
) -> pd.DataFrame:
    """Every test of a design as a lift-test row (:data:`GEO_LIFT_COLUMNS`).

    ``channel, geo, x, delta_x, delta_y, sigma`` (plus ``start_week``, ``end_week``,
    ``geo_share``) follow pymc-marketing's ``add_lift_test_measurements`` semantics, in the
    KPI's and the geo's own units: the MMM reads the table as ``lift_tests_path`` (a national
    model scales each row by ``geo_share``), the MTA's calibration as lift tests. Tests whose
    ``delta_y`` has the opposite sign to ``delta_x`` are kept here; the MMM refuses them, see
    :func:`usable_lift_rows`.

    Parameters
    ----------
    kpi, spend, design
        As in :func:`geo_lift_readouts`.
    **kwargs
        Passed to :func:`geo_lift_readouts`.
    """
    readouts = geo_lift_readouts(kpi, spend, design, **kwargs)
    return pd.DataFrame([r.row() for r in readouts], columns=list(GEO_LIFT_COLUMNS))


def usable_lift_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`geo_lift_table` a saturating MMM can use: ``delta_y`` of the sign of ``delta_x``.

    pymc-marketing fits ``|delta_y|`` with a Gamma likelihood and assumes positive channel
    effects, so a test whose estimate went the wrong way (a noisy, undetected effect) cannot
    enter it. Dropping those tests keeps the others' estimates as they are but selects on the
    outcome: the remaining rows overstate small effects a little. Each dropped test is logged.
    """
    same = np.sign(table["delta_x"]) == np.sign(table["delta_y"])
    for tid in table.loc[~same, "test_id"]:
        logger.warning("geo test %s: delta_y has the opposite sign to delta_x; left out of the MMM rows.", tid)
    return table.loc[same].reset_index(drop=True)
