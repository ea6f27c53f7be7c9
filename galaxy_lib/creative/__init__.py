"""Creative workflow: variants from templates, brand guardrails, pre-flight scoring, recommendation, budget.

Public API (used by ``notebooks/05_creative.py`` and ``bench/creative.py``)::

    from galaxy_lib import creative
    from galaxy_lib.creative import analysis

    params = creative.CreativeParams(data_dir="data/demo", world_size="demo")
    inputs = creative.load_creative_inputs(params.data_dir, brand_file=params.brand_file)
    review = analysis.review_creatives(inputs.creatives, inputs)  # brand guardrails, per rule
    variants = analysis.make_variants(inputs, creative.DEFAULT_TEMPLATES, out_dir)  # PNGs per platform
    preflight = analysis.fit_preflight_model(inputs, review, params.preflight)  # CTR and CVR, intervals

The package follows the workflow skeleton (docs/ARCHITECTURE.md):

* :mod:`~galaxy_lib.creative.params`: :class:`CreativeParams`, the notebook's parameters;
* :mod:`~galaxy_lib.creative.brand`: the brand file; :mod:`~galaxy_lib.creative.ids`: content-hash ids;
* :mod:`~galaxy_lib.creative.data`: :func:`load_creative_inputs` (store or your files, history checks);
* :mod:`~galaxy_lib.creative.images` and :mod:`~galaxy_lib.creative.copy`: features of files and copy;
* :mod:`~galaxy_lib.creative.guardrails`: every brand rule, pass or fail with the reason;
* :mod:`~galaxy_lib.creative.templates` and :mod:`~galaxy_lib.creative.variants`: copy and PNG variants;
* :mod:`~galaxy_lib.creative.model`: the pre-flight CTR and CVR model;
* :mod:`~galaxy_lib.creative.recommend`: LightFM per audience against popularity;
* :mod:`~galaxy_lib.creative.bandit` and :mod:`~galaxy_lib.creative.allocation_sim`: the budget;
* :mod:`~galaxy_lib.creative.analysis`: the notebook's steps; :mod:`~galaxy_lib.creative.plots`: figures;
* :mod:`~galaxy_lib.creative.report`: the gates and :func:`publish`.
"""

from galaxy_lib.creative.brand import BrandFileError, BrandRules, load_brand
from galaxy_lib.creative.data import CreativeDataError, CreativeInputs, load_creative_inputs
from galaxy_lib.creative.params import CreativeParams
from galaxy_lib.creative.report import CreativeRun, publish
from galaxy_lib.creative.templates import DEFAULT_TEMPLATES, load_templates

__all__ = [
    "DEFAULT_TEMPLATES",
    "BrandFileError",
    "BrandRules",
    "CreativeDataError",
    "CreativeInputs",
    "CreativeParams",
    "CreativeRun",
    "load_brand",
    "load_creative_inputs",
    "load_templates",
    "publish",
]
