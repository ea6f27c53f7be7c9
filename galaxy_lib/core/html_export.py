"""Export an executed notebook as a self-contained HTML report that fetches nothing.

A run's report must open offline, years later, on a machine without internet, and
must not load code from a third party when it is opened. nbconvert's ``lab`` template
loads require.js and MathJax from a CDN (without integrity hashes), and plotly's
notebook renderer adds a MathJax ``<script src>`` from a CDN to every figure.
:func:`export_notebook_html` therefore

* renders with a template (:data:`OFFLINE_TEMPLATE`) that extends nbconvert's ``lab``
  template without its require.js, MathJax, Mermaid and widget-manager scripts;
* draws every plotly figure again from its JSON output
  (``application/vnd.plotly.v1+json``) with :func:`plotly.io.to_html`, without MathJax,
  and inlines plotly.js once (from the installed plotly) when the notebook's outputs do
  not already carry it;
* drops saved widget state (``metadata.widgets``) and every live-widget output: a static
  report has no kernel and the widget manager would come from a CDN, so all that would
  show is the widget's Python repr (``VBox(children=(HBox(...``). A notebook that wants
  its report to show the same content displays a static version next to the widget
  (the MMM's budget planner does);
* checks the result (:func:`external_resources`) and refuses to write a report that
  would still fetch anything over the network.

The cost: LaTeX in markdown cells shows as its source text (there is no MathJax).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

__all__ = ["OFFLINE_TEMPLATE", "HtmlExportError", "export_notebook_html", "external_resources"]

#: nbconvert's ``lab`` template without the scripts it loads from CDNs.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
_TEMPLATE_NAME = "galaxy_offline.html.j2"
_PLOTLY_JSON = "application/vnd.plotly.v1+json"
#: The banner at the top of every plotly.js bundle.
_PLOTLYJS_BANNER = re.compile(r"\*\s*plotly\.js v\d")
#: Attributes through which a browser fetches something when the page opens.
_FETCHING_ATTRIBUTES = {"src", "href", "srcset", "data", "poster", "background", "action", "formaction"}
#: Tags whose ``href`` is only followed when clicked (not a resource of the page).
_LINK_TAGS = {"a", "area"}
_CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*((?:https?:)?//[^'")\s]+)""", re.IGNORECASE)


class HtmlExportError(RuntimeError):
    """The notebook cannot be exported as a report that opens offline."""


def _is_external(url: str) -> bool:
    value = url.strip().lower()
    return value.startswith(("http:", "https:", "//", "ftp:"))


class _ResourceFinder(HTMLParser):
    """Collect every URL a browser would fetch from the network when the page opens."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "style":
                self.found.extend(f"<{tag} style> {u}" for u in _CSS_URL.findall(value))
            elif name in _FETCHING_ATTRIBUTES and not (name == "href" and tag in _LINK_TAGS):
                urls = [part.strip().split(" ")[0] for part in value.split(",")] if name == "srcset" else [value]
                self.found.extend(f"<{tag} {name}> {u}" for u in urls if _is_external(u))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.found.extend(f"<style> {u}" for u in _CSS_URL.findall(data))


def external_resources(html: str) -> list[str]:
    """List what ``html`` would fetch over the network when opened.

    Scripts, stylesheets, images, frames, media and CSS ``url()`` / ``@import`` with an
    ``http(s):`` or protocol-relative (``//``) address; links a reader may click
    (``<a href>``) are not fetched and not listed. Script bodies are not searched: an
    address inside JavaScript (plotly.js names map-tile servers) is not loaded on open.

    Returns
    -------
    list of str
        One ``"<tag attribute> url"`` per reference, in document order.
    """
    finder = _ResourceFinder()
    finder.feed(html)
    finder.close()
    return finder.found


def _has_inline_plotlyjs(nb: Any) -> bool:
    """Whether an HTML output of ``nb`` already carries the plotly.js bundle (plotly's notebook renderer)."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html", "")
            if isinstance(html, list):
                html = "".join(html)
            if _PLOTLYJS_BANNER.search(html):
                return True
    return False


def _redraw_figures(nb: Any) -> int:
    """Replace the HTML of every plotly output by one drawn from its JSON without MathJax; return the count."""
    import plotly.io as pio

    need_plotlyjs = not _has_inline_plotlyjs(nb)
    drawn = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if _PLOTLY_JSON not in data:
                continue
            data["text/html"] = pio.to_html(
                dict(data[_PLOTLY_JSON]),
                include_plotlyjs=need_plotlyjs and drawn == 0,
                include_mathjax=False,
                full_html=False,
                validate=False,
                config={"responsive": True},
            )
            drawn += 1
    return drawn


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _drop_widget_outputs(nb: Any) -> None:
    """Remove outputs that are live ipywidgets (their only static form is a Python repr)."""
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if WIDGET_VIEW not in o.get("data", {})]


def export_notebook_html(notebook_path: Path, title: str) -> Path:
    """Export an executed notebook as ``<notebook>.html`` beside it: no code, no prompts, nothing fetched.

    Parameters
    ----------
    notebook_path
        The executed notebook (``.ipynb``).
    title
        The page title (e.g. ``"<job> · <run_id>"``), unless the notebook's metadata has one.

    Returns
    -------
    Path
        The written HTML file (the notebook's path with suffix ``.html``).

    Raises
    ------
    HtmlExportError
        When the page would still load something from the network (an output that
        references an external script, stylesheet or image); nothing is written then.
    """
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    notebook_path = Path(notebook_path)
    nb = nbformat.read(notebook_path, as_version=4)
    nb.metadata.pop("widgets", None)
    _drop_widget_outputs(nb)
    _redraw_figures(nb)
    exporter = HTMLExporter(
        template_name="lab",
        template_file=_TEMPLATE_NAME,
        extra_loaders=[jinja2.DictLoader({_TEMPLATE_NAME: OFFLINE_TEMPLATE})],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    fetched = external_resources(body)
    if fetched:
        shown = "; ".join(fetched[:5]) + (f"; ... {len(fetched) - 5} more" if len(fetched) > 5 else "")
        raise HtmlExportError(
            f"{notebook_path.name}: the HTML report would load {len(fetched)} resource(s) from the network "
            f"({shown}). Reports must open offline: embed the resource or drop it from the notebook's outputs."
        )
    html_path = notebook_path.with_suffix(".html")
    html_path.write_text(body, encoding="utf-8")
    return html_path
