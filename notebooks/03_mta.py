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
# # Multi-touch attribution
#
# **Purpose.** Split conversions and revenue across the channels of each customer journey with
# six rules of thumb, exact Markov-chain removal effects (orders 1 to 3) and Shapley values; then
# calibrate the split to what experiments (geo lift tests) or the MMM say each channel really
# adds, and check it against the true channel credit of the Galaxy world.
#
# **Inputs.** Either the staged `touchpoints`, `conversions` and `consent` of the store at
# `data_dir` (customers without measurement consent are left out), or your own aggregated path
# table in ChannelAttribution's format (`paths_path`, with its `separator`). Calibration targets:
# `incremental_path` (per-channel incremental estimates; a `02_mmm` run folder, or `latest:mmm` for
# the newest MMM run that passed its gate) or the store's `lift_tests` and `spend`.
#
# **Outputs.** `metrics.json` with the credit per channel (conversions, revenue, share) for every
# model and for the calibrated model, the distance to the true credit when known, and two gates;
# the credit, calibration and comparison tables; the path table with paths seen by fewer than
# `k_min_paths` distinct customers suppressed; the figures.

# %% tags=["parameters"]
data_dir: str = "data/ci"  # store root; a Galaxy world of `world_size` is built there when empty
world_size: str = "ci"  # ci (seconds) | demo | bench
output_dir: str = ""  # run folder; empty means reports/adhoc/03_mta
paths_path: str = ""  # your own path table (CSV/Parquet, ChannelAttribution format); empty: journeys from events
separator: str = " > "  # separator between channels in paths_path
lookback_days: float = 30.0  # attribution window before a conversion, in days
half_life_days: float = 7.0  # time-decay half-life (days; touches for a path table without timing)
markov_order: int = 3  # highest Markov order fitted (1 to 3)
k_min_paths: int = 10  # paths of fewer distinct customers (journeys for paths_path) are suppressed
calibration_model: str = "markov"  # model calibrated to incrementality; "markov" means the highest order fitted
calibration_mode: str = "relative"  # relative (re-split by incremental shares) | absolute (same units)
incremental_path: str = ""  # incremental estimates per channel (CSV/JSON), a 02_mmm run, latest:mmm; empty: lift tests
direct_channel: str = "direct"  # channel skipped by last non-direct attribution
as_of: str = ""  # consent evaluated at this date (ISO); empty means now
top_n_paths: int = 15  # journeys drawn in the Sankey chart

# %%
from galaxy_lib import mta
from galaxy_lib.mta import analysis, plots

params = mta.MtaParams.from_notebook(globals())

# %% [markdown]
# ## Journeys

# %%
inputs = mta.load_inputs(params)
summary = inputs.summary()
analysis.inputs_table(summary)

# %% [markdown]
# Each journey ends in a conversion or not; conversions with no touch in the lookback window are
# held in quarantine with their reason, and customers without measurement consent are excluded
# before anything is counted.

# %% [markdown]
# ## Credit by model

# %%
results = mta.fit_all_models(
    inputs.paths,
    markov_orders=range(1, params.markov_order + 1),
    half_life=params.half_life_days,
    direct_channels=[params.direct_channel],
)
shares = analysis.credit_table(results)
fig_credit = plots.credit_by_model(shares)
fig_credit

# %% [markdown]
# Rules that look at the last touch favour the channels people use to come back and buy (search,
# direct); first touch and the data-driven models (Markov, Shapley) move credit towards the
# channels that start journeys.

# %%
plots.removal_effects(results[f"markov_order_{params.markov_order}"])

# %% [markdown]
# A removal effect is the share of conversions the Markov chain loses when a channel is taken out
# of every journey; the Markov credit splits conversions in proportion to these effects.

# %%
analysis.credit_table(results, "conversions").T.rename_axis(index="model", columns=None).style.format("{:,.0f}")

# %% [markdown]
# The same credit in conversions, one row per model: each row adds up to the conversions in the
# data. `credit.csv` in the run folder has revenue, shares and the Markov removal effects too.

# %% [markdown]
# ## Journeys that matter

# %%
top = analysis.top_paths(inputs.paths, n=params.top_n_paths, min_journeys=params.k_min_paths)
fig_sankey = plots.journey_sankey(top, separator=inputs.paths.separator)
fig_sankey

# %% [markdown]
# The widest flows are the most travelled journeys (only paths of at least `k_min_paths`
# distinct customers are drawn); the green band on the right is the share of them that converted.

# %% [markdown]
# ## Calibration to incrementality

# %%
calibration = analysis.calibrate_if_available(
    results, params.calibrated_model_name, inputs.incremental, mode=params.calibration_mode
)
fig_calibration = plots.attributed_vs_incremental(calibration)
fig_calibration

# %% [markdown]
# Where the grey and blue bars differ, the path model's split disagrees with the experiments:
# calibration keeps the path model's total for these channels but re-splits it by incrementality,
# and leaves channels without an experiment as they were.

# %%
calibration.table.round(3) if calibration is not None else "No calibration targets available."

# %% [markdown]
# `factor` is what each channel's credit was multiplied by; apply it to that channel's campaigns
# or creatives to carry the calibration down to finer tables.

# %% [markdown]
# ## Against the truth

# %%
all_shares = analysis.shares_with_calibration(results, calibration)
comparison = analysis.compare_if_known(all_shares, inputs.truth)
fig_truth = plots.credit_vs_truth(
    all_shares, inputs.truth, models=["last_touch", *analysis.calibration_columns(all_shares, calibration)]
)
fig_truth

# %% [markdown]
# The black marks are the shares of marketing-caused conversions each channel really triggered in
# the Galaxy world; last touch over-credits the navigational search and direct visits that follow
# the decision to buy.

# %%
comparison.round(3) if comparison is not None else "The true channel credit is known only in a Galaxy world."

# %% [markdown]
# `total_variation` is the share of credit sitting on the wrong channels (0 is perfect); models
# are listed best first.

# %% [markdown]
# ## Publish

# %%
published = analysis.publishable_paths(inputs.paths, k=params.k_min_paths)
print(published.summary())
published.table.head(20)

# %% [markdown]
# Only this k-suppressed path table leaves the team: no row describes fewer than `k_min_paths`
# distinct customers (journeys, for a path table from `paths_path`, which has no customer ids).

# %% [markdown]
# The run is written to `output_dir`: `metrics.json` with the two gates (quarantined conversions;
# calibrated credit closer to the truth than last touch, when the truth is known), the credit,
# calibration and comparison tables, the k-suppressed path table, and the figures above.

# %%
print(
    mta.publish(
        params.output_dir,
        inputs,
        results,
        published,
        calibration=calibration,
        comparison=comparison,
        figures={
            "credit_by_model": fig_credit,
            "journeys_sankey": fig_sankey,
            "attributed_vs_incremental": fig_calibration,
            "credit_vs_truth": fig_truth,
        },
    )
)
