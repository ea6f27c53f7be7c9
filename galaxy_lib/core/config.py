"""Configuration models for everything that comes from outside the code.

Notebook parameters, parameter files and schedule files are validated into
pydantic models with ``extra="forbid"`` so a misspelt name fails at once with a
message naming the field and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from galaxy_lib.core.paths import find_project_root

__all__ = [
    "ConfigError",
    "GalaxyConfig",
    "error_parts",
    "load_yaml",
    "params_from_namespace",
    "resolve_path",
    "validate_params",
]

T = TypeVar("T", bound="GalaxyConfig")


class ConfigError(ValueError):
    """A parameter file or notebook parameter is wrong; the message says how to fix it."""


class GalaxyConfig(BaseModel):
    """Base for every externally supplied configuration: strict and immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def error_parts(error: Mapping[str, Any]) -> tuple[str, str]:
    """Where one pydantic error is (``a.b``, empty for a rule over several fields) and its message.

    The message drops pydantic's ``"Value error, "`` prefix, so our own validators read as written.
    """
    where = ".".join(str(p) for p in error.get("loc") or ())
    return where, str(error.get("msg", "")).removeprefix("Value error, ")


def _format_validation_error(model: type[BaseModel], err: ValidationError, source: str) -> str:
    lines = [f"Invalid parameters for {model.__name__} ({source}):"]
    allowed = ", ".join(sorted(model.model_fields))
    for e in err.errors():
        where, message = error_parts(e)
        if e["type"] == "extra_forbidden":
            lines.append(f"  - {where}: unknown parameter. Allowed parameters: {allowed}.")
        elif not where:  # a rule over several fields names them ("x_warn (2) must not exceed x_fail (1)")
            lines.extend(f"  - {part.rstrip('.')}." for part in message.split("; "))
        else:
            lines.append(f"  - {where}: {message} (got {e.get('input')!r}).")
    return "\n".join(lines)


def validate_params(model: type[T], params: dict[str, Any], source: str = "parameters") -> T:
    """Validate a dict of parameters into ``model``, raising :class:`ConfigError` with a readable message.

    Parameters
    ----------
    model
        The pydantic config class (a :class:`GalaxyConfig` subclass).
    params
        Raw values, e.g. the notebook's ``parameters`` cell gathered with ``locals()``.
    source
        Where the values came from, quoted in the error message.
    """
    try:
        return model.model_validate(params)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(model, err, source)) from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with an error that names the file when it is not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Parameter file {path} does not exist.")
    with path.open() as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must contain a YAML mapping of name: value, got {type(data).__name__}.")
    return data


def resolve_path(value: str | Path, root: Path | None = None) -> Path:
    """Resolve a user-supplied path: absolute paths stay, relative ones are taken from the project root."""
    p = Path(value).expanduser()
    if p.is_absolute():
        return p
    return (root or find_project_root()) / p


def params_from_namespace(model: type[T], namespace: dict[str, Any]) -> T:
    """Validate a notebook's parameters: every field of ``model`` found in ``namespace`` (the notebook's ``globals()``).

    Papermill injects scheduled values as plain assignments after the
    ``parameters`` cell, so the notebook's globals hold the final values. Names the
    model does not know are rejected earlier, by the runner, which checks every
    ``-p`` name against the notebook's parameters cell.
    """
    values = {name: namespace[name] for name in model.model_fields if name in namespace}
    return validate_params(model, values, source="notebook parameters")
