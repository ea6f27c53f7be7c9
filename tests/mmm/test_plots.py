"""Every figure of the notebook builds from the tables it is given, with a title."""

from __future__ import annotations

from galaxy_lib.mmm import (
    decomposition,
    forecast,
    plots,
    posterior_predictive,
    prior_posterior_shift,
    response_curves,
    spend_plan,
)


def test_figures_build(world_model, world_summary, world_budget) -> None:
    data = world_model.data_
    curves = response_curves(world_model, n_points=11)
    history = data.frame.groupby("date", as_index=False)["kpi"].sum()
    figs = [
        plots.spend_chart(data.frame, data.channels),
        plots.roi_chart(world_summary, {"tv": 1.5}),
        plots.share_chart(world_summary),
        plots.decomposition_chart(decomposition(world_model)),
        plots.response_curves_chart(curves),
        plots.ppc_chart(posterior_predictive(world_model)),
        plots.prior_posterior_chart(prior_posterior_shift(world_model, samples=300)),
        plots.budget_chart(world_budget.allocation),
        plots.forecast_chart(history, {"current": forecast(world_model, spend_plan(world_model, 4))}, data.target_name),
    ]
    for fig in figs:
        assert fig.data and fig.layout.title.text
