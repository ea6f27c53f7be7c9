"""The run registry: run ids, run manifests and their cross-check against the audit log.

Every execution of a notebook gets a run id and a :class:`RunManifest` written to
``reports/<job>/<run_id>/manifest.json``: what ran (notebook, parameters and their
hash, code version), on what (fingerprints of the input files and of every file or
folder a parameter names), what it produced, how long it took and how it ended.

The run's ``run.finished`` entry in the hash-chained audit log
(:mod:`galaxy_lib.core.audit`) is :func:`run_record`: the manifest plus the SHA-256
of every output file (``output_sha256``). :func:`verify_run_records` compares each
recorded run's ``manifest.json`` and output files with its entry, so a manifest
flipped from failed to passed or an edited report is caught although the chain
itself is intact.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import galaxy_lib
from galaxy_lib.core.config import resolve_path
from galaxy_lib.core.jsonio import canonical_json, to_jsonable
from galaxy_lib.core.paths import ZONES

__all__ = [
    "OUTPUT_HASHES",
    "RunManifest",
    "RunRecordCheck",
    "code_version",
    "file_fingerprint",
    "folder_fingerprint",
    "input_fingerprints",
    "new_run_id",
    "output_hashes",
    "parameters_hash",
    "recorded_runs",
    "run_record",
    "verify_run_records",
]

#: Files hashed in full up to this size; bigger non-Parquet files hash their first and last MiB.
_FULL_HASH_LIMIT = 8 * 1024 * 1024
_EDGE = 1024 * 1024
#: Entries listed at most when fingerprinting a folder (a parameter naming ``/`` must not walk the disk).
_FOLDER_LIMIT = 20_000
#: A parameter value that names a run by reference (``latest:mmm``), resolved by the notebook.
_REFERENCE = re.compile(r"^latest:[A-Za-z0-9_.-]+$")
#: Key of a ``run.finished`` audit entry holding ``{output file: sha256}``.
OUTPUT_HASHES = "output_sha256"


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


def _skipped(parts: Iterable[str]) -> bool:
    """Hidden entries and half-written ``*.tmp`` folders / ``*.lock`` files are not inputs."""
    return any(part.endswith((".tmp", ".lock")) or part.startswith(".") for part in parts)


def folder_fingerprint(path: str | Path, limit: int = _FOLDER_LIMIT) -> dict[str, Any]:
    """Fingerprint of a folder without reading its files: a SHA-256 of its listing.

    The listing is every file below ``path`` (hidden entries, ``*.lock`` and
    ``*.tmp`` skipped) as ``relative path, size, mtime in ns``, sorted. It changes
    when a file is added, removed, resized or rewritten (a new mtime), not when a
    file is changed in place with its size and mtime restored: the price of not
    reading a multi-GB folder again after the run has read it.

    Returns
    -------
    dict
        ``{"kind": "folder", "files", "size", "sha256", "method": "listing"}``;
        ``"truncated": True`` when more than ``limit`` files were found (only the
        first ``limit`` in walk order are listed then).
    """
    root = Path(path)
    rows: list[str] = []
    total, truncated = 0, False
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _skipped([d]))
        for name in sorted(filenames):
            if _skipped([name]):
                continue
            if len(rows) >= limit:
                truncated = True
                break
            f = Path(dirpath, name)
            try:
                st = f.stat()
            except OSError:  # removed between listing and stat
                continue
            total += st.st_size
            rows.append(f"{f.relative_to(root).as_posix()}\t{st.st_size}\t{st.st_mtime_ns}")
        if truncated:
            break
    rows.sort()
    out: dict[str, Any] = {
        "kind": "folder",
        "files": len(rows),
        "size": total,
        "sha256": hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest(),
        "method": "listing",
    }
    if truncated:
        out["truncated"] = True
    return out


def _parameter_inputs(parameters: Mapping[str, Any], skip: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Fingerprints (key ``param:<name>``) of parameter values naming an existing file or folder, or a run."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in sorted(parameters.items()):
        if name in skip or not isinstance(value, str) or not value.strip() or len(value) > 4096:
            continue
        if _REFERENCE.match(value):
            out[f"param:{name}"] = {"kind": "reference", "value": value}
            continue
        try:
            path = resolve_path(value)
            if path.is_file():
                out[f"param:{name}"] = {"kind": "file", "path": str(path), **file_fingerprint(path)}
            elif path.is_dir():
                out[f"param:{name}"] = {"path": str(path), **folder_fingerprint(path)}
        except (OSError, ValueError):  # not a path (a name too long, a NUL byte), or unreadable
            continue
    return out


def input_fingerprints(
    data_dir: str | Path | None,
    parameters: Mapping[str, Any] | None = None,
    skip: Iterable[str] = ("data_dir", "output_dir"),
) -> dict[str, dict[str, Any]]:
    """Fingerprints of what a run read: the store's files and every file or folder a parameter names.

    Parameters
    ----------
    data_dir
        The store: its zones' files plus ``ground_truth.json`` and ``world.json``,
        keyed by path relative to ``data_dir``. Lock files and half-written ``*.tmp``
        folders are skipped. ``None`` or a missing folder adds nothing.
    parameters
        The run's parameters: each string value that names an existing file
        (:func:`file_fingerprint`) or folder (:func:`folder_fingerprint`: its listing,
        not its content), relative to the project root like the notebooks read them,
        is keyed ``param:<name>`` with its ``path``; a run reference such as
        ``latest:mmm`` is recorded as given (``kind: reference``), since which run it
        means is decided by the notebook.
    skip
        Parameter names not fingerprinted (the store and the output folder).

    Take them after the run: a run may build or re-stage the store it reads.
    """
    out = _parameter_inputs(parameters, set(skip)) if parameters else {}
    if data_dir is None:
        return out
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return out
    files: list[Path] = [data_dir / n for n in ("ground_truth.json", "world.json") if (data_dir / n).is_file()]
    for zone in ZONES:
        zdir = data_dir / zone
        if zdir.is_dir():
            files.extend(p for p in zdir.rglob("*") if p.is_file() and not _skipped(p.relative_to(zdir).parts))
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


# -- the run record in the audit log -------------------------------------------------
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def output_hashes(run_dir: str | Path, outputs: Iterable[str]) -> dict[str, str]:
    """SHA-256 (hex, whole file) of each output, keyed by its path relative to ``run_dir``."""
    return {rel: _sha256(Path(run_dir) / rel) for rel in outputs}


def run_record(manifest: RunManifest, run_dir: str | Path) -> dict[str, Any]:
    """Return the payload of a run's ``run.finished`` audit entry: the manifest plus ``output_sha256``.

    Written right after ``manifest.json``, so :func:`verify_run_records` can compare
    the two and rehash the outputs.
    """
    return {**manifest.to_dict(), OUTPUT_HASHES: output_hashes(run_dir, manifest.outputs)}


@dataclass(frozen=True)
class RunRecordCheck:
    """Result of :func:`verify_run_records`.

    Attributes
    ----------
    ok
        True when every recorded run's manifest and output files match its audit entry.
    runs
        Runs whose ``run.finished`` entry was checked.
    files
        Output files rehashed.
    problems
        One sentence per mismatch, naming the run (``job/run_id``), the file and what changed.
    notes
        What is worth knowing but not a mismatch: runs interrupted before they finished,
        entries written before output hashes were recorded.
    """

    ok: bool
    runs: int
    files: int
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _short(value: Any, limit: int = 100) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _read_manifest(path: Path) -> dict[str, Any] | str:
    """Return the manifest as a dict, or why it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "manifest.json is missing"
    except (OSError, ValueError) as err:
        return f"manifest.json cannot be read ({type(err).__name__})"
    return data if isinstance(data, dict) else "manifest.json is not a JSON object"


