"""Every notebook follows the notebook contract of docs/ARCHITECTURE.md.

1. a markdown cell first (purpose, inputs, outputs);
2. exactly one cell tagged ``parameters`` holding only literal, typed, commented assignments;
3. the next code cell validates the parameters into a pydantic config;
4. the last code cell publishes the run through its workflow's ``publish`` (see
   tests/test_architecture.py for the exact call);
and the ``.ipynb`` is committed without outputs and paired with a jupytext ``.py`` file
whose code is identical.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "notebooks/ holds no NN_name.ipynb files"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_contract(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    assert cells[0].cell_type == "markdown", f"{path.name}: the first cell must be markdown (purpose, inputs, outputs)"
    text = cells[0].source.lower()
    for word in ("input", "output"):
        assert word in text, f"{path.name}: the first markdown cell must say its {word}s"

    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell must be tagged 'parameters' (found {len(tagged)})"
    params = cells[tagged[0]]
    tree = ast.parse(params.source)
    for node in tree.body:
        assert isinstance(node, ast.AnnAssign), (
            f"{path.name}: the parameters cell may hold only typed assignments (name: type = literal), "
            f"found {ast.dump(node)[:60]}"
        )
        ast.literal_eval(node.value)  # raises if not a literal
    for line in params.source.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert "#" in line, f"{path.name}: parameter line without a comment: {line!r}"

    declared = papermill.inspect_notebook(str(path))
    names = [node.target.id for node in tree.body]
    assert list(declared) == names, (
        f"{path.name}: papermill cannot read every parameter (it read {sorted(declared)}); "
        "keep '=' out of the comments of the parameters cell"
    )

    code = [c for c in cells if c.cell_type == "code"]
    after = code[code.index(params) + 1].source
    assert "Params" in after or "validate_params" in after, (
        f"{path.name}: the cell after the parameters must validate them into a pydantic config"
    )
    assert ".publish(" in code[-1].source, (
        f"{path.name}: the last code cell must publish the run through its workflow's publish(...)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; run `nbstripout {path}`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_paired_with_jupytext_script(path: Path) -> None:
    script = path.with_suffix(".py")
    assert script.is_file(), (
        f"{path.name} has no paired {script.name}; run `jupytext --set-formats ipynb,py:percent {path}`"
    )
    from_ipynb = [c.source.strip() for c in nbformat.read(path, as_version=4).cells]
    from_py = [c.source.strip() for c in jupytext.read(script).cells]
    assert from_ipynb == from_py, f"{path.name} and {script.name} differ; run `jupytext --sync {path}`"
