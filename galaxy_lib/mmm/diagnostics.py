"""The diagnostics gate: is a fitted MMM trustworthy enough to publish?

Four checks, each a gate with ``pass`` / ``warn`` / ``fail`` (the format of
:meth:`galaxy_lib.core.reporting.ReportWriter.gate`):

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
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from galaxy_lib.core.config import GalaxyConfig
from galaxy_lib.mmm.model import MediaMixModel

__all__ = ["GateThresholds", "MMMDiagnostics", "diagnose", "posterior_predictive"]

HDI_PROB: float = 0.94


class GateThresholds(GalaxyConfig):
    """Warn / fail limits of the diagnostics gate."""

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
        Gate records for :meth:`ReportWriter.gate`.
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
    status: str
    reasons: tuple[str, ...]
    gates: tuple[dict[str, Any], ...]
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


def _gate(name: str, value: float, warn: float, fail: float, higher_is_bad: bool, detail: str) -> dict[str, Any]:
    if higher_is_bad:
        status = "fail" if value > fail else "warn" if value > warn else "pass"
    else:
        status = "fail" if value < fail else "warn" if value < warn else "pass"
    return {"gate": name, "table": "mmm", "column": None, "value": float(value), "status": status,
            "warn_at": warn, "fail_at": fail, "detail": detail}


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
        model.mmm_.sample_posterior_predictive(model.X_, extend_idata=True, combined=False,
                                               progressbar=False, random_seed=random_seed)
    y = idata.posterior_predictive["y"] * model.target_scale_()
    if model.data_.is_geo:
        y = y.sum("geo")
    hdi = az.hdi(y.rename("y"), hdi_prob=HDI_PROB)["y"]
    obs = model.data_.frame.groupby("date")["kpi"].sum()
    dates = pd.DatetimeIndex(y["date"].values)
    return pd.DataFrame({
        "date": dates,
        "observed": obs.reindex(dates).to_numpy(),
        "mean": y.mean(("chain", "draw")).to_numpy(),
        "hdi_low": hdi.sel(hdi="lower").to_numpy(),
        "hdi_high": hdi.sel(hdi="higher").to_numpy(),
    })


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
        _gate("mmm_max_rhat", max_rhat, t.rhat_warn, t.rhat_fail, True,
              f"largest R-hat at {worst}; chains disagree when above {t.rhat_fail} (run more tune/draws)"),
        _gate("mmm_min_ess", min_ess, t.ess_warn, t.ess_fail, False,
              f"smallest bulk ESS at {least}; raise draws for steadier intervals"),
        _gate("mmm_divergences", rate, t.divergence_warn, t.divergence_fail, True,
              f"{n_div} divergent transition(s) of {diverging.size}; raise target_accept or simplify the model"),
        _gate("mmm_ppc_coverage", coverage, t.coverage_warn, t.coverage_fail, False,
              "share of observed periods inside the 94% posterior predictive interval (ideal ~0.94)"),
        _gate("mmm_ppc_r2", r2, t.r2_warn, t.r2_fail, False,
              "R-squared of the posterior mean prediction; low with poor coverage means missing structure (controls, trend)"),
    )
    order = {"pass": 0, "warn": 1, "fail": 2}
    status = max((g["status"] for g in gates), key=order.__getitem__)
    reasons = tuple(
        f"{g['gate']} = {g['value']:.4g} ({g['status']}: limit {g['fail_at'] if g['status'] == 'fail' else g['warn_at']}); {g['detail']}"
        for g in gates if g["status"] != "pass"
    )
    return MMMDiagnostics(
        max_rhat=max_rhat, min_ess=min_ess, divergences=n_div, divergence_rate=rate,
        ppc_coverage=coverage, ppc_r2=r2, ppc_mape=mape, status=status, reasons=reasons,
        gates=gates, parameter_summary=summary,
    )
