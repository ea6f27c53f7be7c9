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
# # Uplift and experiments
#
# **Purpose.** Read out a randomised campaign (did each arm work, by how much, with an interval),
# find the customers each arm actually persuades, turn that into a contact list with an expected
# profit measured on the experiment itself, and read out geo tests so the MMM and the MTA can be
# calibrated with them.
#
# **Inputs.** The store's `uplift_features` at `data_dir` (customers with measurement consent; only
# those with personalisation consent at `as_of` are ever targeted), or your own campaign table
# (`data_path`: one row per customer with the arm, the outcome and the features named below). Geo
# tests: the store's `lift_tests`, `kpi` and `spend`.
#
# **Outputs.** `metrics.json` with the readout per arm, every learner's held-out AUUC and Qini, the
# chosen learner, the value of each targeting policy with its interval, and the geo tests; tables
# including the contact list (pseudonymised keys only) and `geo_lift_tests.csv`, which `02_mmm`
# accepts as `lift_tests_path`; the figures.

# %% tags=["parameters"]
data_dir: str = "data/ci"  # store root; a Galaxy world of `world_size` is built there when empty
world_size: str = "ci"  # ci (seconds) | demo | bench
output_dir: str = ""  # run folder; empty means reports/adhoc/04_uplift
data_path: str = ""  # your campaign table (CSV/Parquet); empty: the store's uplift_features
id_column: str = "customer_key"  # customer id column of data_path (pseudonymised on load); empty: row numbers
treatment_column: str = "treatment"  # arm label of each row
control_label: str = "control"  # the arm that was not contacted
outcome_column: str = "converted"  # what the campaign should move
outcome_type: str = "binary"  # binary (0/1) | continuous (an amount)
feature_columns: list = []  # model features; empty: the Galaxy world's features
targeting_consent_column: str = ""  # 0/1 column of data_path: may this customer be targeted?
as_of: str = ""  # targeting consent evaluated at this date (ISO); empty means now
learners: list = ["s", "t", "x", "r", "dr", "forest"]  # causalml learners to compare
choose_by: str = "qini"  # held-out score that picks the learner: qini | auuc
test_share: float = 0.3  # share of customers held out to choose and judge
seed: int = 0  # seed of the split, the learners and the bootstrap
forest_trees: int = 30  # trees of the uplift random forest
margin_per_conversion: float = 30.0  # profit of one conversion before campaign costs
contact_cost: dict = {"email": 0.10, "coupon": 0.10}  # arm -> cost per contact
conversion_cost: dict = {"coupon": 12.0}  # arm -> cost of every conversion in it (a coupon's discount)
budget: float = 0.0  # most to spend on contacts and conversion costs; 0 means no limit
max_contacts: int = 0  # most customers to contact; 0 means no limit
n_bootstrap: int = 400  # bootstrap replicates of each policy's value
interval_level: float = 0.9  # level of every interval in this report
revenue_column: str = "revenue"  # amount read out next to the outcome; empty: none
cuped_covariates: dict = {"converted": "pre_orders", "revenue": "pre_revenue"}  # metric -> pre-period covariate
geo_readout: bool = True  # read out the store's geo lift tests from per-geo KPI
experiment_id: str = "spring-campaign"  # registry id of this campaign; empty: do not register

# %%
from IPython.display import Markdown

from galaxy_lib import uplift
from galaxy_lib.experiments import readout_table, sample_size_per_arm
from galaxy_lib.uplift import analysis, plots

params = uplift.UpliftParams.from_notebook(globals())

# %% [markdown]
# ## The campaign

# %%
data = uplift.load_uplift_data(params)
inputs = data.summary()
Markdown(
    f"**{inputs['rows']:,} customers** from {data.source}: "
    + ", ".join(f"{arm} {n:,}" for arm, n in inputs["arms"].items())
    + f". {data.consent_note}"
)

# %% [markdown]
# Customers without measurement consent never reach this table; those without personalisation
# consent are in it (they measure the campaign) but never get a score or a place on the list.

# %% [markdown]
# ## Did it work? The experiment read out arm by arm

# %%
readout = analysis.read_out_campaign(data, alpha=1 - params.interval_level)
fig_readout = plots.readout_chart(readout.readouts)
fig_readout

# %% [markdown]
# Each point is an arm's relative lift over the control, with its interval; an interval clear of
# the dotted zero line is an effect the experiment can vouch for. The split was checked first:
# a broken assignment (sample-ratio mismatch) stops the notebook here.

# %%
readout_table(readout.readouts).set_index(["metric", "arm"])

# %% [markdown]
# CUPED subtracts what each customer's pre-period purchases predict, which narrows the interval
# without moving the estimate; the last column says how much variance it removed.

# %%
control_rate = readout.readouts[0].mean_control
sizes = {
    f"{mde:.1f} pts": sample_size_per_arm(control_rate, mde / 100, alpha=1 - params.interval_level)
    for mde in (0.5, 1.0, 2.0)
}
Markdown(
    "Customers per arm needed to detect an absolute lift of "
    + ", ".join(f"{k}: **{v:,}**" for k, v in sizes.items())
    + f" (control rate {control_rate:.1%}, 80% power)."
)

# %%
monitor = analysis.monitor_campaign(data, alpha=1 - params.interval_level)
fig_monitor = plots.sequential_chart(monitor) if monitor else None
fig_monitor if fig_monitor is not None else Markdown("The table has no send dates (`sent_at`) to replay daily looks.")

