"""NUTS sampling of a PyMC model with numpyro, without ``pm.sample``'s fixed costs.

``pm.sample(nuts_sampler="numpyro")`` spends about 6 s per fit on work the numpyro run
never uses. On the Galaxy ci world (156 weeks, 5 channels, 2 chains x (500 + 500))
pm.sample took 16.8 s of which numpyro sampled for 9.5 s; the rest was:

* ``assign_step_methods``: pymc picks its own step method for every free variable even
  when an external sampler will run, building and rewriting the model's PyTensor
  log-density and gradient (about 3 s) only to throw them away;
* the jittered starting points: pymc checks each chain's start by evaluating the JAX
  log-density *without* ``jax.jit``, so every one of its ~120 operations is compiled
  by XLA on its own (about 3 s); one jitted call costs 0.7 s and the compiled
  function is then shared with the sampler.

:func:`sample_numpyro` is ``pymc.sampling.jax.sample_numpyro_nuts`` with those two
steps done the cheap way. It reuses pymc's own pieces (the JAX log-density, the
jitter-and-retry starting points, the numpyro call, the transformation back to the
constrained space and the InferenceData layout), so the result has the same groups,
variables, coordinates and sample statistics as ``pm.sample`` gives. Those pieces
are private to pymc, which is why ``pymc`` is pinned exactly in ``pyproject.toml``;
``tests/mmm/test_sampling.py`` compares the output with ``pm.sample``'s.

Two settings of the JAX runtime matter as much: one CPU device per chain
(:func:`pin_jax_cpu_devices`) and a compilation cache on disk (:func:`use_jax_compilation_cache`).
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Literal

__all__ = ["JAX_CACHE_ENV", "pin_jax_cpu_devices", "quiet_pymc", "sample_numpyro", "use_jax_compilation_cache"]


@contextmanager
def quiet_pymc() -> Iterator[None]:
    """Run pymc / pymc-marketing predictions without their chatter: reports show results, not library logs.

    Holds back pymc's INFO lines (``Sampling: [y]``) and the library's warnings (deprecation
    and shape notices about pymc-marketing internals that a reader cannot act on). Errors pass.
    """
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def pin_jax_cpu_devices(n: int) -> int:
    """Give JAX ``n`` CPU devices (one per parallel chain) unless its backend is already running.

    ``pymc.sampling.jax`` rewrites ``XLA_FLAGS`` on import to ask for 100 host devices so
    that any number of chains can run in parallel. Each XLA CPU device brings its own
    thread pool, and 100 of them on a small machine fight over the cores: a 2-chain fit of
    the Galaxy world sampled in 18 s with 100 devices and in 9 s with 2. This replaces
    pymc's flag with ``n`` devices before JAX starts; once JAX has started (the process
    already ran JAX code) the device count is fixed and is returned unchanged.

    Parameters
    ----------
    n
        Devices to ask for: the number of chains to run in parallel.

    Returns
    -------
    int
        The number of CPU devices JAX will use (``n``, or the running backend's count).
    """
    import pymc.sampling.jax  # noqa: F401  (sets pymc's XLA_FLAGS; must come first)
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():
        import jax

        return jax.local_device_count()
    flags = re.sub(r"--xla_force_host_platform_device_count=\S+", "", os.environ.get("XLA_FLAGS", "")).split()
    os.environ["XLA_FLAGS"] = " ".join([f"--xla_force_host_platform_device_count={max(int(n), 1)}", *flags])
    return max(int(n), 1)


#: Environment variable naming the JAX compilation cache folder (``off`` disables it).
JAX_CACHE_ENV = "GALAXY_JAX_CACHE"


def use_jax_compilation_cache(path: str | Path | None = None) -> Path | None:
    """Keep JAX's compiled samplers on disk so a refit of the same model shape skips XLA compilation.

    Compiling numpyro's NUTS kernel is about half of a ci-world fit (10.1 s of numpyro
    time without the cache, 5.4 s with it). The compiled program depends on the model,
    the data and the sampler sizes, not on the seed, so repeated runs (tests, re-runs of a
    schedule, a notebook opened again) hit the cache; new data simply compiles again. JAX
    keys entries by the program and its own version and locks the folder, so parallel
    processes may share it. Size is capped at 512 MB (least recently used entries go).

    Parameters
    ----------
    path
        Cache folder. Default: ``$GALAXY_JAX_CACHE``, else ``$XDG_CACHE_HOME/galaxy-workbench/jax``
        (``~/.cache/...``). ``GALAXY_JAX_CACHE=off`` turns the cache off.

    Returns
    -------
    Path or None
        The folder in use, or ``None`` when turned off or JAX already has a cache folder set.
    """
    import jax

    if jax.config.jax_compilation_cache_dir:
        return None
    chosen = str(path) if path else os.environ.get(JAX_CACHE_ENV, "")
    if chosen.lower() == "off":
        return None
    folder = (
        Path(chosen)
        if chosen
        else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "galaxy-workbench" / "jax"
    )
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_compilation_cache_max_size", 512 * 1024 * 1024)
    return folder


def sample_numpyro(
    model,
    *,
    chains: int,
    tune: int,
    draws: int,
    target_accept: float = 0.95,
    dense_mass: bool = True,
    random_seed: int | None = None,
    chain_method: Literal["auto", "parallel", "vectorized", "sequential"] = "auto",
    progressbar: bool = False,
):
    """Sample the free variables of ``model`` with numpyro's NUTS.

    Parameters
    ----------
    model
        A ``pymc.Model`` with only continuous free variables.
    chains, tune, draws
        Chains, warm-up draws and kept draws per chain.
    target_accept
        Target acceptance rate of the step-size adaptation.
    dense_mass
        Adapt a dense (full covariance) mass matrix instead of a diagonal one.
    random_seed
        Seed of the starting-point jitter and of the sampler.
    chain_method
        numpyro's ``parallel`` (one JAX device per chain), ``vectorized`` or ``sequential``;
        ``auto`` asks for one device per chain (:func:`pin_jax_cpu_devices`) and runs them in
        parallel, or vectorised when JAX already started with fewer devices. The compiled
        sampler is cached on disk (:func:`use_jax_compilation_cache`) either way.
    progressbar
        Show numpyro's progress bar.

    Returns
    -------
    arviz.InferenceData
        ``posterior`` (free variables in their constrained space, no deterministics),
        ``sample_stats``, ``observed_data`` and ``constant_data``, laid out as ``pm.sample`` does.
    """
    import arviz as az
    import jax
    from arviz.data.base import make_attrs
    from pymc.backends.arviz import coords_and_dims_for_inferencedata, find_constants, find_observations
    from pymc.sampling import jax as pmjax
    from pymc.util import _get_seeds_per_chain, get_default_varnames

    if chain_method == "auto":
        chain_method = "parallel" if pin_jax_cpu_devices(chains) >= chains else "vectorized"
    use_jax_compilation_cache()
    (seed,) = _get_seeds_per_chain(random_seed, 1)
    logp = jax.jit(pmjax.get_jaxified_logp(model, negative_logp=False))
    initial_points = pmjax._get_batched_jittered_initial_points(
        model=model, chains=chains, initvals=None, random_seed=seed, jitter=True, logp_fn=logp
    )
    started = datetime.now()
    raw, sample_stats, library = pmjax._sample_numpyro_nuts(
        model=model,
        target_accept=target_accept,
        tune=tune,
        draws=draws,
        chains=chains,
        chain_method=chain_method,
        progressbar=progressbar,
        random_seed=seed,
        initial_points=initial_points,
        nuts_kwargs={"dense_mass": dense_mass},
        logp_fn=logp,
    )
    finished = datetime.now()

    free = {rv.name for rv in model.free_RVs}
    outputs = [
        v for v in get_default_varnames(model.unobserved_value_vars, include_transformed=False) if v.name in free
    ]
    to_constrained = pmjax.get_jaxified_graph(inputs=model.value_vars, outputs=outputs)
    values = pmjax._postprocess_samples(
        to_constrained, raw, postprocessing_backend=None, postprocessing_vectorize="vmap", donate_samples=True
    )
    posterior = {v.name: value for v, value in zip(outputs, values, strict=True)}

    attrs = make_attrs({"sampling_time": (finished - started).total_seconds(), "tuning_steps": tune}, library=library)
    coords, dims = coords_and_dims_for_inferencedata(model)
    return az.from_dict(
        posterior=posterior,
        sample_stats=sample_stats,
        observed_data=find_observations(model),
        constant_data=find_constants(model),
        coords=coords,
        dims=dims,
        attrs=attrs,
        posterior_attrs=attrs,
    )
