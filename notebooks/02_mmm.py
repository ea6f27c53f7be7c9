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
# # Media-mix model: which channels pay, and where should the budget go?
#
# **Purpose.** Estimate what each paid channel contributes to the KPI with a Bayesian media-mix
# model (pymc-marketing: adstock, saturation, trend, yearly seasonality, controls), calibrated with
# lift tests; check the fit with a diagnostics gate; report ROI and marginal ROI with 94% intervals,
# the contribution of every component over time, response curves, how far the data moved each
# channel from its prior, the budget split that maximises the expected KPI within floors and caps,
# and a forecast of the KPI for a spend plan.
#
# **Inputs.** With no `data_path`, the Galaxy world in `data_dir` (`curated.mmm_weekly`, national
# rows, and the geo lift tests in `staged.lift_tests`). With `data_path`, your own CSV or Parquet
# file: name its columns in the parameters (`date_column`, `target_column`, `channel_columns`,
# `control_columns`, ...; see `parameters/examples/`).
#
# **Outputs.** `metrics.json` (per channel `roi_mean`, `roi_hdi_low`, `roi_hdi_high`, `mroi_mean`,
# `contribution_share`; the diagnostics and gate status; the recommended allocation), the result
# tables as CSV, the figures, and the fitted model `mmm_model.nc` (reload with
# `MediaMixModel.load`). A model that fails the gate is reported as failed and its results withheld.

# %% tags=["parameters"]
data_dir: str = "data/ci"  # Galaxy world store; built there when empty
world_size: str = "ci"  # ci | demo | bench (size of the world built when missing)
output_dir: str = ""  # run folder; empty means reports/adhoc/02_mmm
data_path: str = ""  # your CSV/Parquet; empty means the Galaxy world
date_column: str = "week"  # period start date column
target_column: str = "revenue"  # KPI column
target_multiplier_column: str = ""  # optional column multiplied into the KPI (e.g. revenue per conversion)
channel_columns: list = []  # spend columns; empty means every spend_* column
control_columns: list = ["price_index", "holiday"]  # numeric controls
event_columns: list = []  # categorical event columns, one 0/1 control per event
geo_column: str = ""  # empty: national model; else the geo column (per-geo model)
lift_tests_path: str = ""  # lift-test CSV/Parquet; empty: the world's lift tests (none for own data)
use_lift_tests: bool = True  # calibrate with lift tests when there are any
adstock: str = "geometric"  # geometric | weibull_cdf
l_max: int = 8  # longest carry-over, in periods
saturation: str = "logistic"  # logistic | hill
trend: str = "linear"  # none | linear | piecewise
yearly_seasonality: int = 2  # Fourier orders; 0 turns seasonality off
time_varying_intercept: bool = False  # baseline drifting over time (HSGP; slower)
chains: int = 2  # MCMC chains
tune: int = 300  # warm-up draws per chain
draws: int = 300  # kept draws per chain
sampler: str = "numpyro"  # numpyro (fast, JAX) | pymc
target_accept: float = 0.95  # NUTS target acceptance; higher means smaller steps and fewer divergences
random_seed: int = 42  # sampler seed
rhat_warn: float = 1.01  # gate: largest R-hat above this warns
rhat_fail: float = 1.05  # gate: largest R-hat above this fails the run
ess_warn: float = 200.0  # gate: smallest bulk ESS below this warns
ess_fail: float = 50.0  # gate: smallest bulk ESS below this fails the run
budget_horizon_periods: int = 13  # budget plan length in periods (13 weeks is a quarter)
budget_total: float = 0.0  # money over the horizon; 0 keeps the current spend rate
budget_floor: float = 0.5  # each channel keeps at least this multiple of its current spend
budget_cap: float = 2.0  # ... and gets at most this multiple
budget_channel_bounds: dict = {}  # per-channel [floor, cap] multiples, e.g. {"tv": [0.8, 1.2]}
forecast_periods: int = 13  # periods to forecast after the data

# %%
from galaxy_lib import mmm
from galaxy_lib.apps.mmm import show_budget_planner
from galaxy_lib.mmm import plots

params = mmm.MMMParams.from_notebook(globals())

# %% [markdown]
# Every parameter, and every bound of the model, sampler, gate and budget settings it feeds, was
# checked in the cell above: a wrong value stops there, naming the parameter and the fix.

# %%
data = mmm.load_mmm_data(
    params.to_data_config(), l_max=params.l_max, data_dir=params.data_dir, world_size=params.world_size
)
true_roi = mmm.world_true_roi(params.data_dir) if not params.data_path else None
print(
    f"{data.source}: {data.n_periods} periods from {data.dates[0]:%Y-%m-%d}, channels {list(data.channels)}, "
    f"controls {list(data.controls)}, {0 if data.lift_tests is None else len(data.lift_tests)} lift tests"
)
print(*data.notes, sep="\n")

