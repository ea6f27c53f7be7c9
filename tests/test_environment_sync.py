"""environment.yml must list exactly the dependencies of pyproject.toml (main + test)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _normalise(spec: str) -> str:
    req = Requirement(spec)
    return f"{req.name.lower().replace('_', '-')}{req.specifier}"


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_normalise(s) for s in project["dependencies"] + project["optional-dependencies"]["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_block = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {_normalise(s) for s in pip_block if not s.startswith("-") and not s.startswith("torch==")}
    missing = wanted - listed
    extra = listed - wanted
    assert not missing and not extra, (
        f"environment.yml drifted from pyproject.toml: missing {sorted(missing)}, extra {sorted(extra)}. "
        "Copy the dependency list from pyproject.toml into environment.yml's pip block."
    )


def test_torch_is_pinned_first_in_both() -> None:
    env_text = (ROOT / "environment.yml").read_text()
    make_text = (ROOT / "Makefile").read_text()
    assert "torch==2.13.0" in env_text
    assert make_text.index("torch==2.13.0") < make_text.index("-e '.[")
