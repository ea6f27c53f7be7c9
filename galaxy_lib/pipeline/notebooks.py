"""The request checks of a run: which notebook, which job, which parameters.

:func:`galaxy_lib.pipeline.runner.run_notebook` calls these before it creates
anything, so a misspelt notebook, job or parameter name fails at once with the
names that would work (and the scheduler can record it as a failed start):

* :func:`resolve_notebook` finds a notebook by name or path, listing the notebooks there are;
* :func:`check_job_name` accepts a job name only if it is a usable folder under ``reports/``;
* :func:`check_parameters` accepts only parameters declared in the notebook's
  ``parameters`` cell (papermill's ``inspect_notebook``), suggesting the closest name;
* :func:`inject_data_dir` sets the ``data_dir`` parameter from the runner's argument.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from galaxy_lib.core.config import ConfigError, resolve_path
from galaxy_lib.core.paths import find_project_root

__all__ = [
    "RESERVED_PARAMETERS",
    "check_job_name",
    "check_parameters",
    "declared_default",
    "inject_data_dir",
    "notebook_parameters",
    "resolve_notebook",
]

#: Parameters the runner sets itself.
RESERVED_PARAMETERS: tuple[str, ...] = ("output_dir",)
_JOB_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def check_job_name(job: str) -> str:
    """Return ``job`` if it is a usable folder name under ``reports/``, else raise :class:`ConfigError`."""
    if not isinstance(job, str) or not _JOB_RE.match(job) or job == "adhoc":
        raise ConfigError(
            f"Job name {job!r} is not allowed: use letters, digits, '_', '-' or '.', starting with a "
            "letter or digit (it becomes the folder reports/<job>/); 'adhoc' is reserved for interactive runs."
        )
    return job


def resolve_notebook(notebook: str | Path, notebooks_dir: str | Path | None = None) -> Path:
    """Find a notebook by path or by name in ``notebooks_dir`` (``.ipynb`` may be omitted).

    Raises
    ------
    FileNotFoundError
        Listing the notebooks that do exist.
    """
    nb_dir = Path(notebooks_dir) if notebooks_dir else find_project_root() / "notebooks"
    raw = Path(notebook).expanduser()
    names = [raw] if raw.suffix == ".ipynb" else [raw.with_name(raw.name + ".ipynb"), raw]
    candidates: list[Path] = []
    for n in names:
        candidates.extend([n] if n.is_absolute() else [nb_dir / n, Path.cwd() / n])
    for c in candidates:
        if c.is_file() and c.suffix == ".ipynb":
            return c.resolve()
    available = sorted(p.name for p in nb_dir.glob("*.ipynb")) if nb_dir.is_dir() else []
    raise FileNotFoundError(
        f"Notebook {str(notebook)!r} not found (looked in {nb_dir} and the current folder). "
        f"Available notebooks: {', '.join(available) or 'none'}."
    )


def notebook_parameters(path: str | Path) -> dict[str, dict[str, Any]]:
    """Return the notebook's declared parameters: ``{name: {"name", "inferred_type_name", "default", "help"}}``."""
    import papermill

    return papermill.inspect_notebook(str(path))


def check_parameters(
    path: str | Path, parameters: Mapping[str, Any], source: str = "parameters"
) -> dict[str, dict[str, Any]]:
    """Raise :class:`ConfigError` unless every key of ``parameters`` is declared in the notebook.

    Parameters
    ----------
    path
        The notebook.
    parameters
        Values to inject.
    source
        Where they came from (a file name, ``-p``), quoted in the message.

    Returns
    -------
    dict
        The declared parameters (see :func:`notebook_parameters`).
    """
    path = Path(path)
    declared = notebook_parameters(path)
    if not declared:
        raise ConfigError(
            f"{path.name} has no cell tagged 'parameters', so nothing can be injected. Tag the cell that "
            "assigns the notebook's parameters (View > Cell Toolbar > Tags in Jupyter, or '# %% tags=[\"parameters\"]' "
            "in the jupytext .py file)."
        )
    for reserved in RESERVED_PARAMETERS:
        if reserved in parameters:
            raise ConfigError(f"{reserved!r} is set by the runner (reports/<job>/<run_id>/); remove it from {source}.")
        if reserved not in declared:
            raise ConfigError(
                f'{path.name} does not declare the parameter {reserved!r}: add `{reserved}: str = ""` to its '
                "parameters cell and pass it to the workflow's publish(output_dir, ...)."
            )
    unknown = [k for k in parameters if k not in declared]
    if unknown:
        valid = ", ".join(
            f"{n} ({p.get('inferred_type_name') or '?'}, default {p.get('default')})"
            for n, p in declared.items()
            if n not in RESERVED_PARAMETERS
        )
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, list(declared), n=1)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(
            f"Unknown parameter(s) {', '.join(hints)} in {source} for {path.name}. Valid parameters: {valid}."
        )
    return declared


def declared_default(declared: Mapping[str, Mapping[str, Any]], name: str) -> Any:
    """Return the default of a declared parameter as a Python value (``None`` if undeclared or not a literal)."""
    if name not in declared:
        return None
    try:
        return ast.literal_eval(str(declared[name].get("default")))
    except (ValueError, SyntaxError):
        return None


def inject_data_dir(
    params: dict[str, Any], declared: Mapping[str, Any], data_dir: str | Path | None, source: str
) -> None:
    """Set the ``data_dir`` parameter from ``data_dir`` when the notebook declares one (refusing a conflict)."""
    if data_dir is None or "data_dir" not in declared:
        return
    if "data_dir" in params and resolve_path(params["data_dir"]) != resolve_path(data_dir):
        raise ConfigError(
            f"data_dir is given twice with different values ({params['data_dir']!r} in {source} "
            f"and {str(data_dir)!r}); pass only one."
        )
    params["data_dir"] = str(data_dir)