def _check_run(run_dir: Path, name: str, payload: Mapping[str, Any], problems: list[str]) -> int:
    """Compare one run folder with its ``run.finished`` payload; return the number of files rehashed."""
    manifest = _read_manifest(run_dir / "manifest.json")
    recorded = {k: v for k, v in payload.items() if k != OUTPUT_HASHES}
    if isinstance(manifest, str):
        problems.append(f"run {name}: {manifest} (the audit log records it as {recorded.get('status')!r})")
    else:
        for key in sorted(set(recorded) | set(manifest)):
            if manifest.get(key) != recorded.get(key):
                problems.append(
                    f"run {name}: manifest.json {key} is {_short(manifest.get(key))}, the audit log recorded "
                    f"{_short(recorded.get(key))}"
                )
    hashes: Mapping[str, str] = payload[OUTPUT_HASHES]
    for rel, digest in sorted(hashes.items()):
        path = run_dir / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            problems.append(f"run {name}: the audit entry lists an output outside the run folder: {rel!r}")
        elif not path.is_file():
            problems.append(f"run {name}: output {rel} was removed")
        elif (now := _sha256(path)) != digest:
            problems.append(f"run {name}: output {rel} was changed (sha256 {digest[:12]}… recorded, {now[:12]}… now)")
    if run_dir.is_dir():
        for path in sorted(run_dir.rglob("*")):
            rel = path.relative_to(run_dir)
            if path.is_file() and rel.as_posix() not in hashes and rel.name != "manifest.json":
                if not _skipped(rel.parts):  # e.g. .ipynb_checkpoints of someone opening the notebook
                    problems.append(f"run {name}: {rel.as_posix()} was added after the run was recorded")
    return len(hashes)


