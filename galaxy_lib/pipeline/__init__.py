"""The pipeline: files in, governed tables out, notebooks run on a schedule.

``ingest`` loads a user's CSV/Parquet file into the raw zone (column mapping,
row checks, quarantine); ``staging`` takes raw tables to staged ones
(contracts, pseudonymisation) and builds the curated tables the workflows
registered (``curated``); ``runner`` executes one notebook with papermill into a
run folder (manifest, HTML, PII scan, audit); ``scheduler`` fires the jobs of
``parameters/schedule.yaml``.

It applies governance (``galaxy_lib.governance``) on top of the core; it knows no
workflow, no simulator and no command line.
"""
