"""ipywidgets builders used by the Voila dashboards (the notebooks opened with ``make serve``).

Each builder takes the tables a notebook already computed and returns a widget;
it holds no analysis of its own. :mod:`galaxy_lib.apps.serve` is the server
``make serve`` starts: behind a token, with page views publishing outside ``reports/``.
"""

from galaxy_lib.apps.inventory import gate_explorer
from galaxy_lib.apps.mmm import budget_planner, show_budget_planner

__all__ = ["budget_planner", "gate_explorer", "show_budget_planner"]
