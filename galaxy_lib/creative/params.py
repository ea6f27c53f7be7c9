"""Parameters of ``notebooks/05_creative``: every notebook parameter, flat, validated in its second cell.

``data_dir``, ``world_size`` and ``output_dir`` come from
:class:`galaxy_lib.core.params.NotebookParams`. The pre-flight model, the
recommender and the budget allocation settings are built into their library
configs during validation (:attr:`CreativeParams.library_configs`), so a bad
bound fails in the first cell named by its notebook parameter. The brand file is
read during validation too: a platform or band colour it does not know fails there.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from galaxy_lib.core.config import resolve_path
from galaxy_lib.core.params import InputPath, NotebookParams
from galaxy_lib.creative.bandit import AllocationConfig
from galaxy_lib.creative.brand import BrandFileError, load_brand
from galaxy_lib.creative.model import PreflightConfig
from galaxy_lib.creative.recommend import RecommenderConfig

__all__ = ["CreativeParams"]


class CreativeParams(NotebookParams):
    """Parameters of ``notebooks/05_creative`` (validated in the cell after the parameters cell).

    Examples
    --------
    In the notebook's second cell::

        params = creative.CreativeParams.from_notebook(globals())
    """

    brand_file: InputPath = Field("parameters/brand.yaml", description="The brand rules (YAML).")
    creatives_path: InputPath = Field(
        "",
        description="Your creatives (CSV/Parquet: image_path, platform, headline, body, cta, disclaimer, "
        "category or product_sku, creative_id); empty = the store's creatives.",
    )
    history_path: InputPath = Field(
        "",
        description="Your performance history (date, creative_id, audience, platform, impressions, clicks, "
        "conversions); empty = the store's creative_performance.",
    )
    products_path: InputPath = Field(
        "", description="Your catalogue (sku, name, category, price, master_image, ...); empty = the store's."
    )
    templates_path: InputPath = Field("", description="Copy templates (YAML list); empty = the built-in ones.")
    variant_platforms: list[str] = Field(
        default_factory=list, description="Platforms to render variants for; empty = every brand platform."
    )
    max_products: int = Field(0, ge=0, description="Render variants for the first this many products; 0 = all.")
    band_colour: str = Field("galaxy_purple", min_length=1, description="Palette name of the variants' text band.")
    text_embeddings: bool = Field(True, description="Give the pre-flight model MiniLM embeddings of the copy.")
    holdout_share: float = Field(0.25, gt=0.05, lt=0.6, description="Share of creatives held out to judge.")
    bootstrap: int = Field(20, ge=5, le=500, description="Refits behind each pre-flight interval.")
    interval_level: float = Field(0.9, gt=0.5, lt=1.0, description="Level of the pre-flight intervals.")
    embedding_components: int = Field(8, ge=0, le=64, description="Components kept of the text embedding.")
    seed: int = Field(0, ge=0, description="Seed of the split, the refits, LightFM and the allocation.")
    top_k: int = Field(5, ge=1, le=50, description="Creatives recommended per audience (precision@k).")
    test_days: int = Field(14, ge=1, le=120, description="Last days of the history held out for the recommender.")
    allocation_platform: str = Field("social", min_length=1, description="Platform whose creatives share a budget.")
    allocation_days: int = Field(28, ge=2, le=365, description="Days simulated.")
    daily_impressions: int = Field(100_000, ge=1_000, description="The day's budget in impressions.")
    floor: float = Field(0.02, ge=0.0, le=0.5, description="Least share of a day's budget a live creative gets.")
    cap: float = Field(0.5, gt=0.0, le=1.0, description="Most share of a day's budget a creative gets.")
    max_daily_change: float = Field(0.15, gt=0.0, le=1.0, description="Pacing: most a share moves in a day.")
    allocation_holdout: float = Field(0.05, ge=0.0, le=0.5, description="Share held out of every ad (baseline).")
    kill_probability: float = Field(
        0.95, gt=0.5, lt=1.0, description="Stop a creative once P(worse than no ad) reaches this."
    )

    library_configs: ClassVar = {
        "preflight": (
            PreflightConfig,
            {
                "holdout_share": "holdout_share",
                "bootstrap": "bootstrap",
                "interval_level": "interval_level",
                "embedding_components": "embedding_components",
                "seed": "seed",
            },
        ),
        "recommender": (RecommenderConfig, {"k": "top_k", "test_days": "test_days", "seed": "seed"}),
        "allocation": (
            AllocationConfig,
            {
                "days": "allocation_days",
                "daily_impressions": "daily_impressions",
                "floor": "floor",
                "cap": "cap",
                "max_daily_change": "max_daily_change",
                "holdout_share": "allocation_holdout",
                "kill_probability": "kill_probability",
                "seed": "seed",
            },
        ),
    }

    @model_validator(mode="after")
    def _names_the_brand_knows(self) -> CreativeParams:
        try:
            brand = load_brand(resolve_path(self.brand_file))
        except BrandFileError as err:
            raise ValueError(f"brand_file: {err}") from None
        unknown = [p for p in self.variant_platforms if p not in brand.platforms]
        if unknown or self.allocation_platform not in brand.platforms:
            bad = unknown or [self.allocation_platform]
            field = "variant_platforms" if unknown else "allocation_platform"
            raise ValueError(
                f"{field}: platform(s) {bad} are not in the brand file; it has {', '.join(brand.platforms)}"
            )
        if self.band_colour not in brand.palette:
            raise ValueError(
                f"band_colour: {self.band_colour!r} is not a palette name; use one of {', '.join(brand.palette)}"
            )
        return self

    @property
    def preflight(self) -> PreflightConfig:
        """Settings of the pre-flight model."""
        return self.config("preflight")

    @property
    def recommender(self) -> RecommenderConfig:
        """Settings of the LightFM recommender."""
        return self.config("recommender")

    @property
    def allocation(self) -> AllocationConfig:
        """Settings of the budget allocation."""
        return self.config("allocation")
