# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Creative: brand guardrails, variants, pre-flight scores, recommendation and budget
#
# **Purpose.** Stop off-brand creatives before a penny is spent on them, make the variants each
# platform needs from a product photo and copy templates, predict which will be clicked and
# bought before launch, recommend creatives per audience, and after launch move budget to what
# works with Thompson sampling, with floors, caps, pacing and a kill switch.
#
# **Inputs.** The brand file (`brand_file`); the store's creatives with their PNGs, the product
# catalogue with master images and the creative performance history at `data_dir` (or your own
# files: `creatives_path`, `products_path`, `history_path`); copy templates (`templates_path`).
#
# **Outputs.** `metrics.json` with guardrail pass/fail counts per rule, the pre-flight model's
# AUC and calibration error, precision@k against popularity, the allocation's regret against an
# even split and the oracle and its spend shares, and the ids of everything scored; the variant
# PNGs under `variants/`, contact sheets, tables and figures.

# %% tags=["parameters"]
data_dir: str = "data/ci"  # store root; a Galaxy world of `world_size` is built there when empty
world_size: str = "ci"  # ci (seconds) | demo | bench
output_dir: str = ""  # run folder; empty means reports/adhoc/05_creative
brand_file: str = "parameters/brand.yaml"  # the brand rules every creative is checked against
creatives_path: str = ""  # your creatives (CSV/Parquet with image_path, platform, copy); empty: the store's
history_path: str = ""  # your performance history (CSV/Parquet); empty: the store's creative_performance
products_path: str = ""  # your catalogue with master images (CSV/Parquet); empty: the store's products
templates_path: str = ""  # copy templates (YAML list); empty: the built-in templates
variant_platforms: list = []  # platforms to render variants for; empty: every platform of the brand file
max_products: int = 1  # render variants for the first this many products; 0: all
band_colour: str = "galaxy_purple"  # palette name of the variants' text band
text_embeddings: bool = True  # give the pre-flight model MiniLM embeddings of the copy
holdout_share: float = 0.25  # share of creatives held out to judge the pre-flight model
bootstrap: int = 20  # refits behind each pre-flight interval
interval_level: float = 0.9  # level of the pre-flight intervals
embedding_components: int = 8  # principal components kept of the text embedding
seed: int = 0  # seed of the split, the refits, LightFM and the allocation
top_k: int = 5  # creatives recommended per audience (precision@k)
test_days: int = 14  # last days of the history held out to judge the recommender
allocation_platform: str = "social"  # platform whose on-brand creatives share a budget
allocation_days: int = 28  # days simulated
daily_impressions: int = 100000  # the day's budget in impressions
floor: float = 0.02  # least share of a day's budget a live creative gets
cap: float = 0.5  # most share of a day's budget one creative gets
max_daily_change: float = 0.15  # pacing: most a creative's share moves in a day
allocation_holdout: float = 0.05  # share of the audience held out of every ad (the baseline)
kill_probability: float = 0.95  # stop a creative once P(worse than no ad) reaches this

# %%
from IPython.display import Markdown

from galaxy_lib import creative
from galaxy_lib.creative import analysis, plots

params = creative.CreativeParams.from_notebook(globals())

# %% [markdown]
# ## What we have

# %%
inputs = creative.load_creative_inputs(
    params.data_dir,
    params.world_size,
    brand_file=params.brand_file,
    creatives_path=params.creatives_path,
    history_path=params.history_path,
    products_path=params.products_path,
)
summary = inputs.summary()
Markdown(
    f"**{summary['creatives']:,} creatives**, {summary['products']:,} products with master images and "
    f"**{summary['history_rows']:,} rows** of performance history over {summary['audiences']} audiences "
    f"({inputs.source}). {summary['history_rows_rejected']:,} history rows were rejected and are listed "
    f"in `history_rejected.csv` with the reason. Brand: {inputs.brand.name}."
)

# %% [markdown]
# ## Brand guardrails on the existing creatives

# %%
review = analysis.review_creatives(inputs.creatives, inputs)
counts = review.results.counts()
Markdown(
    f"**{len(review.passed)} of {len(review.creatives)}** creatives pass every rule of the brand file; "
    "only those are ever scored or given budget."
)

# %%
counts

# %% [markdown]
# Each row is a rule of the brand file; "not checked" means an earlier rule (an unreadable file,
# an unknown platform) made it impossible to measure. Examples of each failure, with the value
# measured and the threshold it broke (every one is in `guardrails.csv`):

# %%
Markdown(analysis.failure_reasons(review))

# %%
analysis.failure_sheet(review)

# %% [markdown]
# The creatives that failed, each labelled with the rules it broke.

# %% [markdown]
# ## Variants from a master image and copy templates

# %%
templates = creative.load_templates(params.templates_path) if params.templates_path else creative.DEFAULT_TEMPLATES
variants = analysis.make_variants(
    inputs,
    templates,
    creative.report.run_folder(params.output_dir) / "variants",
    platforms=params.variant_platforms,
    max_products=params.max_products,
    band_colour=params.band_colour,
)
Markdown(
    f"**{len(variants.batch.table)} variants** ({len(templates)} templates x the brand file's platform "
    f"sizes), **{len(variants.review.passed)}** pass every guardrail; "
    f"{len(variants.batch.problems)} could not be made (listed in `variant_problems.csv`)."
)

# %%
variants.sheet()

