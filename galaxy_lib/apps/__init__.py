"""ipywidgets builders used by the Voila dashboards (the notebooks opened with ``make serve``).

Each builder takes the tables a notebook already computed and returns a widget;
it holds no analysis of its own.
"""

from galaxy_lib.apps.inventory import gate_explorer
from galaxy_lib.apps.mmm import budget_planner, show_budget_planner

__all__ = ["budget_planner", "gate_explorer", "show_budget_planner"]
