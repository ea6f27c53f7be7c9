"""The base of every notebook's parameters.

A notebook's ``parameters`` cell holds flat, literal assignments (papermill
injects scheduled values the same way). Its second cell validates them into the
workflow's ``params.Params`` class, a subclass of :class:`NotebookParams`::

    params = Params.from_notebook(globals())

Validation does two things in that first cell, so a wrong value never gets as
far as sampling:

* each flat field is checked (type, choices, ``extra="forbid"`` for unknown names);
* the library configs the workflow needs are built from the flat fields
  (:attr:`NotebookParams.library_configs`), so every bound of, say,
  :class:`galaxy_lib.mmm.model.MMMConfig` fails here, with the *notebook's*
  parameter name and the fix, instead of in the fit cell minutes later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Self

import pandas as pd
from pydantic import AfterValidator, BaseModel, PrivateAttr, ValidationError, model_validator

from galaxy_lib.core.config import GalaxyConfig, error_parts, params_from_namespace, resolve_path

__all__ = ["WORLD_SIZES", "InputPath", "IsoDate", "NotebookParams", "existing_path_or_empty", "iso_date_or_empty"]

#: Sizes of the Galaxy world a notebook builds when its ``data_dir`` is empty.
WORLD_SIZES: tuple[str, ...] = ("ci", "demo", "bench")


def existing_path_or_empty(value: str) -> str:
    """Validate an optional input path: empty, or an existing file or folder.

    Relative paths are taken from the project root (as the notebooks resolve them),
    so a typo fails in the parameters cell instead of after minutes of work.
    """
    if value and not resolve_path(value).exists():
        raise ValueError(
            f"no file or folder at {value!r} (relative paths start at the project root {resolve_path('.')}); "
            "fix the path or leave it empty"
        )
    return value


def iso_date_or_empty(value: str) -> str:
    """Check an optional date parameter: empty, or anything pandas reads as one date."""
    if value:
        try:
            pd.Timestamp(value)
        except (ValueError, TypeError):
            raise ValueError(
                f"{value!r} is not a date; use an ISO date such as '2025-12-31', or leave it empty"
            ) from None
    return value


#: A notebook parameter naming an input file or folder; empty means "not given".
InputPath = Annotated[str, AfterValidator(existing_path_or_empty)]
#: A notebook parameter holding an ISO date; empty means the parameter's documented default.
IsoDate = Annotated[str, AfterValidator(iso_date_or_empty)]


class NotebookParams(GalaxyConfig):
    """Fields every workflow notebook has, and the building of its library configs.

    Attributes
    ----------
    data_dir
        Store root; a Galaxy world of ``world_size`` is built there when it is empty.
    world_size
        ``ci`` (seconds), ``demo`` or ``bench`` (1M customers).
    output_dir
        Run folder; empty means ``reports/adhoc/<notebook>``. The runner injects
        ``reports/<job>/<run_id>``.
    library_configs
        Class variable of a subclass: ``{name: (ConfigClass, {config_field: parameter_name})}``.
        Each is built during validation and returned by :meth:`config`.
    """

    data_dir: str = "data/ci"
    world_size: Literal["ci", "demo", "bench"] = "ci"
    output_dir: str = ""

    library_configs: ClassVar[Mapping[str, tuple[type[BaseModel], Mapping[str, str]]]] = {}
    _configs: dict[str, BaseModel] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _build_library_configs(self) -> Self:
        problems: list[str] = []
        for name, (config_class, fields) in self.library_configs.items():
            values = {field: getattr(self, param) for field, param in fields.items()}
            try:
                self._configs[name] = config_class.model_validate(values)
            except ValidationError as err:
                problems += [_describe(e, fields) for e in err.errors()]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def config(self, name: str) -> Any:
        """Return the library config ``name`` built from the flat parameters (see :attr:`library_configs`)."""
        try:
            return self._configs[name]
        except KeyError:
            raise KeyError(
                f"{type(self).__name__} builds no config {name!r}; it builds {sorted(self._configs)}."
            ) from None

    @classmethod
    def from_notebook(cls, namespace: Mapping[str, Any]) -> Self:
        """Validate a notebook's parameters from its ``globals()`` (raises ``ConfigError`` naming each bad field)."""
        return params_from_namespace(cls, dict(namespace))


def _describe(error: Mapping[str, Any], fields: Mapping[str, str]) -> str:
    """One line of a library-config error, named by the notebook parameter that feeds the field.

    A rule over several fields (e.g. ``rhat_warn (1.2) must not exceed rhat_fail (1.1)``)
    has its config field names replaced by the notebook's; when it names none of them,
    the parameters that feed the config are listed.
    """
    loc = error.get("loc") or ()
    _, message = error_parts(error)
    if loc:
        field = str(loc[0])
        return f"{fields.get(field, field)}: {message} (got {error.get('input')!r})"
    renamed = (
        re.sub(
            r"\b(" + "|".join(map(re.escape, sorted(fields, key=len, reverse=True))) + r")\b",
            lambda m: fields[m.group(1)],
            message,
        )
        if fields
        else message
    )
    if renamed != message or any(re.search(rf"\b{re.escape(p)}\b", message) for p in fields.values()):
        return renamed.rstrip(".")
    return f"{message.rstrip('.')} (parameters: {', '.join(fields.values())})"
