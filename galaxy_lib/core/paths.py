"""Where things live: the project root, the data zones and the reports folder.

Everything that touches the file system asks :class:`ProjectPaths` so that tests
can point the whole workbench at a temporary directory with one argument (or the
``GALAXY_HOME`` environment variable).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ZONES", "ProjectPaths", "find_project_root"]

#: Data zones, in the order data flows through them.
ZONES: tuple[str, ...] = ("raw", "staged", "curated", "quarantine")


def find_project_root(start: Path | None = None) -> Path:
    """Return the repository root (the folder holding ``pyproject.toml`` and ``notebooks/``).

    ``GALAXY_HOME`` wins when set. Otherwise walk up from ``start`` (default: the
    current directory, then this file's folder) until a folder with both
    ``pyproject.toml`` and ``notebooks`` is found.
    """
    env = os.environ.get("GALAXY_HOME")
    if env:
        return Path(env).expanduser().resolve()
    candidates = [Path(start or Path.cwd()).resolve(), Path(__file__).resolve()]
    for origin in candidates:
        for folder in (origin, *origin.parents):
            if (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir():
                return folder
    raise FileNotFoundError(
        "Could not find the Galaxy Workbench root (a folder with pyproject.toml and "
        "notebooks/). Run from inside the repository or set GALAXY_HOME."
    )


@dataclass(frozen=True)
class ProjectPaths:
    """Resolved folders of one workbench checkout.

    Parameters
    ----------
    root
        The repository root. ``data``, ``reports``, ``notebooks`` and
        ``parameters`` are resolved below it unless given explicitly.
    data
        The data store root (holds the zone folders and ``ground_truth.json``).
    reports
        Where scheduled and ad-hoc runs publish their artefacts.
    """

    root: Path
    data: Path
    reports: Path

    @classmethod
    def discover(cls, data: Path | str | None = None, reports: Path | str | None = None) -> ProjectPaths:
        """Build paths from the repository root, with optional overrides."""
        root = find_project_root()
        return cls(
            root=root,
            data=Path(data).resolve() if data else root / "data",
            reports=Path(reports).resolve() if reports else root / "reports",
        )

    @property
    def notebooks(self) -> Path:
        """Folder of the workflow notebooks."""
        return self.root / "notebooks"

    @property
    def parameters(self) -> Path:
        """Folder of the parameter files (scheduled, ``ci/``, ``schedule.yaml``, ``channels.yaml``)."""
        return self.root / "parameters"

    def zone(self, name: str) -> Path:
        """Folder of one data zone (``raw``, ``staged``, ``curated`` or ``quarantine``)."""
        if name not in ZONES:
            raise ValueError(f"Unknown data zone {name!r}; expected one of {ZONES}.")
        return self.data / name

    @property
    def ground_truth(self) -> Path:
        """The Galaxy world's ``ground_truth.json`` (absent for your own data)."""
        return self.data / "ground_truth.json"

    @property
    def audit_log(self) -> Path:
        """The hash-chained audit log of every run."""
        return self.reports / "audit.jsonl"
