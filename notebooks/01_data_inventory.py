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
# # Data inventory and quality gates
#
# **Purpose.** Before any model runs, know what data there is and whether it can be trusted:
# every table in every zone, how fresh it is, whether it meets its contract, whether customers
# consented to its use, and that no personal data escaped the raw zone.
#
# **Inputs.** The data store at `data_dir` (a Galaxy world is built there when it is empty):
# the `raw`, `staged`, `curated` and `quarantine` zones.
#
# **Outputs.** `metrics.json` with every gate's status and value (the run passes, warns or fails
# on the worst gate), the inventory, gate, consent and quarantine tables as CSV, and the figures.

# %% tags=["parameters"]
data_dir: str = "data/ci"  # store root; a Galaxy world of `world_size` is built there when empty
world_size: str = "ci"  # ci (seconds) | demo | bench (1M customers)
output_dir: str = ""  # run folder; empty means reports/adhoc/01_data_inventory
as_of: str = ""  # reference date for freshness and consent; empty means the end of the data
null_rate_warn: float = 0.05  # share of nulls in a required column that warns
null_rate_fail: float = 0.20  # ... that fails
latency_p95_hours_warn: float = 24.0  # p95 hours from event to ingestion that warns
latency_p95_hours_fail: float = 72.0  # ... that fails
duplicate_rate_warn: float = 0.0  # share of raw rows repeating a key that warns
duplicate_rate_fail: float = 0.01  # ... that fails
outlier_z: float = 3.5  # robust z-score beyond which spend or CPC is an outlier
stale_days_warn: float = 7.0  # days since the newest record that warns
stale_days_fail: float = 14.0  # ... that fails
min_consent_share: float = 0.5  # consent coverage per purpose below which it warns

# %%
from galaxy_lib import apps, inventory
from galaxy_lib.inventory import analysis, plots
from galaxy_lib.simulate import ensure_world

params = inventory.InventoryParams.from_notebook(globals())
store = ensure_world(params.data_dir, size=params.world_size)
as_of_ts = inventory.store_as_of(store, params.as_of)
print(f"Store {store.root}, judged as of {as_of_ts:%Y-%m-%d}")

# %% [markdown]
# ## Inventory
# Every table in every zone with its size, schema version (a hash of its columns and types),
# contract status and newest record.

# %%
profiles = inventory.profile_store(store)
sizes_figure = plots.table_sizes(profiles)
sizes_figure

# %%
profiles

# %% [markdown]
# Event tables are orders of magnitude larger than reference tables, hence the log scale;
# `contract` must read `ok` for every raw and staged table.

# %%
unknown_channels = analysis.unknown_channels(store)
print("Channels not in parameters/channels.yaml:", ", ".join(unknown_channels) or "none")

# %% [markdown]
# A channel name the map does not know is modelled as a channel of its own: if it is another
# spelling of a known channel, add it to `parameters/channels.yaml` as an alias and ingest again.

# %% [markdown]
# ## Quality gates
# Null rates, cardinality, event latency and spend/CPC outliers on the staged tables; duplicate
# keys on the raw feed; freshness against the reference date.

# %%
gates = (
    analysis.row_level_gates(store, params)
    + analysis.duplicate_gates(store, params)
    + analysis.freshness_gates(profiles, params, as_of_ts)
)
analysis.gates_frame(gates).head(10)

# %% [markdown]
# The table lists the worst checks first: anything that is not `pass` tops it.

# %%
plots.latency_histogram(analysis.latency_hours(store), params.latency_p95_hours_warn, params.latency_p95_hours_fail)

# %%
plots.spend_outliers(store.read("staged", "spend"), params.outlier_z)

# %% [markdown]
# Most events arrive within hours; spend moves with flighting and seasonality, and any week
# marked with a cross is a robust outlier worth checking against the media plan.

# %% [markdown]
# ## Consent, personal data and quarantine

# %%
coverage = analysis.consent_table(store, as_of_ts)
gates += analysis.consent_gates(coverage, params)
consent_figure = plots.consent_coverage(coverage, params.min_consent_share)
consent_figure

# %%
pii_findings = inventory.scan_store_tables(store)
gates += analysis.pii_gates(pii_findings)
pii_findings.groupby(["zone", "allowed"], as_index=False)["values_with_pii"].sum()

# %%
quarantine = analysis.quarantine_table(store)
gates += analysis.quarantine_gates(quarantine, store, params)
plots.quarantine_reasons(quarantine)

# %% [markdown]
# Each workflow reads only customers whose consent covers its purpose. Personal data may sit
# only in `raw` (and in quarantined raw rows); any finding in `staged` or `curated` fails the run.
# Quarantined rows were held back with a rule and a reason instead of being dropped.

# %% [markdown]
# ## Every gate
# All checks of the run, by kind and status, then one by one.

# %%
gate_table = analysis.gates_frame(gates)
gate_figure = plots.gate_overview(gate_table)
gate_figure

# %%
apps.gate_explorer(gate_table)

# %% [markdown]
# Filter the checks by status, kind or table; every check says what it measured and against which threshold.

# %% [markdown]
# ## Publish
# The run's status is its worst gate: `failed` if any gate failed, `warn` if any warned.

# %%
metrics_path = inventory.publish(
    params.output_dir,
    profiles=profiles,
    gates=gates,
    coverage=coverage,
    pii_findings=pii_findings,
    quarantine=quarantine,
    as_of=as_of_ts,
    sizes_figure=sizes_figure,
    gate_figure=gate_figure,
    consent_figure=consent_figure,
    unknown_channels=unknown_channels,
)
print(metrics_path)