def _runner_alive(manifest: Mapping[str, Any]) -> bool:
    """Whether a ``running`` manifest's runner process still exists on this host (it may be finishing now)."""
    extra = manifest.get("extra") or {}
    if not extra.get("runner_pid") or extra.get("host") != os.uname().nodename:
        return False
    try:
        os.kill(int(extra["runner_pid"]), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


def recorded_runs(audit_path: str | Path) -> tuple[set[tuple[str, str]], dict[tuple[str, str], Mapping[str, Any]]]:
    """Return the runs an audit log records: the started ``(job, run_id)``s, the last ``run.finished`` of each.

    Damaged lines are skipped (:meth:`galaxy_lib.core.audit.AuditLog.verify` names them), and so
    is a last line without its newline (an append in flight).
    """
    started: set[tuple[str, str]] = set()
    finished: dict[tuple[str, str], Mapping[str, Any]] = {}
    audit_path = Path(audit_path)
    raw = audit_path.read_bytes() if audit_path.exists() else b""
    for line in raw.split(b"\n")[:-1]:
        try:
            entry = json.loads(line)
            kind, p = entry["kind"], entry["payload"]
        except (ValueError, KeyError, TypeError):
            continue
        if kind not in ("run.started", "run.finished") or not isinstance(p, Mapping):
            continue
        key = (str(p.get("job") or ""), str(p.get("run_id") or ""))
        if not all(key):  # not a run's entry
            continue
        if kind == "run.started":
            started.add(key)
        else:
            finished[key] = p
    return started, finished


def verify_run_records(audit_path: str | Path, reports_dir: str | Path | None = None) -> RunRecordCheck:
    """Cross-check every recorded run's ``manifest.json`` and output files against its audit entries.

    Call it after :meth:`galaxy_lib.core.audit.AuditLog.verify` said the chain is
    intact (the entries are then what the runner wrote). For each run's last
    ``run.finished`` entry carrying ``output_sha256``: the manifest must equal the
    recorded one (a status flipped from failed to passed is named with both values),
    each listed output must exist with the recorded SHA-256, and no other file may
    have been added (hidden files such as ``.ipynb_checkpoints`` aside). Only the
    listed files are hashed. A run with ``run.started`` and no ``run.finished`` is a
    note while its manifest still says ``running`` (the runner was killed, or is
    still running), a problem when its manifest claims a result the log never
    recorded; a run folder the log does not know is a problem unless it is a
    ``running`` manifest of a runner killed before its first entry.

    Parameters
    ----------
    audit_path
        ``reports/audit.jsonl``.
    reports_dir
        Where the run folders are (``reports/<job>/<run_id>/``); default: the log's folder.
    """
    audit_path = Path(audit_path)
    reports = Path(reports_dir) if reports_dir else audit_path.parent
    # Folders first, then the log: a run that finishes meanwhile is then found in the log.
    manifests = sorted(reports.glob("*/*/manifest.json"))
    started, recorded = recorded_runs(audit_path)
    finished = {k: p for k, p in recorded.items() if isinstance(p.get(OUTPUT_HASHES), Mapping)}
    legacy = set(recorded) - set(finished)
    problems: list[str] = []
    notes: list[str] = []
    files = 0
    for (job, run_id), payload in sorted(finished.items()):
        if not (_SAFE_PART.match(job) and _SAFE_PART.match(run_id)):
            problems.append(f"run {job}/{run_id}: not a run folder name; the entry cannot be checked")
            continue
        files += _check_run(reports / job / run_id, f"{job}/{run_id}", payload, problems)
    for job, run_id in sorted(started - set(finished) - legacy):
        run_dir = reports / job / run_id
        manifest = _read_manifest(run_dir / "manifest.json")
        name = f"{job}/{run_id}"
        if isinstance(manifest, str):
            notes.append(f"run {name} started and never finished; {manifest}")
        elif manifest.get("status") == "running" or _runner_alive(manifest):
            notes.append(f"run {name} started and never finished (still running, or its runner was killed)")
        else:
            problems.append(
                f"run {name}: manifest.json says {manifest.get('status')!r}, but the audit log has no "
                "run.finished entry for it (the runner was killed while finishing, or the manifest was written "
                "outside the runner)"
            )
    for path in manifests:
        key = (path.parent.parent.name, path.parent.name)
        if key in started or key in finished or key in legacy:
            continue
        manifest = _read_manifest(path)
        status = manifest.get("status") if isinstance(manifest, dict) else None
        name = "/".join(key)
        if status == "running":
            notes.append(f"run {name} was never recorded in the audit log (its runner stopped before the first entry)")
        else:
            problems.append(f"run {name}: a run folder the audit log does not record (manifest status {status!r})")
    if legacy:
        notes.append(f"{len(legacy)} run(s) were recorded before output hashes existed: they are not cross-checked")
    return RunRecordCheck(not problems, len(finished), files, tuple(problems), tuple(notes))
