"""The diagnostics gate: is a fitted MMM trustworthy enough to publish.

Five checks, each a :class:`galaxy_lib.core.gates.Gate` graded by
:func:`galaxy_lib.core.gates.measure` (``pass`` / ``warn`` / ``fail``; a value that
could not be measured fails):

* ``mmm_max_rhat``: the largest split R-hat over the model's free parameters
  (ArviZ, rank-normalised). Chains that disagree (R-hat well above 1) did not
  converge to one posterior.
* ``mmm_min_ess``: the smallest bulk effective sample size. Too few effective
  draws make means and 94% intervals noisy.
* ``mmm_divergences``: share of post-warm-up transitions that diverged. Divergences
  mean NUTS could not explore part of the posterior, so estimates may be biased.
* ``mmm_ppc_coverage`` and ``mmm_ppc_r2``: the posterior predictive check. The share
  of observed KPI values inside the 94% posterior predictive interval (should be
  close to 0.94) and the R-squared of the posterior mean prediction. A low R-squared
  with good coverage means a noisy KPI the model describes honestly, so by default
  R-squared only warns (below 0.5) and fails only when the model predicts worse than
  the KPI's mean (below 0).

A run whose gate fails is reported as ``failed`` with these reasons; nothing is
silently published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from galaxy_lib.core.config import GalaxyConfig
from galaxy_lib.core.gates import Gate, GateStatus, check_threshold_order, measure, worst_status
from galaxy_lib.mmm.analysis.intervals import HDI_PROB
from galaxy_lib.mmm.model import MediaMixModel
from galaxy_lib.mmm.sampling import quiet_pymc

__all__ = ["GATE_TABLE", "GateThresholds", "MMMDiagnostics", "diagnose", "posterior_predictive"]

#: ``table`` of every MMM gate in ``metrics.json``.
GATE_TABLE: str = "mmm"


class GateThresholds(GalaxyConfig):
    """Warn / fail limits of the diagnostics gate.

    R-hat and the divergence rate are worse when higher (``*_warn`` must not exceed
    ``*_fail``); ESS, PPC coverage and R-squared are worse when lower (``*_fail``
    must not exceed ``*_warn``).
    """

    rhat_warn: float = Field(1.01, gt=1.0)
    rhat_fail: float = Field(1.05, gt=1.0)
    ess_warn: float = Field(200.0, gt=0)
    ess_fail: float = Field(50.0, gt=0)
    divergence_warn: float = Field(0.0, ge=0, le=1)
    divergence_fail: float = Field(0.01, ge=0, le=1)
    coverage_warn: float = Field(0.85, ge=0, le=1)
    coverage_fail: float = Field(0.70, ge=0, le=1)
    r2_warn: float = Field(0.50, le=1)
    r2_fail: float = Field(0.0, le=1)

    @model_validator(mode="after")
    def _warn_before_fail(self) -> Self:
        check_threshold_order(
            self.model_dump(), higher_is_worse=("rhat", "divergence"), lower_is_worse=("ess", "coverage", "r2")
        )
        return self


@dataclass(frozen=True)
class MMMDiagnostics:
    """Result of :func:`diagnose`.

    Attributes
    ----------
    max_rhat, min_ess, divergences, divergence_rate
        Sampler diagnostics over the free parameters.
    ppc_coverage
        Share of observed KPI values inside the 94% posterior predictive interval.
    ppc_r2
        R-squared of the posterior mean prediction against the observed KPI.
    ppc_mape
        Mean absolute percentage error of the posterior mean prediction.
    status
        ``pass``, ``warn`` or ``fail`` (the worst gate).
    reasons
        One sentence per gate that warned or failed.
    gates
        The :class:`~galaxy_lib.core.gates.Gate` of each check.
    parameter_summary
        ArviZ summary of the free parameters (mean, sd, HDI, ESS, R-hat).
    """

    max_rhat: float
    min_ess: float
    divergences: int
    divergence_rate: float
    ppc_coverage: float
    ppc_r2: float
    ppc_mape: float
    status: GateStatus
    reasons: tuple[str, ...]
    gates: tuple[Gate, ...]
    parameter_summary: pd.DataFrame = field(repr=False)

    @property
    def passed(self) -> bool:
        """True unless a gate failed (``warn`` still publishes, flagged)."""
        return self.status != "fail"

    def to_metrics(self) -> dict[str, Any]:
        """Flat metrics for metrics.json."""
        return {
            "max_rhat": self.max_rhat,
            "min_ess": self.min_ess,
            "divergences": self.divergences,
            "divergence_rate": self.divergence_rate,
            "ppc_coverage_94": self.ppc_coverage,
            "ppc_r2": self.ppc_r2,
            "ppc_mape": self.ppc_mape,
            "gate_status": self.status,
            "gate_reasons": list(self.reasons),
        }


def _reason(gate: Gate) -> str:
    """Say why a gate warned or failed, as ``metrics.json["diagnostics"]["gate_reasons"]`` has it."""
    return f"{gate.gate} = {gate.value:.4g} ({gate.status}: limit {gate.limit}); {gate.detail}"


def posterior_predictive(model: MediaMixModel, random_seed: int = 0) -> pd.DataFrame:
    """Posterior predictive KPI per period (summed over geos) against the observed KPI.

    Returns
    -------
    pd.DataFrame
        ``date, observed, mean, hdi_low, hdi_high`` (94% interval, KPI units).
    """
    import arviz as az

    model._check_fitted()
    idata = model.idata_
    if "posterior_predictive" not in idata or "y" not in idata.posterior_predictive:
        with quiet_pymc():
            model.mmm_.sample_posterior_predictive(
                model.X_, extend_idata=True, combined=False, progressbar=False, random_seed=random_seed
            )
    y = idata.posterior_predictive["y"] * model.target_scale_()
    if model.data_.is_geo:
        y = y.sum("geo")
    hdi = az.hdi(y.rename("y"), hdi_prob=HDI_PROB)["y"]
    obs = model.data_.frame.groupby("date")["kpi"].sum()
    dates = pd.DatetimeIndex(y["date"].values)
    return pd.DataFrame(
        {
            "date": dates,
            "observed": obs.reindex(dates).to_numpy(),
            "mean": y.mean(("chain", "draw")).to_numpy(),
            "hdi_low": hdi.sel(hdi="lower").to_numpy(),
            "hdi_high": hdi.sel(hdi="higher").to_numpy(),
        }
    )


def diagnose(model: MediaMixModel, thresholds: GateThresholds | None = None, random_seed: int = 0) -> MMMDiagnostics:
    """Run the diagnostics gate on a fitted model (samples the posterior predictive if needed).

    Parameters
    ----------
    model
        A fitted :class:`MediaMixModel`.
    thresholds
        Warn / fail limits (defaults: R-hat 1.01 / 1.05, bulk ESS 200 / 50, any
        divergence warns and over 1% fails, PPC coverage 0.85 / 0.70, R² 0.50 / 0.0).
    random_seed
        Seed of the posterior predictive draws.
    """
    import arviz as az

    t = thresholds or GateThresholds()
    model._check_fitted()
    idata = model.idata_
    free = [v.name for v in model.mmm_.model.free_RVs]
    free = [v for v in free if v in idata.posterior]
    summary = az.summary(idata, var_names=free, hdi_prob=HDI_PROB)
    max_rhat = float(np.nanmax(summary["r_hat"].to_numpy()))
    min_ess = float(np.nanmin(summary["ess_bulk"].to_numpy()))
    diverging = idata.sample_stats["diverging"]
    n_div = int(diverging.sum())
    rate = n_div / float(diverging.size)

    ppc = posterior_predictive(model, random_seed=random_seed)
    inside = (ppc["observed"] >= ppc["hdi_low"]) & (ppc["observed"] <= ppc["hdi_high"])
    coverage = float(inside.mean())
    resid = ppc["observed"] - ppc["mean"]
    r2 = float(1 - (resid**2).sum() / ((ppc["observed"] - ppc["observed"].mean()) ** 2).sum())
    mape = float((resid.abs() / ppc["observed"].abs().replace(0, np.nan)).mean())

    worst = summary["r_hat"].idxmax()
    least = summary["ess_bulk"].idxmin()
    gates = (
        measure(
            "mmm_max_rhat",
            max_rhat,
            t.rhat_warn,
            t.rhat_fail,
            f"largest R-hat at {worst}; chains disagree when above {t.rhat_fail} (run more tune/draws)",
            table=GATE_TABLE,
        ),
        measure(
            "mmm_min_ess",
            min_ess,
            t.ess_warn,
            t.ess_fail,
            f"smallest bulk ESS at {least}; raise draws for steadier intervals",
            higher_is_worse=False,
            table=GATE_TABLE,
        ),
        measure(
            "mmm_divergences",
            rate,
            t.divergence_warn,
            t.divergence_fail,
            f"{n_div} divergent transition(s) of {diverging.size}; raise target_accept or simplify the model",
            table=GATE_TABLE,
        ),
        measure(
            "mmm_ppc_coverage",
            coverage,
            t.coverage_warn,
            t.coverage_fail,
            "share of observed periods inside the 94% posterior predictive interval (ideal ~0.94)",
            higher_is_worse=False,
            table=GATE_TABLE,
        ),
        measure(
            "mmm_ppc_r2",
            r2,
            t.r2_warn,
            t.r2_fail,
            "R-squared of the posterior mean prediction; "
            "low with poor coverage means missing structure (controls, trend)",
            higher_is_worse=False,
            table=GATE_TABLE,
        ),
    )
    status = worst_status(gates)
    reasons = tuple(_reason(g) for g in gates if g.status != "pass")
    return MMMDiagnostics(
        max_rhat=max_rhat,
        min_ess=min_ess,
        divergences=n_div,
        divergence_rate=rate,
        ppc_coverage=coverage,
        ppc_r2=r2,
        ppc_mape=mape,
        status=status,
        reasons=reasons,
        gates=gates,
        parameter_summary=summary,
    )
