"""Uplift modelling and experiments: who to target, proven by experiments.

Public API (used by ``notebooks/04_uplift.py`` and ``bench/uplift.py``)::

    from galaxy_lib import uplift

    params = uplift.UpliftParams(data_dir="data/demo", world_size="demo")
    data = uplift.load_uplift_data(params)
    readout = uplift.read_out_campaign(data)  # A/B readout per arm, CUPED, SRM guard
    fit = uplift.fit_and_compare(data)  # causalml learners, chosen on held-out Qini
    plan = uplift.plan_targeting(data, fit)  # policy, its measured profit, the contact list

The package follows the workflow skeleton (docs/ARCHITECTURE.md):

* :mod:`~galaxy_lib.uplift.params`: :class:`UpliftParams`, the notebook's parameters;
* :mod:`~galaxy_lib.uplift.data`: :func:`load_uplift_data` and the checks of a campaign table;
* :mod:`~galaxy_lib.uplift.model`: causalml's learners and the outcome model;
* :mod:`~galaxy_lib.uplift.evaluation` and :mod:`~galaxy_lib.uplift.policy`: scores and targeting;
* :mod:`~galaxy_lib.uplift.analysis`: the notebook's steps;
* :mod:`~galaxy_lib.uplift.plots`: the figures;
* :mod:`~galaxy_lib.uplift.report`: the gates and :func:`publish`;
* :mod:`~galaxy_lib.uplift.curated`: ``curated/uplift_features``, built by staging.
"""

from galaxy_lib.uplift.analysis import (
    CampaignReadout,
    TargetingPlan,
    UpliftFit,
    fit_and_compare,
    plan_targeting,
    read_out_campaign,
)
from galaxy_lib.uplift.data import UpliftData, UpliftDataError, check_campaign_table, load_uplift_data
from galaxy_lib.uplift.params import UpliftParams
from galaxy_lib.uplift.policy import Economics
from galaxy_lib.uplift.report import publish

__all__ = [
    "CampaignReadout",
    "Economics",
    "TargetingPlan",
    "UpliftData",
    "UpliftDataError",
    "UpliftFit",
    "UpliftParams",
    "check_campaign_table",
    "fit_and_compare",
    "load_uplift_data",
    "plan_targeting",
    "publish",
    "read_out_campaign",
]
