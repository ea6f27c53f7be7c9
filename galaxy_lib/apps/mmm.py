"""Dashboard widgets of the media-mix workflow: a what-if budget planner.

Stakeholders move one slider per channel (spend per period) and see, on the fitted
model's long-run response curves, what the plan would return against today's spend:
the KPI per period, the gain with its 94% interval and the probability that the plan
beats today's split. Every number comes from :func:`galaxy_lib.mmm.compare_plans`;
this module only lays it out.
"""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd
from markupsafe import Markup

from galaxy_lib.core.templating import render_template
from galaxy_lib.mmm import PlanComparison, ResponseCurves, compare_plans

__all__ = ["budget_planner", "render_comparison", "show_budget_planner", "static_plan_html"]

#: Class of the static copy shown in printed reports; the live planner hides it.
STATIC_CLASS = "galaxy-static-only"
_TEMPLATES = "galaxy_lib.apps"
#: Width in pixels of the bar of the largest spend in the comparison table.
_BAR_PX = 160


def render_comparison(result: PlanComparison, kpi_name: str = "KPI") -> str:
    """HTML of a plan comparison: headline numbers, then one row per channel with a bar of its plan spend.

    Parameters
    ----------
    result
        :func:`galaxy_lib.mmm.compare_plans` of a plan.
    kpi_name
        Name of the KPI in the labels (escaped).

    Returns
    -------
    str
        ``apps/templates/plan_comparison.html.j2`` rendered.
    """
    channels = result.channels
    widest = max(float(channels[["current_spend", "plan_spend"]].to_numpy().max()), 1e-9)
    rows = [
        {
            "channel": str(ch),
            "current_spend": r.current_spend,
            "plan_spend": r.plan_spend,
            "change_pct": r.change_pct,
            "bar_px": _BAR_PX * r.plan_spend / widest,
            "kpi_current": r.kpi_current,
            "kpi_plan": r.kpi_plan,
        }
        for ch, r in channels.iterrows()
    ]
    return render_template(_TEMPLATES, "plan_comparison.html.j2", result=result, rows=rows, kpi_name=kpi_name)


def _live_html(result: PlanComparison, kpi_name: str) -> str:
    """Render the live planner's output: the comparison, hiding the static copy a report carries."""
    comparison = Markup(render_comparison(result, kpi_name))
    return render_template(_TEMPLATES, "plan_live.html.j2", static_class=STATIC_CLASS, comparison=comparison)


def _within_curves(curves: ResponseCurves, spend: pd.Series | dict[str, float]) -> dict[str, float]:
    """Cap a preset's spend per channel at the curves' range (the optimiser may go past 2x the data)."""
    unknown = sorted(set(dict(spend)) - set(curves.channels))
    if unknown:
        raise ValueError(
            f"the preset names channel(s) {unknown} the model does not have; channels are {curves.channels}."
        )
    return {ch: min(float(v), curves.max_spend(ch)) for ch, v in dict(spend).items()}


def budget_planner(
    curves: ResponseCurves, recommended: pd.Series | dict[str, float] | None = None, kpi_name: str = "KPI"
) -> widgets.VBox:
    """What-if planner: one spend slider per channel over the fitted model's response curves.

    Parameters
    ----------
    curves
        :func:`galaxy_lib.mmm.response_curve_samples` of the fitted (or loaded) model.
    recommended
        Spend per period per channel to offer as a preset (e.g. the optimiser's
        ``allocation["optimal_per_period"]``); clipped to the curves' range.
    kpi_name
        Name of the KPI in the labels.

    Returns
    -------
    ipywidgets.VBox
        Preset buttons, the sliders and the comparison (updated when a slider is released).
    """
    sliders = {
        ch: widgets.FloatSlider(
            value=float(curves.current_spend[ch]),
            min=0.0,
            max=curves.max_spend(ch),
            step=curves.max_spend(ch) / 200,
            description=str(ch),
            readout_format=",.0f",
            continuous_update=False,
            style={"description_width": "90px"},
            layout=widgets.Layout(width="520px"),
        )
        for ch in curves.channels
    }
    out = widgets.HTML()
    presets = {"today's spend": curves.current_spend.to_dict()}
    if recommended is not None:
        presets["recommended split"] = _within_curves(curves, recommended)
    buttons = []
    applying = False  # a preset moves several sliders: compare once, after the last

    def refresh(_change: object = None) -> None:
        if not applying:
            plan = {ch: s.value for ch, s in sliders.items()}
            out.value = _live_html(compare_plans(curves, plan), kpi_name)

    def apply(values: dict[str, float]) -> None:
        nonlocal applying
        applying = True
        try:
            for ch, value in values.items():
                sliders[ch].value = value
        finally:
            applying = False
        refresh()

    for name, values in presets.items():
        button = widgets.Button(description=name, layout=widgets.Layout(width="auto"))
        button.on_click(lambda _b, values=values: apply(values))
        buttons.append(button)
    for s in sliders.values():
        s.observe(refresh, names="value")
    refresh()
    return widgets.VBox([widgets.HBox(buttons), *sliders.values(), out])


def static_plan_html(curves: ResponseCurves, recommended: pd.Series | dict[str, float], kpi_name: str = "KPI") -> str:
    """Render the recommended split against today's spend as plain HTML, for reports that cannot run widgets.

    A scheduled report is static HTML: the live planner cannot render there (it needs a
    kernel), so this copy carries its answer for the preset that matters. It has the class
    ``galaxy-static-only``, which the live planner hides, so a dashboard shows one, not both.
    """
    plan = _within_curves(curves, recommended)
    comparison = Markup(render_comparison(compare_plans(curves, plan), kpi_name))
    return render_template(_TEMPLATES, "plan_static.html.j2", static_class=STATIC_CLASS, comparison=comparison)


def show_budget_planner(
    curves: ResponseCurves, recommended: pd.Series | dict[str, float], kpi_name: str = "KPI"
) -> None:
    """Display the planner: the static copy for printed reports, then the live widget for dashboards."""
    from IPython.display import HTML, display

    display(HTML(static_plan_html(curves, recommended, kpi_name)))
    display(budget_planner(curves, recommended=recommended, kpi_name=kpi_name))
