"""The run registry: run ids and run manifests.

Every execution of a notebook gets a run id and a :class:`RunManifest` written to
``reports/<job>/<run_id>/manifest.json``: what ran (notebook, parameters and their
hash, code version), on what (fingerprints of the input files), what it produced,
how long it took and how it ended. The manifest is also the payload of the run's
entry in the hash-chained audit log (:mod:`galaxy_lib.core.audit`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import galaxy_lib
from galaxy_lib.core.jsonio import canonical_json, to_jsonable
from galaxy_lib.core.paths import ZONES

__all__ = [
    "RunManifest",
    "code_version",
    "file_fingerprint",
    "input_fingerprints",
    "new_run_id",
    "parameters_hash",
]

#: Files hashed in full up to this size; bigger non-Parquet files hash their first and last MiB.
_FULL_HASH_LIMIT = 8 * 1024 * 1024
_EDGE = 1024 * 1024


def new_run_id(now: dt.datetime | None = None) -> str:
    """Make a sortable, unique run id: UTC timestamp + 6 random hex digits, e.g. ``20261128T231500Z-3fa2c1``."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def parameters_hash(parameters: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``parameters`` (key order and whitespace do not matter)."""
    return hashlib.sha256(canonical_json(dict(parameters)).encode("utf-8")).hexdigest()


def code_version(root: str | Path | None = None) -> dict[str, Any]:
    """Which code ran: the git commit and whether tracked files had uncommitted changes (``dirty``).

    Outside a git checkout (an installed package) it records the package version
    with ``commit`` set to ``None``.
    """
    info: dict[str, Any] = {"package_version": galaxy_lib.__version__, "commit": None, "dirty": None}
    cwd = Path(root) if root else Path(galaxy_lib.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=20, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return info
    info.update(commit=commit, dirty=bool(status.strip()))
    return info


def file_fingerprint(path: str | Path) -> dict[str, Any]:
    """Cheap content fingerprint of one file: size, mtime and a SHA-256.

    Parquet files hash their footer (the schema, row-group statistics and
    offsets, which change with the content) instead of the whole file, so a
    multi-GB table is fingerprinted in microseconds. Other files are hashed in
    full up to 8 MiB, beyond that the first and last MiB plus the size.
    """
    path = Path(path)
    st = path.stat()
    h = hashlib.sha256()
    method = "full"
    with path.open("rb") as fh:
        if path.suffix == ".parquet" and st.st_size >= 12:
            fh.seek(-8, 2)
            tail = fh.read(8)
            footer_len = int.from_bytes(tail[:4], "little")
            if tail[4:] == b"PAR1" and footer_len + 8 <= st.st_size:
                fh.seek(-(footer_len + 8), 2)
                h.update(fh.read(footer_len + 8))
                method = "parquet-footer"
        if method == "full":
            if st.st_size <= _FULL_HASH_LIMIT:
                fh.seek(0)
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            else:
                method = "edges"
                fh.seek(0)
                h.update(fh.read(_EDGE))
                fh.seek(-_EDGE, 2)
                h.update(fh.read(_EDGE))
                h.update(str(st.st_size).encode())
    return {
        "size": st.st_size,
        "mtime": dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).isoformat(),
        "sha256": h.hexdigest(),
        "method": method,
    }


def input_fingerprints(data_dir: str | Path | None) -> dict[str, dict[str, Any]]:
    """Fingerprints of the files in a store's zones plus ``ground_truth.json`` and ``world.json``.

    Keys are paths relative to ``data_dir``. Lock files and half-written
    ``*.tmp`` folders are skipped. A missing ``data_dir`` gives ``{}``.
    """
    if data_dir is None:
        return {}
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return {}
    files: list[Path] = [data_dir / n for n in ("ground_truth.json", "world.json") if (data_dir / n).is_file()]
    for zone in ZONES:
        zdir = data_dir / zone
        if zdir.is_dir():
            files.extend(
                p
                for p in zdir.rglob("*")
                if p.is_file()
                and not p.name.endswith(".lock")
                and not any(part.endswith(".tmp") or part.startswith(".") for part in p.relative_to(zdir).parts)
            )
    out: dict[str, dict[str, Any]] = {}
    for p in sorted(files):
        try:
            out[p.relative_to(data_dir).as_posix()] = file_fingerprint(p)
        except FileNotFoundError:  # replaced by a concurrent write between listing and hashing
            continue
    return out


@dataclass(frozen=True)
class RunManifest:
    """Everything recorded about one run (``reports/<job>/<run_id>/manifest.json``).

    Attributes
    ----------
    run_id, job, notebook
        Identity: the run id, the job name (folder under ``reports/``) and the notebook file name.
    parameters, parameters_hash
        The injected parameters and the SHA-256 of their canonical JSON.
    code_version
        ``{"commit", "dirty", "package_version"}``.
    input_fingerprints
        ``{relative path: {"size", "mtime", "sha256", "method"}}`` of the data directory's files.
    outputs
        Files in the run folder, relative to it.
    started_at, finished_at, duration_s
        UTC ISO timestamps and wall-clock seconds (``finished_at`` is None while running).
    status, status_reason
        ``"running"``, ``"passed"``, ``"warn"`` or ``"failed"`` and why.
    error
        For failed runs: ``{"kind", "message", ...}`` with ``kind`` one of ``exception``
        (plus ``ename``, ``evalue``, ``cell_index``, ``cell_source``), ``timeout``,
        ``interrupted``, ``pii``, ``metrics``, ``config``, ``runner``; else None.
    data_dir
        The store the run read (absolute path), or None.
    """

    run_id: str
    job: str
    notebook: str
    parameters: Mapping[str, Any]
    parameters_hash: str
    code_version: Mapping[str, Any]
    input_fingerprints: Mapping[str, Any]
    outputs: tuple[str, ...]
    started_at: str
    finished_at: str | None
    duration_s: float | None
    status: str
    status_reason: str = ""
    error: Mapping[str, Any] | None = None
    data_dir: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the content of ``manifest.json``)."""
        return to_jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunManifest:
        """Rebuild a manifest from :meth:`to_dict` output; unknown keys raise ``ValueError``."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"Unknown manifest field(s): {', '.join(sorted(unknown))}.")
        kwargs = dict(data)
        kwargs["outputs"] = tuple(kwargs.get("outputs") or ())
        return cls(**kwargs)
