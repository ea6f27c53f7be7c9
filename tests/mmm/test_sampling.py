"""sample_numpyro: pm.sample's numpyro path without its fixed costs, checked against both truth and pm.sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pymc as pm
import pytest

from galaxy_lib.mmm.sampling import pin_jax_cpu_devices, sample_numpyro

#: Known conjugate posterior: y_i ~ Normal(mu, 2), mu ~ Normal(0, 10); sigma ~ HalfNormal(1) rides along
#: (with its own data) to exercise a transformed variable.
RNG = np.random.default_rng(7)
Y = RNG.normal(3.0, 2.0, size=50)
Z = np.abs(RNG.normal(0.0, 0.5, size=200))


def conjugate_model() -> pm.Model:
    with pm.Model(coords={"obs": np.arange(len(Y)), "z_obs": np.arange(len(Z))}) as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 1.0)
        data = pm.Data("y_data", Y, dims="obs")
        pm.Normal("y", mu=mu, sigma=2.0, observed=data, dims="obs")
        pm.HalfNormal("z", sigma=sigma, observed=Z, dims="z_obs")
        pm.Deterministic("mu_doubled", 2 * mu)
    return model


def analytic_mu() -> tuple[float, float]:
    """Posterior mean and sd of mu (normal-normal conjugacy, known noise sd 2)."""
    precision = 1 / 10.0**2 + len(Y) / 2.0**2
    return float((Y.sum() / 2.0**2) / precision), float(precision**-0.5)


@pytest.fixture(scope="module")
def fitted():
    pin_jax_cpu_devices(2)
    model = conjugate_model()
    return model, sample_numpyro(model, chains=2, tune=400, draws=1000, random_seed=3, chain_method="vectorized")


def test_posterior_matches_the_conjugate_truth(fitted) -> None:
    _, idata = fitted
    mean, sd = analytic_mu()
    mu = idata.posterior["mu"].values.ravel()
    assert abs(mu.mean() - mean) < 4 * sd / np.sqrt(500)  # 4 MC standard errors at an ESS of >= 500
    assert abs(mu.std() - sd) / sd < 0.1
    # sigma lives on the log scale in the sampler: it must come back positive and near its MLE
    sigma = idata.posterior["sigma"].values
    assert (sigma > 0).all()
    assert abs(sigma.mean() - np.sqrt(np.mean(Z**2))) < 0.05


def test_layout_matches_pm_sample(fitted) -> None:
    model, ours = fitted
    with model:
        theirs = pm.sample(
            chains=2,
            tune=200,
            draws=200,
            nuts_sampler="numpyro",
            random_seed=3,
            progressbar=False,
            var_names=[rv.name for rv in model.free_RVs],
            compute_convergence_checks=False,
            nuts_sampler_kwargs={"chain_method": "vectorized"},
        )
    assert set(ours.groups()) == set(theirs.groups())
    for group in theirs.groups():
        assert set(ours[group].data_vars) == set(theirs[group].data_vars), group
        for name in theirs[group].data_vars:
            assert ours[group][name].dims == theirs[group][name].dims, (group, name)
    assert "mu_doubled" not in ours.posterior  # deterministics are the caller's job, as in pymc-marketing
    assert ours.posterior.sizes["chain"] == 2 and ours.posterior.sizes["draw"] == 1000
    assert {"tuning_steps", "sampling_time", "inference_library"} <= set(ours.posterior.attrs)
    assert int(ours.sample_stats["diverging"].sum()) == 0


def test_seed_makes_it_repeatable() -> None:
    pin_jax_cpu_devices(2)
    first = sample_numpyro(conjugate_model(), chains=1, tune=100, draws=100, random_seed=11)
    second = sample_numpyro(conjugate_model(), chains=1, tune=100, draws=100, random_seed=11)
    np.testing.assert_array_equal(first.posterior["mu"].values, second.posterior["mu"].values)


def test_pin_jax_cpu_devices_overrides_pymc_before_jax_starts() -> None:
    """pymc's import asks for 100 devices; pinning before JAX starts gives the count asked for, after it is fixed."""
    import subprocess
    import sys

    code = (
        "import os, jax\n"
        "from galaxy_lib.mmm import pin_jax_cpu_devices\n"
        "assert pin_jax_cpu_devices(3) == 3\n"
        "assert '--xla_force_host_platform_device_count=3' in os.environ['XLA_FLAGS']\n"
        "print(jax.local_device_count(), pin_jax_cpu_devices(5), jax.local_device_count())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["3", "3", "3"]


def test_compilation_cache_is_used_and_can_be_turned_off(tmp_path) -> None:
    """A fit stores its compiled sampler in the cache folder; GALAXY_JAX_CACHE=off leaves no trace."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from galaxy_lib.mmm import pin_jax_cpu_devices, use_jax_compilation_cache\n"
        "from galaxy_lib.mmm.sampling import sample_numpyro\n"
        "from tests.mmm.test_sampling import conjugate_model\n"
        "pin_jax_cpu_devices(1)\n"
        "print(use_jax_compilation_cache())\n"
        "sample_numpyro(conjugate_model(), chains=1, tune=50, draws=50, random_seed=1)\n"
    )
    root = Path(__file__).resolve().parents[2]
    for setting, cache in (("on", tmp_path / "cache"), ("off", None)):
        env = {**os.environ, "GALAXY_JAX_CACHE": str(cache) if cache else "off"}
        env.pop("JAX_COMPILATION_CACHE_DIR", None)
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=root, env=env
        )
        assert out.returncode == 0, out.stderr[-2000:]
        if cache:
            assert out.stdout.split()[0] == str(cache)
            assert list(cache.glob("*-cache")), "the compiled sampler should be in the cache folder"
        else:
            assert out.stdout.split()[0] == "None", setting