# %% [markdown]
# Each variant is cropped around the product (the salient region, not the centre), sized exactly
# for its platform, set in the brand fonts with a call to action, the disclaimers its copy calls for
# and the logo. The guardrails checked every one of them.

# %%
fig_guardrails = plots.guardrail_chart(
    {"existing creatives": counts, "generated variants": variants.review.results.counts()}
)
fig_guardrails

# %% [markdown]
# ## Pre-flight model: click-through and conversion before launch

# %%
embeddings = analysis.text_embeddings(review) if params.text_embeddings else None
preflight = analysis.fit_preflight_model(inputs, review, params.preflight, embeddings)
preflight_table = analysis.preflight_table(preflight)
preflight_table

# %% [markdown]
# AUC on creatives the model never saw, against ranking by the platform's base rate alone; the
# calibration error is the impression-weighted gap between predicted and observed rates.

# %%
fig_calibration = plots.calibration_chart(preflight.model.calibration)
fig_calibration

# %% [markdown]
# Points on the dotted diagonal are bins where the predicted rate is the rate the held-out
# creatives achieved; bubble size is the number of impressions (or clicks) behind each bin.

# %%
fig_importance = plots.importance_chart(preflight.model.importance)
fig_importance

# %% [markdown]
# How much worse the held-out predictions get when one input is shuffled: the inputs the model
# actually leans on.

# %%
truth_scores = analysis.holdout_against_truth(preflight, inputs)
fig_truth = plots.truth_chart(truth_scores) if truth_scores is not None else None
fig_truth if fig_truth is not None else Markdown("No known truth outside a Galaxy world.")

# %% [markdown]
# In a Galaxy world the true click-through rate of every creative is known: a model that ranks
# well puts the points in the same order as the diagonal, and an honest interval crosses it.

# %%
variant_embeddings = analysis.text_embeddings(variants.review) if params.text_embeddings else None
scores = analysis.score_variants(preflight, variants, inputs.products, variant_embeddings)
fig_scores = plots.variant_score_chart(scores) if len(scores) else None
fig_scores if fig_scores is not None else Markdown("No variant passed the guardrails, so none was scored.")

# %% [markdown]
# The on-brand variants by predicted click-through rate, with the interval from refits on
# resampled creatives: a wide interval means the variant is unlike anything in the history.

# %% [markdown]
# ## Which creative for which audience: LightFM

# %%
recommender = analysis.fit_recommender_model(inputs, review, params.recommender)
headlines = inputs.creatives.set_index("creative_id")["headline"]
recommended = analysis.recommendations(recommender, review.passed, params.top_k, headlines)
fig_recommender = plots.recommender_chart(analysis.recommender_table(recommender))
fig_recommender

# %% [markdown]
# Precision@k: of the k creatives recommended to an audience, the share that were among its
# best performers on the held-out days. Popularity recommends the same overall best creatives to
# everyone; LightFM learns which audience likes which colour, format, product and offer.

# %%
recommended.style.set_properties(**{"text-align": "left"})

# %% [markdown]
# The on-brand creatives LightFM would show each audience first.

# %% [markdown]
# ## Moving budget to what works

# %%
arms, simulated_against = analysis.allocation_arms(inputs, review.passed, params.allocation_platform)
allocation = analysis.allocate_budget(arms, params.allocation)
fig_regret = plots.regret_chart(allocation.regret)
fig_regret

# %% [markdown]
# Regret is the conversions lost against an oracle that knows every creative's true rate and
# obeys the same floors, caps and pacing. Thompson sampling's curve flattens once it has learned;
# the even split's keeps climbing.

# %%
Markdown(
    f"Thompson sampling lost **{allocation.regret_ratio:.2f}** times what the even split lost by day "
    f"{params.allocation_days}, over {len(arms)} on-brand {params.allocation_platform} creatives "
    f"(simulated against {simulated_against})."
)

# %%
thompson = allocation.runs["thompson"]
fig_spend = plots.spend_chart(thompson.daily, thompson.killed)
fig_spend

# %% [markdown]
# Every live creative keeps its floor, none goes above the cap, and no share moves more than the
# pacing limit in a day. A creative whose conversion rate is credibly below the held-out
# audience's is stopped and marked in the legend.

# %%
analysis.allocation_table(allocation)

# %% [markdown]
# ## Publish
#
# The run is written to `output_dir`: `metrics.json` with the gates (variants on brand, unreadable
# files, the pre-flight model beats base rates, LightFM beats popularity, the allocation's regret),
# the tables above, the contact sheets and the figures.

# %%
run = creative.CreativeRun(
    inputs=inputs,
    review=review,
    variants=variants,
    templates=templates,
    preflight=preflight,
    scores=scores,
    recommender=recommender,
    recommended=recommended,
    arms=arms,
    allocation=allocation,
    allocation_platform=params.allocation_platform,
    simulated_against=simulated_against,
)
print(
    creative.publish(
        params.output_dir,
        run,
        figures={
            "guardrails": fig_guardrails,
            "calibration": fig_calibration,
            "feature_importance": fig_importance,
            "preflight_vs_truth": fig_truth,
            "variant_scores": fig_scores,
            "recommender": fig_recommender,
            "regret": fig_regret,
            "spend_shares": fig_spend,
        },
        sheets={"failed_creatives": analysis.failure_sheet(review), "variant_sheet": variants.sheet()},
    )
)
