"""Parameters of ``notebooks/04_uplift``: every notebook parameter, flat, validated in its second cell.

``data_dir``, ``world_size`` and ``output_dir`` come from
:class:`galaxy_lib.core.params.NotebookParams`; the fields below are the uplift
workflow's own. The economics (margin, costs per arm, budget) are built into
:class:`galaxy_lib.uplift.policy.Economics` during validation, so a negative
cost fails in the first cell, named by its notebook parameter.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from galaxy_lib.core.params import InputPath, IsoDate, NotebookParams
from galaxy_lib.uplift.policy import Economics

__all__ = ["ENSEMBLE", "LEARNERS", "LEARNER_LABELS", "WORLD_FEATURES", "UpliftParams"]

#: Learner keys in the order they are fitted and shown.
LEARNERS: tuple[str, ...] = ("s", "t", "x", "r", "dr", "forest")
#: Display names of the learners.
LEARNER_LABELS: dict[str, str] = {
    "s": "S-learner",
    "t": "T-learner",
    "x": "X-learner",
    "r": "R-learner",
    "dr": "DR-learner",
    "forest": "Uplift forest",
    "ensemble": "Average of learners",
}
#: Key of the average of the fitted learners (:class:`AveragedUplift`).
ENSEMBLE = "ensemble"

#: Features of ``curated/uplift_features`` the models use by default.
WORLD_FEATURES: tuple[str, ...] = (
    "age",
    "segment",
    "past_purchases",
    "avg_order_value",
    "email_engagement",
    "geo",
    "tenure_days",
    "pre_orders",
    "pre_revenue",
)

Learner = Literal["s", "t", "x", "r", "dr", "forest"]


class UpliftParams(NotebookParams):
    """Parameters of ``notebooks/04_uplift`` (validated in the cell after the parameters cell).

    Examples
    --------
    In the notebook's second cell::

        params = uplift.UpliftParams.from_notebook(globals())
    """

    data_path: InputPath = Field(
        "",
        description="Your campaign table (CSV/Parquet: one row per customer with arm, outcome and features); "
        "empty = the store's curated uplift_features.",
    )
    id_column: str = Field(
        "customer_key",
        description="Customer id column (pseudonymised before anything is written); empty = row numbers.",
    )
    treatment_column: str = Field("treatment", min_length=1, description="Arm label of each row.")
    control_label: str = Field("control", min_length=1, description="The arm label meaning 'not contacted'.")
    outcome_column: str = Field("converted", min_length=1, description="What the campaign should move.")
    outcome_type: Literal["binary", "continuous"] = Field("binary", description="0/1 conversion or an amount.")
    feature_columns: list[str] = Field(
        default_factory=list, description="Features for the models; empty = the Galaxy world's features."
    )
    targeting_consent_column: str = Field(
        "",
        description="0/1 column of your table: may the customer be targeted (personalisation consent)? "
        "The store's consent records are used for the world.",
    )
    as_of: IsoDate = Field("", description="Consent for targeting evaluated at this date (ISO); empty = now.")
    learners: list[Learner] = Field(default_factory=lambda: list(LEARNERS), min_length=1)
    choose_by: Literal["qini", "auuc"] = Field("qini", description="Held-out score that picks the model.")
    test_share: float = Field(0.3, ge=0.1, le=0.5, description="Share of rows held out to choose and judge.")
    seed: int = Field(0, ge=0, description="Seed of the split, the learners and the bootstrap.")
    forest_trees: int = Field(30, ge=5, le=500, description="Trees of the uplift random forest.")
    margin_per_conversion: float = Field(30.0, description="Profit of one conversion before campaign costs.")
    contact_cost: dict[str, float] = Field(
        default_factory=lambda: {"email": 0.10, "coupon": 0.10}, description="Arm -> cost per contact."
    )
    conversion_cost: dict[str, float] = Field(
        default_factory=lambda: {"coupon": 12.0},
        description="Arm -> cost of every conversion in that arm (a coupon's discount).",
    )
    budget: float = Field(0.0, description="Most to spend on contacts and conversion costs; 0 = no limit.")
    max_contacts: int = Field(0, description="Most customers to contact; 0 = no limit.")
    n_bootstrap: int = Field(400, ge=50, le=5000, description="Bootstrap replicates of the policy value.")
    interval_level: float = Field(0.9, gt=0.5, lt=1.0, description="Level of every interval in the report.")
    revenue_column: str = Field("revenue", description="Amount read out in the A/B section; empty = none.")
    cuped_covariates: dict[str, str] = Field(
        default_factory=lambda: {"converted": "pre_orders", "revenue": "pre_revenue"},
        description="A/B metric -> its pre-period covariate for CUPED; empty = plain difference in means.",
    )
    geo_readout: bool = Field(True, description="Read out the store's geo lift tests from per-geo KPI.")
    experiment_id: str = Field(
        "spring-campaign", description="Registry id of this campaign's experiment; empty = do not register."
    )

    library_configs: ClassVar = {
        "economics": (
            Economics,
            {
                "margin_per_conversion": "margin_per_conversion",
                "contact_cost": "contact_cost",
                "conversion_cost": "conversion_cost",
                "budget": "budget",
                "max_contacts": "max_contacts",
            },
        )
    }

    @field_validator("learners")
    @classmethod
    def _distinct_learners(cls, value: list[str]) -> list[str]:
        """Each learner once, in the order given."""
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _forest_needs_binary(self) -> UpliftParams:
        if self.outcome_type == "continuous" and "forest" in self.learners:
            raise ValueError(
                "learners: the uplift forest needs a binary outcome, remove 'forest' for outcome_type 'continuous'"
            )
        return self

    @property
    def economics(self) -> Economics:
        """The validated margin, costs, budget and contact limit."""
        return self.config("economics")

    @property
    def features(self) -> list[str]:
        """The feature columns the models use."""
        return list(self.feature_columns) or list(WORLD_FEATURES)
