"""The experiment registry: every test from hypothesis to readout, kept in the store.

Layout under the store root::

    experiments/<id>.json          one record per experiment, replaced atomically
    experiments/audit.jsonl        hash-chained log of every status change (default; see ``audit_log``)
    experiments/.registry.lock     serialises read-modify-write across processes

The records and the lifecycle (:data:`~galaxy_lib.experiments.records.TRANSITIONS`) are
defined in :mod:`galaxy_lib.experiments.records`.

**Audited.** Registering and every status change append an ``experiment.status`` entry
(id, old and new status, actor, reason, the readout's SHA-256) to the audit log
(:class:`galaxy_lib.core.audit.AuditLog`) *before* the record is replaced, so a record
never shows a status the log lacks; the record's ``history`` names each entry's ``seq``.
:meth:`ExperimentRegistry.verify` checks the chain and that each record agrees with it.

**No personal data.** Every text that is written (names, hypothesis, owner, arm labels,
readout strings and keys, reasons, actors) goes through
:func:`galaxy_lib.governance.pii.redact_pii` with the store's raw customer ids; an id
holding personal data is refused (an id is a file name and cannot be masked).

The store's own lock is not taken: it guards the zones during whole world builds
(minutes), and a status change must not wait for one.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import logging
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock
from pydantic import ValidationError

from galaxy_lib.core.audit import AuditLog
from galaxy_lib.core.jsonio import canonical_json, write_json_atomic
from galaxy_lib.core.store import DataStore
from galaxy_lib.experiments.records import (
    ID_RE,
    STATUSES,
    TRANSITIONS,
    Experiment,
    ExperimentRegistryError,
    ExperimentSpec,
    Readout,
    StatusChange,
    StatusTransitionError,
    check_id,
    format_validation_error,
)
from galaxy_lib.governance.pii import RawIdMatcher, redact_pii

__all__ = ["AUDIT_KIND", "EXPERIMENTS_DIR", "ExperimentRegistry", "RegistryCheck"]

logger = logging.getLogger("galaxy.experiments")

#: Folder of the registry under the store root.
EXPERIMENTS_DIR = "experiments"
#: Kind of the audit entries the registry appends.
AUDIT_KIND = "experiment.status"


@dataclass(frozen=True)
class RegistryCheck:
    """Result of :meth:`ExperimentRegistry.verify`: ok, how many records were checked, what is wrong."""

    ok: bool
    experiments: int
    problems: tuple[str, ...] = ()


def _default_actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _readout_hash(record: Experiment) -> str | None:
    """SHA-256 of the record's readout as canonical JSON (what the audit entry pins), or None."""
    if record.readout is None:
        return None
    return hashlib.sha256(canonical_json(record.readout.model_dump(mode="json")).encode("utf-8")).hexdigest()


