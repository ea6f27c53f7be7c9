"""Channel names: one canonical name per channel, whatever the export calls it.

Media exports spell the same channel many ways (``TV``, ``tv ``, ``Television``).
``parameters/channels.yaml`` maps each canonical name to its aliases::

    tv: [TV, Television, Linear TV]
    search: [Paid Search, SEA, Google Ads]

Matching ignores case and surrounding whitespace, and a run of spaces inside a
name counts as one space (``"Paid  Search"`` is ``"paid search"``). The canonical
name itself always matches. A name the map does not know is kept as it is,
trimmed, and listed by :meth:`ChannelMap.unknown` so it can be added.

Ingestion (:func:`galaxy_lib.pipeline.ingest.ingest_file`, ``galaxy ingest
--channels FILE``) applies the map to every ``channel`` column it loads.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import PrivateAttr, field_validator, model_validator

from galaxy_lib.core.config import ConfigError, GalaxyConfig, load_yaml, validate_params
from galaxy_lib.core.paths import find_project_root

__all__ = ["DEFAULT_CHANNELS_FILE", "ChannelMap", "channel_key", "default_channels_path"]

#: Where the project's channel map lives, relative to the project root.
DEFAULT_CHANNELS_FILE = Path("parameters") / "channels.yaml"


def channel_key(name: str) -> str:
    """Return the form names are matched in: case-folded, trimmed, inner whitespace runs as one space.

    Examples
    --------
    >>> channel_key("  Paid   Search ")
    'paid search'
    """
    return " ".join(str(name).split()).casefold()


def default_channels_path() -> Path | None:
    """Return ``parameters/channels.yaml`` under the project root, or ``None`` when there is no such file."""
    try:
        path = find_project_root() / DEFAULT_CHANNELS_FILE
    except FileNotFoundError:
        return None
    return path if path.is_file() else None


class ChannelMap(GalaxyConfig):
    """Canonical channel name -> aliases, validated so every alias names one channel.

    Attributes
    ----------
    channels
        Canonical name -> its aliases (a list; one alias may be written as a plain
        string, none as an empty list or nothing).
    source
        Where the map came from, quoted in messages (the file path, or empty).

    Raises
    ------
    pydantic.ValidationError
        (a :class:`~galaxy_lib.core.config.ConfigError` through :meth:`load`) when a
        name is empty or one alias (after case and whitespace folding) belongs to two
        channels; the message names the alias and both channels.

    Examples
    --------
    >>> m = ChannelMap(channels={"tv": ["TV", "Television"]})
    >>> m.canonical(" television "), m.canonical("Radio ")
    ('tv', 'Radio')
    >>> m.unknown(["TV", "radio", "Radio", None])
    ['Radio', 'radio']
    """

    channels: dict[str, tuple[str, ...]] = {}
    source: str = ""
    _lookup: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("channels", mode="before")
    @classmethod
    def _aliases_as_lists(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError(f"must be a mapping of canonical name -> list of aliases, got {type(value).__name__}")
        out: dict[Any, Any] = {}
        for name, aliases in value.items():
            if aliases is None:
                aliases = []
            elif isinstance(aliases, str):
                aliases = [aliases]
            elif not isinstance(aliases, (list, tuple)):
                raise ValueError(
                    f"aliases of {name!r} must be a list of names (e.g. {name}: [TV, Television]), "
                    f"got {type(aliases).__name__}"
                )
            out[str(name)] = [str(a) if isinstance(a, (int, float)) and not isinstance(a, bool) else a for a in aliases]
        return out

    @model_validator(mode="after")
    def _one_channel_per_alias(self) -> ChannelMap:
        lookup: dict[str, str] = {}
        written: dict[str, str] = {}
        where = f" in {self.source}" if self.source else ""
        for name, aliases in self.channels.items():
            if not channel_key(name):
                raise ValueError(f"a canonical channel name{where} is empty; give every channel a name")
            for alias in (name, *aliases):
                key = channel_key(alias)
                if not key:
                    raise ValueError(f"channel {name!r}{where} has an empty alias; remove it")
                other = lookup.get(key)
                if other is not None and other != name:
                    raise ValueError(
                        f"alias {alias!r}{where} maps to two channels, {other!r} (as {written[key]!r}) and {name!r}: "
                        "keep it under one of them"
                    )
                lookup[key] = name
                written.setdefault(key, alias)
        self._lookup = lookup
        return self

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: str | Path) -> ChannelMap:
        """Read a channel map from a YAML file of ``canonical: [alias, ...]``.

        Raises
        ------
        ConfigError
            When the file is missing, is not a mapping, or an alias names two channels.
        """
        path = Path(path).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"Channel map {path} does not exist. Give a YAML file of canonical name: [aliases], "
                f"e.g. tv: [TV, Television] (the project's is {DEFAULT_CHANNELS_FILE})."
            )
        data = load_yaml(path)
        return validate_params(cls, {"channels": data, "source": str(path)}, source=str(path))

    @classmethod
    def default(cls) -> ChannelMap:
        """Load the project's map (``parameters/channels.yaml``); an empty map (names only trimmed) when absent."""
        path = default_channels_path()
        return cls.load(path) if path is not None else cls()

    # ------------------------------------------------------------------ lookups

    @property
    def names(self) -> tuple[str, ...]:
        """Canonical channel names, in file order."""
        return tuple(self.channels)

    def knows(self, name: str) -> bool:
        """Whether ``name`` is a canonical name or an alias (case and whitespace ignored)."""
        return channel_key(name) in self._lookup

    def canonical(self, name: str) -> str:
        """Return the canonical name of ``name``; a name the map does not know comes back trimmed."""
        return self._lookup.get(channel_key(name), str(name).strip())

    def unknown(self, names: Iterable[Any]) -> list[str]:
        """List the distinct names (trimmed, sorted) the map does not know; missing and empty names are skipped."""
        out: set[str] = set()
        for n in names:
            if n is None or (not isinstance(n, str) and pd.isna(n)):
                continue
            text = str(n).strip()
            if text and not self.knows(text):
                out.add(text)
        return sorted(out)

    def apply(self, values: pd.Series) -> pd.Series:
        """Canonical names for a column of channel names (missing values stay missing; same index and dtype)."""
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        mapped = np.array([self.canonical(u) for u in uniques] + [None], dtype=object)
        out = pd.Series(mapped[codes], index=values.index, name=values.name)  # code -1 picks the trailing None
        return out.astype(values.dtype) if isinstance(values.dtype, pd.StringDtype) else out
