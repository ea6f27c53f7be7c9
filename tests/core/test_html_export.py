"""Report HTML opens offline and fetches nothing (issue 15, finding 12).

nbconvert's template loads require.js and MathJax from a CDN and plotly's notebook
renderer adds a MathJax CDN script to each figure. The export must keep the figures
(plotly.js inlined, each figure drawn) and reference nothing on the network; in a
browser with every network request refused, the figure must still be drawn.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from galaxy_lib.core.html_export import HtmlExportError, export_notebook_html, external_resources

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "figure.ipynb"
CDN_MATHJAX = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/3.2.2/es5/tex-svg.min.js"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tests/fixtures/figure.ipynb`` executed as the runner executes it (plotly's notebook renderer)."""
    from nbclient import NotebookClient

    folder = tmp_path_factory.mktemp("figure")
    nb = nbformat.read(FIXTURE, as_version=4)
    nb.cells[1].source = f"output_dir = {str(folder / 'run')!r}"
    before = os.environ.get("PLOTLY_RENDERER")
    os.environ["PLOTLY_RENDERER"] = "plotly_mimetype+notebook"  # the kernel inherits it; restored below
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        if before is None:
            os.environ.pop("PLOTLY_RENDERER", None)
        else:
            os.environ["PLOTLY_RENDERER"] = before
    path = folder / "figure.ipynb"
    nbformat.write(nb, path)
    return path


def _figure_outputs(path: Path) -> list[dict]:
    nb = nbformat.read(path, as_version=4)
    return [o for c in nb.cells for o in c.get("outputs", []) if "application/vnd.plotly.v1+json" in o.get("data", {})]


def test_the_notebook_outputs_reference_a_cdn(executed: Path) -> None:
    """What the export has to undo: the executed figure loads MathJax from a CDN."""
    (figure,) = _figure_outputs(executed)
    assert CDN_MATHJAX in figure["data"]["text/html"]


def test_the_export_references_nothing_on_the_network_and_keeps_the_figure(executed: Path, tmp_path: Path) -> None:
    from plotly.offline import get_plotlyjs

    nb = shutil.copy(executed, tmp_path / "figure.ipynb")
    html_path = export_notebook_html(Path(nb), "fig · run")
    assert html_path == tmp_path / "figure.html"
    html = html_path.read_text(encoding="utf-8")
    assert external_resources(html) == []
    # plotly.js itself holds anchors such as <a href="https://plotly.com/"> in its strings: look outside scripts
    markup = re.sub(r"(<script\b[^>]*>).*?</script>", r"\1</script>", html, flags=re.DOTALL | re.IGNORECASE)
    for attr in ('src="http', "src='http", 'href="http', "href='http", 'src="//', 'href="//', "url(http"):
        assert attr not in markup
    assert not re.search(r"<script[^>]*\ssrc=", markup), "every script is inline (no require.js, no MathJax)"
    assert html.count(get_plotlyjs()) == 1  # plotly.js once, inline, from the installed package
    assert html.count('class="plotly-graph-div"') == 1 and html.count("Plotly.newPlot") == 1
    assert "<title>fig · run</title>" in html
    assert "import plotly" not in html  # no code, as before
    assert not re.search(r"In&nbsp;\[\d|Out\[\d", html)  # no prompts


def test_figures_without_html_are_drawn_and_plotlyjs_inlined(executed: Path, tmp_path: Path) -> None:
    """A notebook run with the mimetype-only renderer has figure JSON and no plotly.js: both are added."""
    from plotly.offline import get_plotlyjs

    nb = nbformat.read(executed, as_version=4)
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        kept = []
        for output in cell.outputs:
            data = output.get("data", {})
            if "application/vnd.plotly.v1+json" in data:
                data.pop("text/html", None)  # the figure as JSON only
            elif "text/html" in data:
                continue  # the plotly.js bundle the notebook renderer shows once
            kept.append(output)
        cell.outputs = kept
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    path = tmp_path / "mimetype.ipynb"
    nbformat.write(nb, path)
    html = export_notebook_html(path, "mimetype").read_text(encoding="utf-8")
    assert external_resources(html) == []
    assert html.count(get_plotlyjs()) == 1 and html.count("Plotly.newPlot") == 1
    assert "unpkg.com" not in html and "html-manager" not in html  # saved widget state is dropped


def test_an_output_that_loads_from_the_network_is_refused(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/html": '<img src="https://tracker.example/p.gif"><link href="//cdn.x/s.css">'}
        )
    ]
    nb.cells.append(cell)
    path = tmp_path / "leaky.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(HtmlExportError, match=r"leaky\.ipynb: .* 2 resource\(s\) .*tracker\.example"):
        export_notebook_html(path, "leaky")
    assert not (tmp_path / "leaky.html").exists()


def test_a_live_widget_is_left_out_and_its_static_twin_kept(tmp_path: Path) -> None:
    """A widget's only static form is its Python repr (``VBox(children=...``): the report drops it."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("planner")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": "<table><tr><td>static plan</td></tr></table>"}),
        nbformat.v4.new_output(
            "display_data",
            data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2},
                "text/plain": "VBox(children=(HBox(children=(Button(description='today',)),)))",
            },
        ),
    ]
    nb.cells.append(cell)
    path = tmp_path / "planner.ipynb"
    nbformat.write(nb, path)
    html = export_notebook_html(path, "planner").read_text()
    assert "static plan" in html
    assert "VBox(children" not in html and "widget-view" not in html


def test_external_resources_lists_what_a_browser_fetches() -> None:
    html = (
        '<a href="https://docs.example">docs</a><script src="https://cdn.example/a.js"></script>'
        '<style>@import "https://fonts.example/f.css"; .x {background: url(//img.example/b.png)}</style>'
        "<div style=\"background-image: url('http://img.example/c.png')\"></div>"
        '<img srcset="data:image/png;base64,AA 1x, https://img.example/d.png 2x">'
        '<script>var tiles = "https://tiles.example/{z}/{x}/{y}.png";</script><img src="local.png">'
    )
    assert external_resources(html) == [
        "<script src> https://cdn.example/a.js",
        "<style> https://fonts.example/f.css",
        "<style> //img.example/b.png",
        "<div style> http://img.example/c.png",
        "<img srcset> https://img.example/d.png",
    ]


@pytest.mark.slow
@pytest.mark.browser
def test_the_report_draws_its_figure_with_the_network_blocked(executed: Path, tmp_path: Path, browser) -> None:
    html_path = export_notebook_html(Path(shutil.copy(executed, tmp_path / "figure.ipynb")), "offline")
    requested: list[str] = []
    errors: list[str] = []
    context = browser.new_context(offline=True, viewport={"width": 1100, "height": 800})
    try:
        page = context.new_page()

        def refuse_network(route) -> None:
            url = route.request.url
            if url.startswith(("file:", "data:", "blob:")):
                route.continue_()
            else:
                requested.append(url)
                route.abort()

        page.route("**/*", refuse_network)
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(html_path.as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg", state="attached", timeout=30_000)
        assert page.locator(".js-plotly-plot g.point").count() == 2, "both bars should be drawn"
        page.screenshot(path=str(tmp_path / "offline_report.png"), full_page=True)
    finally:
        context.close()
    assert requested == [], f"the report tried to fetch {requested}"
    assert errors == [], f"the page raised {errors}"
