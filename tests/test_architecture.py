"""The workflow skeleton and the notebook contract of docs/ARCHITECTURE.md, checked.

Import layers are checked by ``lint-imports`` (the contract in pyproject.toml) in
``make test``; this file checks what import-linter cannot see: that every workflow
package has the skeleton's parts, that every notebook validates its parameters
first and publishes once at its end, and that modules stay small enough to read.
"""

from __future__ import annotations

import ast
import importlib
import tomllib
from pathlib import Path

import nbformat
import pytest

from galaxy_lib.core.params import NotebookParams
from galaxy_lib.pipeline.curated import registered_tables

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "galaxy_lib"

#: Workflow package -> its notebook. A new workflow adds its line here (see the checklist).
WORKFLOW_NOTEBOOKS: dict[str, str] = {
    "inventory": "01_data_inventory",
    "mmm": "02_mmm",
    "mta": "03_mta",
    "uplift": "04_uplift",
    "creative": "05_creative",
}
#: Workflows that fit no model (the inventory grades data; it has no model.py).
WITHOUT_MODEL: frozenset[str] = frozenset({"inventory"})
#: "About 600 lines": the longest module may not exceed this.
MAX_MODULE_LINES = 620


def _has_part(package: Path, name: str) -> bool:
    """``name.py`` or a ``name/`` (or plural ``names/``) package."""
    return (
        (package / f"{name}.py").is_file()
        or (package / name / "__init__.py").is_file()
        or (package / f"{name}s" / "__init__.py").is_file()
    )


@pytest.mark.parametrize("workflow", sorted(WORKFLOW_NOTEBOOKS))
def test_workflow_package_has_the_skeleton(workflow: str) -> None:
    package = LIB / workflow
    needed = ["params", "data", "analysis", "plots", "report"]
    if workflow not in WITHOUT_MODEL:
        needed.append("model")
    missing = [part for part in needed if not _has_part(package, part)]
    assert not missing, f"galaxy_lib/{workflow} lacks {missing} of the workflow skeleton (docs/ARCHITECTURE.md)."


@pytest.mark.parametrize("workflow", sorted(WORKFLOW_NOTEBOOKS))
def test_workflow_exports_its_params_and_publish(workflow: str) -> None:
    package = importlib.import_module(f"galaxy_lib.{workflow}")
    params_module = importlib.import_module(f"galaxy_lib.{workflow}.params")
    params_classes = [
        obj
        for obj in vars(params_module).values()
        if isinstance(obj, type)
        and issubclass(obj, NotebookParams)
        and obj is not NotebookParams
        and obj.__module__ == params_module.__name__
    ]
    assert len(params_classes) == 1, f"{params_module.__name__} must define one NotebookParams subclass."
    assert getattr(package, params_classes[0].__name__) is params_classes[0]
    report = importlib.import_module(f"galaxy_lib.{workflow}.report")
    assert package.publish is report.publish, f"galaxy_lib.{workflow} must export report.publish as publish."
    assert report.NOTEBOOK == WORKFLOW_NOTEBOOKS[workflow]


def _code_cells(notebook: str) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize(("workflow", "notebook"), sorted(WORKFLOW_NOTEBOOKS.items()))
def test_notebook_validates_first_and_publishes_once_at_the_end(workflow: str, notebook: str) -> None:
    cells = _code_cells(notebook)
    assert "parameters" in cells[0].metadata.get("tags", []), f"{notebook}: the first code cell must be `parameters`."
    assert ".from_notebook(globals())" in cells[1].source, (
        f"{notebook}: the second code cell must validate the parameters with <Workflow>Params.from_notebook(globals())."
    )
    call = f"{workflow}.publish("
    calls = [i for i, c in enumerate(cells) if call in c.source]
    assert calls == [len(cells) - 1], (
        f"{notebook}: `{call}...)` must be called once, in the last code cell (found in code cells {calls})."
    )
    assert not any("ReportWriter" in c.source for c in cells), f"{notebook}: publish through {workflow}.publish."


def test_modules_stay_small() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in LIB.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"Split these modules (limit {MAX_MODULE_LINES} lines): {long}"


def test_plots_modules_only_draw() -> None:
    """``plots.py`` draws from tables: it imports no model, no report and no store."""
    forbidden = ("model", "models", "report", "store", "reporting")
    for path in LIB.glob("*/plots.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        bad = [m for m in imported if m.startswith("galaxy_lib") and m.rsplit(".", 1)[-1] in forbidden]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}; plots draw tables they are given."


def test_every_workflow_is_a_layer_of_the_import_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    workflow_layer = next(layer for layer in config["layers"] if "galaxy_lib.mmm" in layer)
    listed = {name.strip() for name in workflow_layer.split("|")}
    packages = {f"galaxy_lib.{p.parent.name}" for p in LIB.glob("*/__init__.py")}
    core_layers = {layer for layer in config["layers"] if "|" not in layer}
    unplaced = packages - listed - core_layers
    assert not unplaced, f"Add {sorted(unplaced)} to a layer in [tool.importlinter] (docs/ARCHITECTURE.md)."


def test_curated_tables_belong_to_a_workflow_package() -> None:
    tables = registered_tables()
    assert {t.name for t in tables} >= {"mmm_weekly", "uplift_features"}
    for table in tables:
        assert (LIB / table.owner / "curated.py").is_file(), f"{table.name}: owner {table.owner!r} has no curated.py"