class ExperimentRegistry:
    """The experiments of one data store: register, read, list, move through statuses, record readouts.

    Parameters
    ----------
    store
        The :class:`~galaxy_lib.core.store.DataStore` (or its root folder).
    audit_log
        Where status changes are logged: an :class:`~galaxy_lib.core.audit.AuditLog` or a
        path; default ``<store>/experiments/audit.jsonl``.
    raw_ids
        Customer ids to mask besides the built-in patterns; default: the store's
        ``raw.customers`` ids, read once on the first write.
    lock_timeout
        Seconds to wait for another process changing the registry.

    Examples
    --------
    >>> reg = ExperimentRegistry(DataStore("data/demo"))  # doctest: +SKIP
    >>> reg.register(load_spec("spring_email.yaml"), actor="ana")
    >>> reg.set_status("spring-email", "running", actor="ana", reason="launched")
    >>> reg.record_readout("spring-email", readout_from_ab(ab, decision="significant", scale=100, unit="pts"))
    >>> [e.id for e in reg.list(status="significant")]
    ['spring-email']
    """

    def __init__(
        self,
        store: DataStore | str | Path,
        *,
        audit_log: AuditLog | str | Path | None = None,
        raw_ids: Iterable[str] | RawIdMatcher | None = None,
        lock_timeout: float = 60,
    ) -> None:
        self.store = store if isinstance(store, DataStore) else DataStore(store)
        self.folder = self.store.root / EXPERIMENTS_DIR
        if isinstance(audit_log, AuditLog):
            self.audit = audit_log
        else:
            self.audit = AuditLog(audit_log if audit_log is not None else self.folder / "audit.jsonl")
        self._raw_ids = raw_ids
        self._matcher: RawIdMatcher | None = None
        self._lock_timeout = lock_timeout

    # -- reading -----------------------------------------------------------------------
    def path(self, experiment_id: str) -> Path:
        """Return the record file of ``experiment_id`` (which need not exist)."""
        return self.folder / f"{check_id(experiment_id)}.json"

    def _read(self, path: Path) -> Experiment:
        try:
            record = Experiment.model_validate_json(path.read_bytes())
        except (OSError, ValidationError) as err:
            raise ExperimentRegistryError(
                f"Experiment record {path} cannot be read ({type(err).__name__}: {str(err)[:300]}); "
                "restore it from a backup or remove it."
            ) from None
        if record.id != path.stem:
            raise ExperimentRegistryError(
                f"{path} holds experiment {record.id!r}, not {path.stem!r}: rename or remove it."
            )
        return record

    def get(self, experiment_id: str) -> Experiment:
        """Return the experiment ``experiment_id``.

        Raises
        ------
        ExperimentRegistryError
            No such experiment (the message lists the known ids), or its file is damaged.
        """
        path = self.path(experiment_id)
        if not path.is_file():
            known = ", ".join(self.ids()) or "none yet"
            raise ExperimentRegistryError(
                f"No experiment {experiment_id!r} in {self.folder} (registered: {known}). "
                "Check the id, or the store (--data-dir)."
            )
        return self._read(path)

    def ids(self) -> list[str]:
        """Ids of every registered experiment, sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if ID_RE.match(p.stem))

    def list(self, status: str | Iterable[str] | None = None) -> list[Experiment]:
        """Return the experiments, oldest first, optionally only those with ``status`` (one or several)."""
        wanted: set[str] | None = None
        if status is not None:
            wanted = {status} if isinstance(status, str) else set(status)
            unknown = sorted(wanted - set(STATUSES))
            if unknown:
                raise ExperimentRegistryError(f"Unknown status {', '.join(unknown)}; use one of {', '.join(STATUSES)}.")
        records = [self._read(self.folder / f"{i}.json") for i in self.ids()]
        chosen = [r for r in records if wanted is None or r.status in wanted]
        return sorted(chosen, key=lambda r: (r.created_at, r.id))

    # -- masking -----------------------------------------------------------------------
    def _ids_matcher(self) -> RawIdMatcher:
        if self._matcher is None:
            if isinstance(self._raw_ids, RawIdMatcher):
                self._matcher = self._raw_ids
            elif self._raw_ids is not None:
                self._matcher = RawIdMatcher(self._raw_ids)
            else:
                self._matcher = RawIdMatcher(self._store_ids())
        return self._matcher

    def _store_ids(self) -> list[str]:
        try:
            if not self.store.exists("raw", "customers"):
                return []
            return self.store.read("raw", "customers", columns=["customer_id"])["customer_id"].astype(str).tolist()
        except Exception:  # an unreadable store must not block the registry; patterns still mask
            logger.warning("Could not read the raw customer ids of %s; masking by pattern only", self.store.root)
            return []

    def _mask(self, value: Any) -> Any:
        """``value`` (JSON-like) with every string and key passed through ``redact_pii``."""
        if isinstance(value, str):
            return redact_pii(value, self._ids_matcher())
        if isinstance(value, Mapping):
            return {self._mask(str(k)): self._mask(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._mask(v) for v in value]
        return value

    # -- writing -----------------------------------------------------------------------
    def _lock(self) -> FileLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.folder / ".registry.lock"), timeout=self._lock_timeout)

    def _commit(
        self, old: Experiment | None, fields: dict[str, Any], new: str, actor: str | None, reason: str
    ) -> Experiment:
        """Audit the move ``old.status -> new``, then write the record built from ``fields`` atomically."""
        who, why = self._mask(actor or _default_actor()), self._mask(reason or "")
        now = _now()
        history = old.history if old else ()
        record = Experiment.model_validate(
            {**fields, "status": new, "created_at": old.created_at if old else now, "updated_at": now}
        )
        payload = {
            "experiment_id": record.id,
            "old_status": old.status if old else None,
            "new_status": new,
            "actor": who,
            "reason": why,
            "readout_sha256": _readout_hash(record),
        }
        entry = self.audit.append(AUDIT_KIND, payload)
        change = StatusChange(at=now, old=payload["old_status"], new=new, actor=who, reason=why, audit_seq=entry.seq)
        record = record.model_copy(update={"history": (*history, change)})
        write_json_atomic(self.path(record.id), record.model_dump(mode="json"))
        return record

    def register(self, spec: ExperimentSpec | Mapping[str, Any], *, actor: str | None = None) -> Experiment:
        """Add a new experiment in its spec's status (``hypothesis`` by default) and audit it.

        Parameters
        ----------
        spec
            An :class:`ExperimentSpec` or a mapping of its fields.
        actor
            Who registers it; default ``user@host``.

        Raises
        ------
        ExperimentRegistryError
            A field is wrong, the id holds personal data, or the id is taken.
        """
        if not isinstance(spec, ExperimentSpec):
            try:
                spec = ExperimentSpec.model_validate(dict(spec))
            except ValidationError as err:
                raise ExperimentRegistryError(format_validation_error(err, "register")) from None
        if redact_pii(spec.id, self._ids_matcher()) != spec.id:
            raise ExperimentRegistryError(f"Experiment id {self._mask(spec.id)!r} holds personal data: choose another.")
        fields = {k: v for k, v in self._mask(spec.model_dump(mode="json")).items() if k != "status"}
        fields["id"] = spec.id
        with self._lock():
            path = self.path(spec.id)
            if path.exists():
                current = self._read(path)
                raise ExperimentRegistryError(
                    f"Experiment {spec.id!r} is already registered ({current.name!r}, status {current.status}, "
                    f"created {current.created_at:%Y-%m-%d}): give the new experiment another id "
                    f"(`galaxy experiments show {spec.id}` shows the registered one)."
                )
            return self._commit(None, fields, spec.status, actor, "registered")

    @staticmethod
    def _check_move(record: Experiment, new: str) -> None:
        if new not in STATUSES:
            raise ExperimentRegistryError(f"Unknown status {new!r}; use one of {', '.join(STATUSES)}.")
        allowed = TRANSITIONS[record.status]
        if new not in allowed:
            nxt = f"it can move to {', '.join(allowed)}" if allowed else f"{record.status} is final"
            raise StatusTransitionError(
                f"Experiment {record.id!r} is {record.status}: it cannot become {new} ({nxt}). "
                f"Lifecycle: hypothesis -> running -> significant | inconclusive | stopped; hypothesis -> stopped."
            )

    def set_status(self, experiment_id: str, status: str, *, actor: str | None = None, reason: str = "") -> Experiment:
        """Move an experiment to ``status`` (see :data:`TRANSITIONS`) and audit the change.

        Parameters
        ----------
        experiment_id
            The experiment.
        status
            The new status.
        actor, reason
            Who and why, kept in the history and the audit log (masked).

        Raises
        ------
        StatusTransitionError
            The lifecycle does not allow the move (the message names the current and allowed statuses).
        """
        with self._lock():
            record = self.get(experiment_id)
            self._check_move(record, status)
            fields = record.model_dump(mode="json", exclude={"status", "created_at", "updated_at", "history"})
            return self._commit(record, fields, status, actor, reason)

    def record_readout(
        self, experiment_id: str, readout: Readout | Mapping[str, Any], *, actor: str | None = None, reason: str = ""
    ) -> Experiment:
        """Store a running experiment's readout and move it to the readout's ``decision``.

        Parameters
        ----------
        experiment_id
            A ``running`` experiment.
        readout
            A :class:`Readout` (e.g. from :func:`readout_from_ab`) or a mapping of its fields; its
            strings are masked; each arm must be a treatment arm of the experiment.
        actor, reason
            Who and why (default reason: the readout's headline).

        Raises
        ------
        StatusTransitionError
            The experiment is not running.
        ExperimentRegistryError
            The readout is invalid, or names an arm the experiment does not have.
        """
        try:
            parsed = readout if isinstance(readout, Readout) else Readout.model_validate(dict(readout))
            masked = Readout.model_validate(self._mask(parsed.model_dump(mode="json")))
        except ValidationError as err:
            raise ExperimentRegistryError(
                format_validation_error(err, f"experiment {experiment_id!r}", Readout)
            ) from None
        with self._lock():
            record = self.get(experiment_id)
            self._check_move(record, masked.decision)
            treatments = [a for a in record.arms if a != record.control]
            wrong = [a.arm for a in masked.arms if a.arm not in treatments]
            if wrong:
                raise ExperimentRegistryError(
                    f"Readout of {experiment_id!r} names arm(s) {wrong} that are not its treatment arms {treatments} "
                    f"(control: {record.control!r}); relabel the readout's arms."
                )
            fields = record.model_dump(mode="json", exclude={"status", "created_at", "updated_at", "history"})
            fields["readout"] = masked.model_dump(mode="json")
            return self._commit(record, fields, masked.decision, actor, reason or masked.headline())

    # -- checking ----------------------------------------------------------------------
    def verify(self) -> RegistryCheck:
        """Check the audit chain, then that every record's status and readout match its last audit entry."""
        chain = self.audit.verify()
        if not chain.ok:
            return RegistryCheck(False, 0, (f"audit log {self.audit.path}: {chain.reason}",))
        last: dict[str, Mapping[str, Any]] = {}
        for entry in self.audit.entries():
            if entry.kind == AUDIT_KIND:
                last[str(entry.payload.get("experiment_id"))] = entry.payload
        problems: list[str] = []
        records = self.list()
        for r in records:
            p = last.get(r.id)
            if p is None:
                problems.append(f"{r.id}: not in the audit log (the record was written outside the registry)")
            elif p.get("new_status") != r.status:
                problems.append(f"{r.id}: record says {r.status}, the audit log {p.get('new_status')}")
            elif p.get("readout_sha256") != _readout_hash(r):
                problems.append(f"{r.id}: the readout differs from the one the audit log recorded")
        gone = sorted(set(last) - {r.id for r in records})
        problems += [f"{i}: in the audit log but its record is missing" for i in gone]
        return RegistryCheck(not problems, len(records), tuple(problems))
