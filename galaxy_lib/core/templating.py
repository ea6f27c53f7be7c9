"""HTML from jinja2 templates, escaped by default.

Every page and fragment the workbench writes as HTML (the reports index, the
dashboards' tables) is a jinja2 template in a ``templates/`` folder next to the
module that renders it, e.g. ``galaxy_lib/core/templates/index.html.j2``. Values
are HTML-escaped unless a template marks them safe, so a status reason holding
``<`` or a channel named ``a&b`` cannot break the page.

One :class:`jinja2.Environment` serves each package's folder (built once and
cached); render with :func:`render_template`::

    render_template("galaxy_lib.apps", "gate_table.html.j2", rows=rows)
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

__all__ = ["TEMPLATE_FOLDER", "render_template", "template_environment"]

#: Folder, inside a package, that holds its templates.
TEMPLATE_FOLDER = "templates"


@cache
def template_environment(package: str) -> jinja2.Environment:
    """Return the environment of ``<package>/templates/`` (one per package, cached).

    Parameters
    ----------
    package
        Dotted name of the package whose ``templates/`` folder holds the templates,
        e.g. ``"galaxy_lib.core"``.

    Returns
    -------
    jinja2.Environment
        Autoescaping, strict about undefined names (a misspelt variable raises
        instead of rendering as an empty string), dropping a template file's final newline
        (so fragments join without a space), with the filter ``fmt``: Python's format
        specification, ``{{ spend | fmt(",.0f") }}``.
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, TEMPLATE_FOLDER),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = format
    return env


def render_template(package: str, name: str, /, **context: Any) -> str:
    """Render the template ``name`` of ``<package>/templates/`` with ``context``.

    Parameters
    ----------
    package
        Dotted package name, e.g. ``"galaxy_lib.core"``.
    name
        Template file name, e.g. ``"index.html.j2"``.
    **context
        Values the template uses; strings are HTML-escaped unless wrapped in
        :class:`markupsafe.Markup`.

    Returns
    -------
    str
        The rendered text.

    Raises
    ------
    jinja2.TemplateNotFound
        When the package has no such template (the message names it).
    jinja2.UndefinedError
        When the template uses a name missing from ``context``.
    """
    return template_environment(package).get_template(name).render(**context)
