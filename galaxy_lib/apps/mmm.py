"""Dashboard widgets of the media-mix workflow: a what-if budget planner.

Stakeholders move one slider per channel (spend per period) and see, on the fitted
model's long-run response curves, what the plan would return against today's spend:
the KPI per period, the gain with its 94% interval and the probability that the plan
beats today's split. Every number comes from :func:`galaxy_lib.mmm.compare_plans`;
this module only lays it out.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import pandas as pd

from galaxy_lib.mmm.analysis import PlanComparison, ResponseCurves, compare_plans

__all__ = ["budget_planner", "render_comparison", "static_plan_html", "show_budget_planner"]

#: Class of the static copy shown in printed reports; the live planner hides it.
STATIC_CLASS = "galaxy-static-only"
_HIDE_STATIC = f"<style>.{STATIC_CLASS} {{display: none}}</style>"


def _money(x: float) -> str:
    return f"{x:,.0f}"


def render_comparison(result: PlanComparison, kpi_name: str = "KPI") -> str:
    """HTML of a plan comparison: headline numbers, then one row per channel with a bar of its plan spend."""
    gain_word = "more" if result.gain_mean >= 0 else "less"
    roi = result.roi_of_change
    roi_text = "" if roi != roi else f" &middot; {roi:,.2f} {html.escape(kpi_name)} per extra unit of spend"
    head = (
        f"<p class='galaxy-plan-headline'><b>{_money(abs(result.gain_mean))} {gain_word} {html.escape(kpi_name)} per period</b> "
        f"(94% interval {_money(result.gain_hdi_low)} to {_money(result.gain_hdi_high)}; "
        f"P(plan beats today) = {result.prob_gain_positive:.2f}){roi_text}<br>"
        f"spend {_money(result.spend_plan)} per period against {_money(result.spend_current)} today; "
        f"media-driven {html.escape(kpi_name)} {_money(result.kpi_plan)} against {_money(result.kpi_current)}</p>"
    )
    widest = max(float(result.channels[["current_spend", "plan_spend"]].to_numpy().max()), 1e-9)
    rows = "".join(
        f"<tr><td>{html.escape(str(ch))}</td><td style='text-align:right'>{_money(r.current_spend)}</td>"
        f"<td style='text-align:right'>{_money(r.plan_spend)}</td><td style='text-align:right'>{r.change_pct:+.0f}%</td>"
        f"<td><div style='background:#4C78A8;height:10px;width:{160 * r.plan_spend / widest:.0f}px'></div></td>"
        f"<td style='text-align:right'>{_money(r.kpi_current)}</td><td style='text-align:right'>{_money(r.kpi_plan)}</td></tr>"
        for ch, r in result.channels.iterrows()
    )
    return (
        head + "<style>table.galaxy-plan td, table.galaxy-plan th {padding: 2px 10px}</style>"
        "<table class='galaxy-plan' style='border-collapse:collapse;font-size:13px'><thead><tr>"
        "<th>channel</th><th>spend today</th><th>plan</th><th>change</th><th></th>"
        f"<th>{html.escape(kpi_name)} today</th><th>{html.escape(kpi_name)} plan</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _within_curves(curves: ResponseCurves, spend: pd.Series | dict[str, float]) -> dict[str, float]:
    """A preset's spend per channel, capped at the curves' range (the optimiser may go past 2x the data)."""
    unknown = sorted(set(dict(spend)) - set(curves.channels))
    if unknown:
        raise ValueError(f"the preset names channel(s) {unknown} the model does not have; channels are {curves.channels}.")
    return {ch: min(float(v), curves.max_spend(ch)) for ch, v in dict(spend).items()}


def budget_planner(curves: ResponseCurves, recommended: pd.Series | dict[str, float] | None = None,
                   kpi_name: str = "KPI") -> widgets.VBox:
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
            value=float(curves.current_spend[ch]), min=0.0, max=curves.max_spend(ch), step=curves.max_spend(ch) / 200,
            description=str(ch), readout_format=",.0f", continuous_update=False,
            style={"description_width": "90px"}, layout=widgets.Layout(width="520px"),
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
            out.value = _HIDE_STATIC + render_comparison(compare_plans(curves, plan), kpi_name)

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
    """The recommended split against today's spend as plain HTML, for reports that cannot run widgets.

    A scheduled report is static HTML: the live planner cannot render there (it needs a
    kernel), so this copy carries its answer for the preset that matters. It has the class
    ``galaxy-static-only``, which the live planner hides, so a dashboard shows one, not both.
    """
    plan = _within_curves(curves, recommended)
    return (f"<div class='{STATIC_CLASS}'><p><i>Recommended split against today's spend on the long-run response "
            "curves (open the notebook as a dashboard to try other splits):</i></p>"
            f"{render_comparison(compare_plans(curves, plan), kpi_name)}</div>")


def show_budget_planner(curves: ResponseCurves, recommended: pd.Series | dict[str, float], kpi_name: str = "KPI") -> None:
    """Display the planner: the static copy for printed reports, then the live widget for dashboards."""
    from IPython.display import HTML, display

    display(HTML(static_plan_html(curves, recommended, kpi_name)))
    display(budget_planner(curves, recommended=recommended, kpi_name=kpi_name))
