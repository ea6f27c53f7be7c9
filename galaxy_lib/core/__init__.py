"""The small shared core: paths, configuration, data contracts and store, runs and reports."""
