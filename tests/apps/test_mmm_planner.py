"""The what-if budget planner: plan arithmetic on known curves, and the widget answering its sliders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.apps.mmm import STATIC_CLASS, budget_planner, render_comparison, static_plan_html
from galaxy_lib.mmm import MMMDataError, ResponseCurves, compare_plans
from tests.fixtures.browser import watch_console

from .conftest import VoilaServer

#: Two channels with known curves y = b * (1 - exp(-x / k)); b varies by draw (the posterior).
RNG = np.random.default_rng(0)
DRAWS = 400
B = {"tv": RNG.normal(100.0, 10.0, DRAWS), "search": RNG.normal(40.0, 4.0, DRAWS)}
K = {"tv": 50.0, "search": 10.0}
GRID = {"tv": np.linspace(0, 200, 2001), "search": np.linspace(0, 40, 2001)}
CURRENT = pd.Series({"tv": 60.0, "search": 12.0})


def truth(ch: str, x: float) -> np.ndarray:
    return B[ch] * (1 - np.exp(-x / K[ch]))


@pytest.fixture
def curves() -> ResponseCurves:
    samples = {ch: B[ch][:, None] * (1 - np.exp(-GRID[ch][None, :] / K[ch])) for ch in B}
    return ResponseCurves(spend=GRID, samples=samples, current_spend=CURRENT)


def test_response_interpolates_every_draw(curves) -> None:
    got = curves.response({"tv": 73.3, "search": 5.05})
    want = truth("tv", 73.3) + truth("search", 5.05)
    np.testing.assert_allclose(got, want, rtol=1e-4)
    # channels left out stay at today's spend
    np.testing.assert_allclose(curves.response({"tv": 0.0}), truth("search", 12.0), rtol=1e-6)


def test_compare_plans_against_the_known_curves(curves) -> None:
    same = compare_plans(curves, CURRENT)
    assert same.gain_mean == 0.0 and same.prob_gain_positive == 0.0 and np.isnan(same.roi_of_change)

    plan = {"tv": 40.0, "search": 32.0}  # same total, money moved to the less saturated channel
    result = compare_plans(curves, plan)
    gain = truth("tv", 40.0) + truth("search", 32.0) - truth("tv", 60.0) - truth("search", 12.0)
    assert result.gain_mean == pytest.approx(gain.mean(), rel=1e-4)
    lo, hi = np.quantile(gain, [0.03, 0.97])
    assert result.gain_hdi_low == pytest.approx(lo, rel=0.1) and result.gain_hdi_high == pytest.approx(hi, rel=0.1)
    assert result.prob_gain_positive == pytest.approx((gain > 0).mean(), abs=1e-9)
    assert result.spend_plan == pytest.approx(result.spend_current)
    table = result.channels
    assert table.loc["tv", "change_pct"] == pytest.approx(-100 / 3)
    assert table.loc["search", "kpi_plan"] == pytest.approx(truth("search", 32.0).mean(), rel=1e-4)
    assert (table["kpi_plan"].sum()) == pytest.approx(result.kpi_plan, rel=1e-9)


def test_plans_outside_the_curves_are_refused_with_the_channel(curves) -> None:
    with pytest.raises(MMMDataError, match=r"'search'.*outside the response curve's range 0 to 40"):
        compare_plans(curves, {"search": 55.0})
    with pytest.raises(MMMDataError, match="unknown channel 'radio'"):
        compare_plans(curves, {"radio": 1.0})
    with pytest.raises(MMMDataError, match="'tv'"):
        compare_plans(curves, {"tv": -1.0})


def test_planner_answers_sliders_and_presets(curves) -> None:
    box = budget_planner(curves, recommended={"tv": 40.0, "search": 99.0}, kpi_name="revenue")
    buttons, sliders, out = box.children[0].children, box.children[1:3], box.children[3]
    assert [b.description for b in buttons] == ["today's spend", "recommended split"]
    assert [s.description for s in sliders] == ["tv", "search"]
    assert "0 more revenue per period" in out.value
    sliders[1].value = 20.0  # more search
    extra = (truth("search", 20.0) - truth("search", 12.0)).mean()
    assert f"{extra:,.0f} more revenue per period" in out.value
    buttons[1].click()  # recommended split, search clipped to the curve's 40
    assert sliders[0].value == 40.0 and sliders[1].value == 40.0
    assert out.value.endswith(render_comparison(compare_plans(curves, {"tv": 40.0, "search": 40.0}), "revenue"))
    assert f".{STATIC_CLASS} {{display: none}}" in out.value  # the live planner hides the report's static copy
    buttons[0].click()
    assert sliders[0].value == 60.0 and "0 more revenue per period" in out.value


def test_static_copy_for_printed_reports(curves) -> None:
    """Static HTML reports cannot run the widget: they carry the recommended split's comparison instead."""
    html = static_plan_html(curves, {"tv": 40.0, "search": 99.0}, kpi_name="revenue")
    assert html.startswith(f"<div class='{STATIC_CLASS}'>")
    assert render_comparison(compare_plans(curves, {"tv": 40.0, "search": 40.0}), "revenue") in html
    assert "display: none" not in html


@pytest.mark.slow
@pytest.mark.browser
def test_mmm_dashboard_in_voila(voila_server: VoilaServer, browser, tmp_path) -> None:
    """A stakeholder opens 02_mmm in Voila (the model is fitted on the ci world) and tries the recommended split."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = watch_console(page)
    page.set_default_timeout(900_000)  # the notebook fits the model before the page appears
    page.goto(voila_server.page("voila/render/02_mmm.ipynb"))
    headline = page.locator(".widget-html .galaxy-plan-headline")
    headline.wait_for()
    assert "Traceback" not in page.content()
    assert page.locator(".js-plotly-plot").count() >= 8, "every figure of the notebook should render"
    assert headline.inner_text().startswith("0 more"), "the planner opens on today's spend"
    live = page.locator(".widget-html table.galaxy-plan tbody tr")
    assert live.count() == 5
    assert page.locator(f".{STATIC_CLASS}").count() == 1 and page.locator(f".{STATIC_CLASS}").is_hidden(), (
        "the dashboard shows the live planner, not the printed report's static copy"
    )

    page.get_by_role("button", name="recommended split").click()
    page.wait_for_function(
        "() => !document.querySelector('.widget-html .galaxy-plan-headline').innerText.startsWith('0 more')"
    )
    text = headline.inner_text()
    assert "per period" in text and "P(plan beats today)" in text
    changes = page.locator(".widget-html table.galaxy-plan tbody tr td:nth-child(4)").all_inner_texts()
    assert any(c not in ("+0%", "-0%") for c in changes), changes
    page.screenshot(path=str(tmp_path / "mmm_dashboard.png"), full_page=True)
    assert not errors, f"the dashboard logged errors in the browser console: {errors}"


def test_a_preset_with_an_unknown_channel_is_refused(curves) -> None:
    with pytest.raises(ValueError, match=r"channel\(s\) \['radio'\] the model does not have"):
        budget_planner(curves, recommended={"tv": 40.0, "radio": 5.0})
