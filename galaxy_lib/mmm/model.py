"""Fit a Bayesian media-mix model with pymc-marketing.

:class:`MediaMixModel` is a thin, scikit-learn style wrapper around
``pymc_marketing.mmm.multidimensional.MMM`` (the class pymc-marketing keeps; the
older ``pymc_marketing.mmm.MMM`` is deprecated): ``__init__`` stores an
:class:`MMMConfig`, :meth:`MediaMixModel.fit` validates the data (before any
sampling), builds the model, adds lift-test measurements and samples; fitted
attributes end in ``_``. :meth:`MediaMixModel.save` / :meth:`MediaMixModel.load`
round-trip the fitted model through pymc-marketing's netCDF format so dashboards
and later runs can reuse it without refitting.

What the wrapper adds to pymc-marketing, and why
------------------------------------------------
* Controls are standardised (centred, unit variance) before fitting. pymc-marketing
  leaves controls unscaled; a control such as a price index near 1.0 is then almost
  collinear with the intercept and NUTS needs very long trajectories. The means and
  standard deviations are kept and applied again to forecast inputs.
* A linear trend is a standardised time-index control (``trend``); a piecewise trend
  uses pymc-marketing's ``LinearTrendEffect``.
* The numpyro sampler runs with a dense mass matrix by default: MMM posteriors have
  strongly correlated saturation parameters (beta against lam); on the Galaxy world
  this cut the gradient evaluations per draw about sixfold (45k against 265k for a
  2 x (500 + 500) fit).
* numpyro runs through :func:`galaxy_lib.mmm.sampling.sample_numpyro` rather than
  ``pm.sample`` (one JAX device per chain, a compilation cache, no unused PyTensor
  gradient): a ci-world fit went from 25 s to 13 s.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field

from galaxy_lib.core.config import GalaxyConfig
from galaxy_lib.mmm.data import MMMData
from galaxy_lib.mmm.validation import MMMDataError, validate_frame

__all__ = ["SAMPLERS", "TREND_CONTROL", "ControlScaling", "MMMConfig", "MediaMixModel"]

#: Samplers accepted by :class:`MMMConfig` (``numpyro`` needs jax + numpyro, ``pymc`` is built in).
SAMPLERS: tuple[str, ...] = ("numpyro", "pymc")
#: Name of the standardised time-index control of a linear trend.
TREND_CONTROL: str = "trend"
#: Attribute of the saved InferenceData holding the wrapper's own metadata.
_ATTR = "galaxy_mmm"


class MMMConfig(GalaxyConfig):
    """Model structure and sampler settings.

    Parameters
    ----------
    adstock
        Carry-over shape: ``geometric`` (one decay rate per channel) or ``weibull_cdf``
        (Weibull survival weights: flexible, slower-than-geometric decay). Both are
        normalised, so a steady spend ``x`` per period has adstocked value ``x``.
        pymc-marketing's ``WeibullPDFAdstock`` (delayed peak) is not offered: in 0.19.2 its
        kernel uses a ``Min`` reduction without a gradient, so NUTS cannot sample it
        (pymc-labs/pymc-marketing#2637, fixed only in releases that need Python 3.12).
    l_max
        Longest carry-over in periods.
    saturation
        Diminishing returns: ``logistic`` or ``hill``.
    trend
        ``none``, ``linear`` (one slope) or ``piecewise`` (linear with change points).
    trend_changepoints
        Change points of a piecewise trend.
    yearly_seasonality
        Fourier orders of yearly seasonality (0 = none).
    time_varying_intercept
        Let the baseline drift over time (an HSGP latent process; slower).
    chains, tune, draws
        MCMC chains, warm-up and kept draws per chain.
    sampler
        ``numpyro`` (JAX; the fast default) or ``pymc``.
    dense_mass
        Adapt a dense mass matrix (numpyro only).
    target_accept
        NUTS target acceptance rate. 0.95 rather than pymc's 0.8/0.9: without lift tests a
        weakly identified channel leaves a funnel in its saturation parameters; on the ci
        world 0.9 diverged in 2.1%, 2.0% and 0.3% of draws over three seeds (the gate fails
        above 1%) and 0.95 in 0%, 0.7% and 0.4%, at about the same fit time.
    random_seed
        Seed of the sampler.
    """

    adstock: Literal["geometric", "weibull_cdf"] = "geometric"
    l_max: int = Field(8, ge=1, le=104)
    saturation: Literal["logistic", "hill"] = "logistic"
    trend: Literal["none", "linear", "piecewise"] = "linear"
    trend_changepoints: int = Field(6, ge=2, le=50)
    yearly_seasonality: int = Field(2, ge=0, le=20)
    time_varying_intercept: bool = False
    chains: int = Field(2, ge=1, le=16)
    tune: int = Field(300, ge=20, le=20_000)
    draws: int = Field(300, ge=20, le=20_000)
    sampler: Literal["numpyro", "pymc"] = "numpyro"
    dense_mass: bool = True
    target_accept: float = Field(0.95, gt=0.5, lt=1.0)
    random_seed: int = Field(42, ge=0)


@dataclass(frozen=True)
class ControlScaling:
    """Standardisation of the controls: ``(value - mean) / sd`` per control."""

    mean: dict[str, float]
    sd: dict[str, float]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, controls: tuple[str, ...] | list[str]) -> ControlScaling:
        """Measure each control's mean and standard deviation (a constant control gets sd 1)."""
        return cls(
            mean={c: float(frame[c].mean()) for c in controls},
            sd={c: float(frame[c].std(ddof=0)) or 1.0 for c in controls},
        )

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Standardise the controls of ``frame`` (a copy)."""
        out = frame.copy()
        for c, m in self.mean.items():
            out[c] = (out[c] - m) / self.sd[c]
        return out

    def invert(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Undo :meth:`apply` for the controls present in ``frame`` (a copy)."""
        out = frame.copy()
        for c, m in self.mean.items():
            if c in out.columns:
                out[c] = out[c] * self.sd[c] + m
        return out


def _adstock(config: MMMConfig):
    from pymc_marketing.mmm import GeometricAdstock, WeibullCDFAdstock

    cls = {"geometric": GeometricAdstock, "weibull_cdf": WeibullCDFAdstock}
    return cls[config.adstock](l_max=config.l_max, normalize=True)


def _saturation(config: MMMConfig):
    from pymc_marketing.mmm import HillSaturation, LogisticSaturation

    return {"logistic": LogisticSaturation, "hill": HillSaturation}[config.saturation]()


class MediaMixModel:
    """Bayesian MMM (pymc-marketing) fitted on validated :class:`MMMData`.

    Parameters
    ----------
    config
        Model structure and sampler settings (defaults: geometric adstock, logistic
        saturation, linear trend, 2 Fourier orders, numpyro, 2 x 300 + 300 draws).

    Attributes
    ----------
    mmm_
        The fitted ``pymc_marketing.mmm.multidimensional.MMM``.
    data_
        The :class:`MMMData` it was fitted on.
    X_
        The design frame passed to pymc-marketing (standardised controls).
    control_scaling_
        The control standardisation (applied again to forecast inputs).
    fit_seconds_
        Wall-clock seconds of build + sampling.
    n_lift_tests_
        Lift tests used for calibration.

    Examples
    --------
    >>> data = load_mmm_data(MMMDataConfig(data_path="my.csv", ...))   # doctest: +SKIP
    >>> mmm = MediaMixModel(MMMConfig(draws=500)).fit(data)  # doctest: +SKIP
    >>> mmm.save("reports/adhoc/02_mmm/mmm_model.nc")  # doctest: +SKIP
    """

    def __init__(self, config: MMMConfig | None = None) -> None:
        self.config = config or MMMConfig()

    # ------------------------------------------------------------------ design
    @property
    def controls_(self) -> list[str]:
        """Control names in the pymc-marketing model (user controls, then ``trend`` for a linear trend)."""
        self._check_fitted()
        return list(self._controls)

    def _design(self, frame: pd.DataFrame, data: MMMData) -> pd.DataFrame:
        """pymc-marketing X: date, geo?, channels, standardised controls (+ trend index)."""
        cols = ["date", *(["geo"] if data.is_geo else []), *data.channels, *data.controls]
        X = frame[cols].copy()
        if self.config.trend == "linear":
            X[TREND_CONTROL] = (X["date"] - self._origin).dt.days / self._span_days
        return self.control_scaling_.apply(X)

    def _build(self, data: MMMData):
        from pymc_marketing.mmm.multidimensional import MMM

        controls = list(self._controls)
        mmm = MMM(
            date_column="date",
            channel_columns=list(data.channels),
            target_column="kpi",
            adstock=_adstock(self.config),
            saturation=_saturation(self.config),
            control_columns=controls or None,
            yearly_seasonality=self.config.yearly_seasonality or None,
            time_varying_intercept=self.config.time_varying_intercept,
            dims=("geo",) if data.is_geo else None,
        )
        if self.config.trend == "piecewise":
            from pymc_marketing.mmm.additive_effect import LinearTrendEffect
            from pymc_marketing.mmm.linear_trend import LinearTrend

            mmm.mu_effects.append(
                LinearTrendEffect(
                    trend=LinearTrend(
                        n_changepoints=self.config.trend_changepoints, dims=("geo",) if data.is_geo else ()
                    ),
                    prefix="trend",
                )
            )
        return mmm

    def _sampler_kwargs(self) -> dict[str, Any]:
        """``pm.sample`` arguments of the ``pymc`` sampler (pymc's warnings off: diagnose() is the gate)."""
        cfg = self.config
        return dict(
            chains=cfg.chains,
            tune=cfg.tune,
            draws=cfg.draws,
            target_accept=cfg.target_accept,
            random_seed=cfg.random_seed,
            compute_convergence_checks=False,
            cores=1,
        )

    def _fit_numpyro(self, mmm, X: pd.DataFrame, y: pd.Series, progressbar: bool) -> None:
        """Fit as pymc-marketing's ``fit`` does, with :func:`~galaxy_lib.mmm.sampling.sample_numpyro` for ``pm.sample``.

        pymc-marketing's ``fit`` always goes through ``pm.sample``, whose fixed costs were a
        third of a ci-world fit (see :mod:`galaxy_lib.mmm.sampling`). The steps around the
        sampling are pymc-marketing's own, in its order: deterministics computed after
        sampling, the result merged into any existing ``idata``, ``fit_data`` and attrs added.
        """
        import pymc as pm
        from pymc_marketing import __version__

        from galaxy_lib.mmm.sampling import sample_numpyro

        cfg = self.config
        idata = sample_numpyro(
            mmm.model,
            chains=cfg.chains,
            tune=cfg.tune,
            draws=cfg.draws,
            target_accept=cfg.target_accept,
            dense_mass=cfg.dense_mass,
            random_seed=cfg.random_seed,
            progressbar=progressbar,
        )
        with mmm.model:
            idata.posterior = pm.compute_deterministics(idata.posterior, merge_dataset=True, progressbar=False)
        if mmm.idata:
            merged = mmm.idata.copy()
            merged.extend(idata, join="right")
            idata = merged
        idata["posterior"].attrs["pymc_marketing_version"] = __version__
        if "fit_data" in idata:
            del idata.fit_data
        idata.add_groups(fit_data=mmm.create_fit_data(X, y))
        mmm.idata = idata
        mmm.set_idata_attrs(mmm.idata)

    # ------------------------------------------------------------------ fit
    def fit(self, data: MMMData, progressbar: bool = False) -> MediaMixModel:
        """Validate ``data``, build the pymc-marketing model, add lift tests and sample.

        Parameters
        ----------
        data
            Output of :func:`galaxy_lib.mmm.data.load_mmm_data`.
        progressbar
            Show the sampler's progress bar.

        Returns
        -------
        MediaMixModel
            ``self``, fitted.

        Raises
        ------
        MMMDataError
            When the data fails a check (before any sampling).
        """
        if not isinstance(data, MMMData):
            raise TypeError(f"fit() needs an MMMData (from load_mmm_data), got {type(data).__name__}.")
        validate_frame(data.frame, data.channels, data.controls, self.config.l_max, data.channel_columns)
        if self.config.yearly_seasonality and (data.dates[-1] - data.dates[0]).days < 365:
            raise MMMDataError(
                f"yearly_seasonality={self.config.yearly_seasonality} needs at least a year of data; the data spans "
                f"{(data.dates[-1] - data.dates[0]).days} days. Set yearly_seasonality: 0."
            )
        t0 = time.perf_counter()
        self._origin = data.dates[0]
        self._span_days = float(max((data.dates[-1] - data.dates[0]).days, 1))
        controls = list(data.controls) + ([TREND_CONTROL] if self.config.trend == "linear" else [])
        self._controls = controls
        raw = data.frame.copy()
        if self.config.trend == "linear":
            raw[TREND_CONTROL] = (raw["date"] - self._origin).dt.days / self._span_days
        self.control_scaling_ = ControlScaling.from_frame(raw, controls)
        X = self._design(data.frame, data)
        y = data.frame["kpi"].rename("kpi")
        mmm = self._build(data)
        mmm.build_model(X, y)
        n_lift = 0
        if data.lift_tests is not None and len(data.lift_tests):
            cols = ["channel", *(["geo"] if data.is_geo else []), "x", "delta_x", "delta_y", "sigma"]
            mmm.add_lift_test_measurements(data.lift_tests[cols].reset_index(drop=True))
            n_lift = len(data.lift_tests)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module="pymc")
            warnings.filterwarnings("ignore", message="The group fit_data is not defined")
            if self.config.sampler == "numpyro":
                self._fit_numpyro(mmm, X, y, progressbar)
            else:
                mmm.fit(X, y, progressbar=progressbar, **self._sampler_kwargs())
        self.mmm_ = mmm
        self.data_ = data
        self.X_ = X
        self.n_lift_tests_ = n_lift
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    # ------------------------------------------------------------------ helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "mmm_"):
            raise RuntimeError("This MediaMixModel is not fitted yet: call fit(data) or MediaMixModel.load(path).")

    @property
    def idata_(self):
        """The fitted model's ``arviz.InferenceData``."""
        self._check_fitted()
        return self.mmm_.idata

    def target_scale_(self) -> xr.DataArray:
        """pymc-marketing's KPI scale (scalar, or per geo), to turn model units into KPI units."""
        self._check_fitted()
        ts = self.idata_.constant_data["target_scale"]
        if "geo" in ts.dims:
            return ts
        return xr.DataArray(float(np.asarray(ts).ravel()[0]))

    def design(self, frame: pd.DataFrame) -> pd.DataFrame:
        """pymc-marketing X for new periods: ``frame`` has ``date`` (``geo``), channel and control columns.

        Controls missing from ``frame`` are held at their training mean.
        """
        self._check_fitted()
        frame = frame.copy()
        frame["date"] = pd.to_datetime(frame["date"])
        for c in self.data_.controls:
            if c not in frame.columns:
                frame[c] = self.control_scaling_.mean[c]
        missing = [c for c in self.data_.channels if c not in frame.columns]
        if missing:
            raise MMMDataError(
                f"the spend plan lacks channel column(s) {missing}; give spend (0 allowed) for every channel."
            )
        for c in self.data_.channels:
            if frame[c].isna().any() or (frame[c] < 0).any():
                raise MMMDataError(f"the spend plan has missing or negative spend in {c!r}; spend must be >= 0.")
        return self._design(frame, self.data_)

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | Path) -> Path:
        """Save the fitted model (pymc-marketing netCDF, plus this wrapper's metadata in its attrs).

        Parameters
        ----------
        path
            File to write, conventionally ``<run folder>/mmm_model.nc``.
        """
        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "config": self.config.model_dump(mode="json"),
            "data": self.data_.to_metadata(),
            "controls": list(self._controls),
            "control_scaling": {"mean": self.control_scaling_.mean, "sd": self.control_scaling_.sd},
            "origin": self._origin.strftime("%Y-%m-%d"),
            "span_days": self._span_days,
            "fit_seconds": self.fit_seconds_,
            "n_lift_tests": self.n_lift_tests_,
        }
        full = self.mmm_.idata
        full.attrs[_ATTR] = json.dumps(meta)
        # Keep the file small: per-mode Fourier terms are not read back (their sum,
        # yearly_seasonality_contribution, is), and of the prior only the free parameters
        # and channel contributions are needed (prior_posterior_shift).
        trimmed = full.copy()
        if "fourier_contribution" in trimmed.posterior:
            trimmed.posterior = trimmed.posterior.drop_vars("fourier_contribution")
        if "prior" in trimmed:
            keep = [v.name for v in self.mmm_.model.free_RVs] + ["channel_contribution"]
            trimmed.prior = trimmed.prior[[v for v in keep if v in trimmed.prior]]
        if "prior_predictive" in trimmed:
            del trimmed.prior_predictive
        self.mmm_.idata = trimmed
        try:
            self.mmm_.save(str(path), engine="h5netcdf")
        finally:
            self.mmm_.idata = full
        return path

    @classmethod
    def load(cls, path: str | Path) -> MediaMixModel:
        """Load a model written by :meth:`save` (no refit; the pymc-marketing model is rebuilt).

        Parameters
        ----------
        path
            The ``.nc`` file.
        """
        import arviz as az
        from pymc_marketing.mmm.multidimensional import MMM

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"No saved MMM at {path}; fit and save one first (notebook 02_mmm writes mmm_model.nc)."
            )
        idata = az.from_netcdf(path, engine="h5netcdf")
        if _ATTR not in idata.attrs:
            raise ValueError(f"{path} is not a Galaxy MMM (no {_ATTR!r} attribute); save it with MediaMixModel.save.")
        meta = json.loads(idata.attrs[_ATTR])
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=UserWarning)
            mmm = MMM.load_from_idata(idata)
        self = cls(MMMConfig(**meta["config"]))
        self._controls = list(meta["controls"])
        self.control_scaling_ = ControlScaling(mean=meta["control_scaling"]["mean"], sd=meta["control_scaling"]["sd"])
        self._origin = pd.Timestamp(meta["origin"])
        self._span_days = float(meta["span_days"])
        d = meta["data"]
        X = mmm.X.copy()
        X["date"] = pd.to_datetime(X["date"])
        frame = self.control_scaling_.invert(X)
        frame = frame.drop(columns=[TREND_CONTROL], errors="ignore")
        frame["kpi"] = np.asarray(mmm.y, dtype=float)
        lift = pd.DataFrame(d["lift_tests"]) if d["lift_tests"] else None
        self.data_ = MMMData(
            frame=frame.reset_index(drop=True),
            channels=tuple(d["channels"]),
            channel_columns=dict(d["channel_columns"]),
            controls=tuple(d["controls"]),
            geos=tuple(d["geos"]),
            freq=d["freq"],
            target_name=d["target_name"],
            lift_tests=lift,
            source=d["source"],
            notes=tuple(d["notes"]),
        )
        self.mmm_ = mmm
        self.X_ = self._design(self.data_.frame, self.data_)
        self.n_lift_tests_ = int(meta["n_lift_tests"])
        self.fit_seconds_ = float(meta["fit_seconds"])
        return self
