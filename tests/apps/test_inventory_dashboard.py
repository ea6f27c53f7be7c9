"""The data-inventory notebook opens as a Voila dashboard, renders its charts and reacts to input."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from galaxy_lib.apps.inventory import filter_gates, gate_explorer
from tests.fixtures.browser import watch_console

from .conftest import ROOT, VoilaServer

GATES = pd.DataFrame(
    {
        "status": ["pass", "warn", "fail", "pass"],
        "gate": ["null_rate", "null_rate", "stale_days", "duplicate_rate"],
        "table": ["spend", "touchpoints", "spend", "touchpoints"],
        "column": ["spend", "creative_id", "week", "event_id"],
        "detail": ["ok", "5.1% null", "20 days old", "none"],
    }
)


def test_filter_gates_combines_filters() -> None:
    assert len(filter_gates(GATES)) == 4
    assert filter_gates(GATES, status="pass")["gate"].tolist() == ["null_rate", "duplicate_rate"]
    assert filter_gates(GATES, gate="null_rate", table="touchpoints")["status"].tolist() == ["warn"]


def test_gate_explorer_updates_on_change() -> None:
    box = gate_explorer(GATES)
    status, out = box.children[0], box.children[2]
    assert "4 checks" in out.value
    status.value = "fail"
    assert "1 checks" in out.value and "20 days old" in out.value and "5.1% null" not in out.value


@pytest.mark.slow
@pytest.mark.browser
def test_inventory_dashboard_in_voila(voila_server: VoilaServer, browser, tmp_path: Path) -> None:
    adhoc = ROOT / "reports" / "adhoc" / "01_data_inventory" / "metrics.json"
    adhoc_before = adhoc.stat().st_mtime_ns if adhoc.exists() else None
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = watch_console(page)
    page.set_default_timeout(240_000)  # the first open may build the ci world
    page.goto(voila_server.page("voila/render/01_data_inventory.ipynb"))
    page.wait_for_selector(".js-plotly-plot", state="attached")
    count = page.locator(".galaxy-gates-count").first
    count.wait_for()
    total = int(re.search(r"(\d+) checks", count.inner_text()).group(1))
    assert total > 10, "the dashboard should list every quality gate"
    assert page.locator(".js-plotly-plot").count() >= 5, "every figure of the notebook should render"
    assert "Traceback" not in page.content()

    # A stakeholder narrows the list to one kind of check: the kernel must answer the widget.
    page.locator("select").first.select_option(label="stale_days")
    page.wait_for_function(
        "total => { const m = document.querySelector('.galaxy-gates-count').innerText.match(/(\\d+) checks/);"
        " return m && Number(m[1]) < total; }",
        arg=total,
    )
    shown = int(re.search(r"(\d+) checks", count.inner_text()).group(1))
    assert 0 < shown < total
    gates_shown = page.locator("table.galaxy-gates tbody tr td:nth-child(2)").all_inner_texts()
    assert gates_shown and set(gates_shown) == {"stale_days"}
    page.get_by_role("button", name="fail", exact=True).click()
    page.wait_for_function(
        "shown => { const m = document.querySelector('.galaxy-gates-count').innerText.match(/(\\d+) checks/);"
        " return m && Number(m[1]) !== shown; }",
        arg=shown,
    )
    page.screenshot(path=str(tmp_path / "inventory_dashboard.png"), full_page=True)
    assert not errors, f"the dashboard logged errors in the browser console: {errors}"

    # the view published into the server's scratch folder, not into reports/adhoc (never scanned nor audited)
    published = list(voila_server.scratch.glob("view-*/metrics.json"))
    assert published, f"the view should have published under {voila_server.scratch}"
    assert (adhoc.stat().st_mtime_ns if adhoc.exists() else None) == adhoc_before, "a page view wrote reports/adhoc"