# %% [markdown]
# ## The data
# Every check (dates, missing values, negative or constant spend, enough periods for the adstock
# window) ran before this point; a failure would have stopped here with the column and the fix.

# %%
fig_data = plots.spend_chart(data.frame, data.channels, data.target_name)
fig_data

# %% [markdown]
# Channels that go dark for weeks (flighting) and channels that move with demand are what let the
# model tell their effects apart.

# %% [markdown]
# ## Fit
# pymc-marketing MMM with the lift tests as extra likelihood terms; NUTS through numpyro by default.

# %%
model = mmm.MediaMixModel(params.to_model_config()).fit(data)
print(f"fitted in {model.fit_seconds_:.1f} s with {model.n_lift_tests_} lift tests")

# %% [markdown]
# ## Diagnostics gate
# R-hat, effective sample size, divergences and a posterior predictive check. `fail` on any of them
# marks the run failed and withholds the results below from the report.

# %%
diagnostics = mmm.diagnose(model, params.to_gate_thresholds())
print(f"gate: {diagnostics.status}", *diagnostics.reasons, sep="\n  ")
fig_ppc = plots.ppc_chart(mmm.posterior_predictive(model))
fig_ppc

# %% [markdown]
# About 94% of the observed periods should fall inside the band; long runs outside it point to a
# missing control, event or trend.

# %% [markdown]
# ## ROI, marginal ROI and contribution shares

# %%
summary = mmm.channel_summary(model)
fig_roi = plots.roi_chart(summary, true_roi)
fig_roi

# %%
summary.round(3)

# %% [markdown]
# ROI is KPI per unit of spend over the data window; marginal ROI is the return on the next unit
# at the current spend. A channel with high ROI but low marginal ROI is near saturation.

# %%
fig_share = plots.share_chart(summary)
fig_share

# %% [markdown]
# ## Contributions over time

# %%
decomp = mmm.decomposition(model)
fig_decomp = plots.decomposition_chart(decomp)
fig_decomp

# %% [markdown]
# The stacked areas add up to the model's mean prediction; the dotted line is the observed KPI.

# %% [markdown]
# ## Response curves and prior vs posterior

# %%
response = mmm.response_curve_samples(model)
curves = response.table()
fig_curves = plots.response_curves_chart(curves)
fig_curves

# %%
shift = mmm.prior_posterior_shift(model)
fig_shift = plots.prior_posterior_chart(shift)
fig_shift

# %% [markdown]
# A contraction near 1 means the data (and lift tests) pinned the channel's ROI down; near 0 means
# the prior still dominates and the channel needs more variation in spend or a lift test.

# %% [markdown]
# ## Budget optimisation

# %%
budget = mmm.optimise_budget(model, params.to_budget_config())
print(
    f"expected gain {budget.gain_mean:,.0f} (94% HDI {budget.gain_hdi_low:,.0f} to {budget.gain_hdi_high:,.0f}, "
    f"{budget.gain_pct:+.1%}); P(gain > 0) = {budget.prob_gain_positive:.2f}"
)
fig_budget = plots.budget_chart(budget.allocation)
fig_budget

# %% [markdown]
# The recommended split of the same total budget over the horizon, within the floors and caps; the
# gain is the extra media-driven KPI against the current split, evaluated on every posterior draw.

# %% [markdown]
# ## Try your own split
# Move a channel's spend per period (or pick a preset); the table compares the plan with today's
# spend on the long-run response curves above (spend held steady, carry-over settled), draw by draw.

# %%
show_budget_planner(response, recommended=budget.allocation["optimal_per_period"], kpi_name=data.target_name)

# %% [markdown]
# ## Forecast

# %%
plans = {"current split": None, "recommended split": budget.allocation["optimal_per_period"]}
forecasts = {
    name: mmm.forecast(model, mmm.spend_plan(model, params.forecast_periods, spend)) for name, spend in plans.items()
}
history = data.frame.groupby("date", as_index=False)["kpi"].sum()
fig_forecast = plots.forecast_chart(history, forecasts, data.target_name)
fig_forecast

# %% [markdown]
# ## Publish
# Gates, metrics, tables, figures and the fitted model go to the run folder.

# %%
recovery = mmm.recovery_against_truth(summary, true_roi) if true_roi else None
forecast_table = forecasts["recommended split"].assign(plan="recommended split")

# %%
print(
    mmm.publish(
        params.output_dir,
        model,
        diagnostics,
        summary=summary,
        budget=budget,
        recovery=recovery,
        tables={
            "decomposition": decomp,
            "response_curves": curves,
            "prior_posterior": shift,
            "forecast": forecast_table,
        },
        figures={
            "data": fig_data,
            "ppc": fig_ppc,
            "roi": fig_roi,
            "shares": fig_share,
            "decomposition": fig_decomp,
            "response_curves": fig_curves,
            "prior_posterior": fig_shift,
            "budget": fig_budget,
            "forecast": fig_forecast,
        },
    )
)