# %% [markdown]
# The campaign replayed as a daily monitor would have seen it: each day adds the customers whose
# 14-day outcome became known. The p-value on the left stays valid however often it is checked
# (mixture SPRT), so the first day it crosses the dotted line is a day the test could have
# stopped; the band on the right holds the effect at every day at once.

# %% [markdown]
# ## Who responds? Six causalml learners on the held-out customers

# %%
fit = analysis.fit_and_compare(data)
fit.comparison().style.format("{:.3f}").format("{:.1f}", subset=["fit seconds"])

# %% [markdown]
# AUUC and the Qini coefficient measure how well each learner orders held-out customers by their
# response (Qini above 0 beats random targeting); PEHE and Spearman, when shown, measure the
# distance to the Galaxy world's true uplift. The chosen learner has the best mean held-out Qini;
# the average of the learners is chosen instead when its Qini is within one standard error of it.

# %%
fig_qini = plots.qini_chart(fit.curves, fit.chosen)
fig_qini

# %% [markdown]
# Read a Qini curve from the left: targeting the customers the learner ranks first, how many extra
# conversions does the campaign make? The dashed line is random targeting; the further a curve
# bows above it, the more the learner's order is worth. Where a curve bends down at the right,
# the last customers are sleeping dogs: contacting them costs conversions.

# %%
fig_gain = plots.qini_chart(fit.gain_curves, fit.chosen, title="Cumulative gain on the held-out customers")
fig_gain

# %% [markdown]
# The cumulative gain asks the same question with the uplift measured inside the targeted
# group (its treated-minus-control rate times its size), so it is less sensitive to how many
# treated and control customers fall in the first ranks; curves that agree on both charts can
# be trusted.

# %%
fig_deciles = plots.decile_chart(fit.deciles)
fig_deciles

# %% [markdown]
# Bars are the chosen learner's predicted uplift in each tenth of held-out customers; points are
# what the experiment observed there (treated minus control, with a 90% interval). Points that
# fall with the bars mean the ranking is real, not an artefact of the model.

# %%
fig_importance = plots.importance_chart(fit.importance)
fig_importance

# %% [markdown]
# The features that move the chosen learner's predicted uplift most, per arm (how much a surrogate
# model's fit drops when the feature is shuffled). A feature can matter for one arm and not the other.

# %%
fig_truth = plots.truth_scatter(fit.predictions[fit.chosen], fit.true_uplift) if fit.true_uplift is not None else None
fig_truth if fig_truth is not None else Markdown("The true uplift is known only in a Galaxy world.")

# %% [markdown]
# In a Galaxy world every customer's true uplift is known: points near the dotted diagonal are
# customers the learner got right. Individual uplift is hard to learn, so expect a cloud; the
# ranking (Spearman in the table above) is what targeting needs.

# %% [markdown]
# ## Who to contact, and what it is worth

# %%
plan = analysis.plan_targeting(data, fit)
totals = plan.totals()
fig_policy = plots.policy_chart(totals, plan.estimate.level)
fig_policy

# %% [markdown]
# Each bar is a policy's incremental profit over contacting nobody, measured on the held-out
# customers of the experiment (not predicted by the model), scaled to the customers who may be
# targeted, with a bootstrap interval. "propensity" contacts as many customers as uplift
# targeting does, but the ones most likely to buy anyway; in a Galaxy world the black marks are
# the true profits.

# %%
plan.table()

# %% [markdown]
# Incremental conversions and profit over no contact, for all the customers who may be targeted.

# %%
counts = plan.contact_list["arm"].value_counts()
Markdown(
    f"The contact list holds **{len(plan.contact_list):,}** of {plan.population:,} targetable customers: "
    + ", ".join(f"{arm} {n:,}" for arm, n in counts.items())
    + ". First rows (pseudonymised keys only):"
)

# %%
plan.contact_list.head(10).style.format({"uplift": "{:+.3f}", "profit": "{:,.2f}"}).hide(axis="index")

# %% [markdown]
# ## Geo tests for the MMM and the MTA

# %%
geo = (
    analysis.read_out_geo_tests(params.data_dir, seed=params.seed)
    if params.geo_readout and not params.data_path
    else None
)
fig_geo = plots.geo_chart(geo) if geo is not None else None
fig_geo if fig_geo is not None else Markdown("No geo tests to read out.")

# %% [markdown]
# Each test's incremental revenue per test week, measured as the test geo's revenue against a
# counterfactual from the other geos (CausalPy), with its 94% interval; black marks are the true
# lifts in a Galaxy world. `geo_lift_tests.csv` in the run folder is ready for `02_mmm`'s
# `lift_tests_path`.

# %% [markdown]
# ## The experiment registry

# %%
experiment = analysis.register_campaign(data, readout)
Markdown(
    f"Experiment `{experiment[0]}` is **{experiment[1]}** in the store's registry (`galaxy experiments list`)."
    if experiment
    else "Not registered (your own table, or no experiment_id)."
)

# %% [markdown]
# ## Publish
#
# The run is written to `output_dir`: `metrics.json` with two gates (the chosen learner beats
# random targeting; the policy's profit interval stays above zero), the tables above, the contact
# list and the geo lift tests, and the figures.

# %%
print(
    uplift.publish(
        params.output_dir,
        data,
        readout,
        fit,
        plan,
        geo_tests=geo,
        experiment=experiment,
        figures={
            "ab_readout": fig_readout,
            "sequential_monitor": fig_monitor,
            "qini_curves": fig_qini,
            "gain_curves": fig_gain,
            "uplift_deciles": fig_deciles,
            "feature_importance": fig_importance,
            "policy_profit": fig_policy,
            "uplift_vs_truth": fig_truth,
            "geo_tests": fig_geo,
        },
    )
)
