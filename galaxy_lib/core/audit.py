"""The append-only, hash-chained audit log (``reports/audit.jsonl``).

Each line is one JSON entry::

    {
        "seq": 7,
        "ts": "...",
        "kind": "run.finished",
        "payload": {...},
        "prev_hash": "<hash of entry 6>",
        "hash": "<sha256(prev_hash + canonical JSON of seq, ts, kind, payload)>",
    }

Changing any byte of an entry breaks its own hash; changing an entry *and*
recomputing its hash breaks the next entry's ``prev_hash``; removing or
reordering entries breaks the ``seq`` sequence. Removing the *last* entries
leaves a valid shorter chain, so every append also records the newest ``seq``
and ``hash`` in a small head file (``audit.jsonl.head``) that :meth:`AuditLog.verify`
compares with the end of the log.

**The head file.** A log with entries and no head file fails verification (the
last entries could have been removed together with it), and appending to it is
refused. When the head file is known to be lost, :meth:`AuditLog.rebuild_head`
(``galaxy audit rebuild-head``) rebuilds it from the intact chain and appends an
``audit.head_rebuilt`` entry saying by whom, when (the entry's time) and from
which last entry, so the rebuild itself stays in the record.

**A crash between an entry and its head.** An append writes the line, then the
head file. A writer killed in between leaves the head one entry behind a log whose
last entry chains correctly onto it. :meth:`AuditLog.verify` accepts exactly that
(with a note naming the entry), and the next append rolls the head forward and
records it as an ``audit.head_rolled_forward`` entry (and a warning in the log
output) instead of refusing every later run. A last entry that does not chain onto
the head (changed, or more than one entry ahead) still fails. The price: someone
who can write the log but not the head key can add *one* well-formed entry that the
next append accepts; the roll-forward entry names it, so it stays visible.

**Signing.** With ``GALAXY_AUDIT_KEY`` set, the head file carries an
HMAC-SHA256 of its content (``{"seq", "hash"}`` as canonical JSON) under that
key, and verification checks it: without the key nobody can rewrite the head to
match a truncated log. A signed head verified or appended to without the key, a
head whose signature does not match the key, and an unsigned head while a key is
set all fail, naming the problem. Without a key the head is unsigned and
verification says so (:attr:`AuditVerification.note`).

Appends take a file lock, so concurrent processes (two schedulers, parallel jobs)
produce one valid chain. This is a tamper-*evidence* log for one machine: anyone
who holds the key (or, without a key, anyone) and can rewrite every line and the
head file can forge it; keep the key out of the reports folder, and ship the head
hash elsewhere (e.g. print it in a signed report) if that matters.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import hmac
import json
import logging
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from galaxy_lib.core.jsonio import canonical_json, to_jsonable, write_json_atomic

__all__ = [
    "AUDIT_KEY_ENV",
    "GENESIS_HASH",
    "HEAD_REBUILT",
    "HEAD_ROLLED_FORWARD",
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "AuditVerification",
    "entry_hash",
    "head_signature",
]

#: ``prev_hash`` of the first entry.
GENESIS_HASH = "0" * 64
#: Environment variable holding the key that signs the head file (HMAC-SHA256).
AUDIT_KEY_ENV = "GALAXY_AUDIT_KEY"
#: Kind of the entry :meth:`AuditLog.rebuild_head` appends.
HEAD_REBUILT = "audit.head_rebuilt"
#: Kind of the entry an append writes when it rolls a head left one entry behind by a crash forward.
HEAD_ROLLED_FORWARD = "audit.head_rolled_forward"
_KEYS = ("seq", "ts", "kind", "payload", "prev_hash", "hash")
_SIGNATURE = "hmac_sha256"
_REBUILD = "`galaxy audit rebuild-head`"

logger = logging.getLogger("galaxy.audit")


class AuditError(RuntimeError):
    """The audit log cannot be appended to safely (its end is damaged); run ``galaxy audit verify``."""


@dataclass(frozen=True)
class AuditEntry:
    """One audit-log entry."""

    seq: int
    ts: str
    kind: str
    payload: Mapping[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as the JSON object written to the log."""
        return {k: getattr(self, k) for k in _KEYS}


@dataclass(frozen=True)
class AuditVerification:
    """Result of :meth:`AuditLog.verify`.

    Attributes
    ----------
    ok
        True when the chain is intact and matches the head file (and its signature).
    entries
        Number of entries that verified before the first problem (all of them when ok).
    first_bad_seq, first_bad_line
        Sequence number and 1-based line of the first problem (None when ok, or when
        the problem is the head file itself: missing, unreadable or wrongly signed).
    reason
        What is wrong, e.g. ``"entry 7 was changed (line 7: ...)"``; empty when ok.
    head_checked
        Whether the end of the log was compared with the head file.
    head_signed
        Whether the head file carries a signature that matched ``GALAXY_AUDIT_KEY``.
    note
        Something to know although the log verified, e.g. that its head is unsigned.
    head_behind
        The head file records the entry before the last one, and the last entry chains
        onto it: a writer stopped between the entry and its head. The next append rolls
        the head forward (and records that).
    """

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    first_bad_line: int | None = None
    reason: str = ""
    head_checked: bool = False
    head_signed: bool = False
    note: str = ""
    head_behind: bool = False


@dataclass(frozen=True)
class _Head:
    """The head file as read: the last entry it records, its signature, or why it cannot be read."""

    seq: int = -1
    hash: str = ""
    signature: str | None = None
    problem: str = ""


def entry_hash(prev_hash: str, seq: int, ts: str, kind: str, payload: Any) -> str:
    """``sha256(prev_hash + canonical JSON of {seq, ts, kind, payload})`` as hex."""
    body = canonical_json({"seq": seq, "ts": ts, "kind": kind, "payload": payload})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def head_signature(key: str | bytes, seq: int, last_hash: str) -> str:
    """HMAC-SHA256 (hex) of the head content ``{"seq": seq, "hash": last_hash}`` as canonical JSON under ``key``."""
    secret = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    body = canonical_json({"seq": seq, "hash": last_hash}).encode("utf-8")
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def _whoami() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _read_last_line(path: Path) -> bytes | None:
    """Return the last line of ``path`` (without its newline), reading backwards in blocks; None when empty."""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        if end == 0:
            return None
        fh.seek(end - 1)
        if fh.read(1) != b"\n":
            raise AuditError(
                f"{path} does not end with a newline: the last append was interrupted or the file was edited. "
                "Run `galaxy audit verify` to see which entry is damaged."
            )
        buf = b""
        pos = end - 1  # the final newline is not part of the line
        while True:
            step = min(65536, pos)
            pos -= step
            fh.seek(pos)
            buf = fh.read(step) + buf
            nl = buf.rfind(b"\n")
            if nl != -1:
                return buf[nl + 1 :]
            if pos == 0:
                return buf


class AuditLog:
    """Append-only hash-chained JSONL log with a (signed) head file.

    Parameters
    ----------
    path
        The log file (``reports/audit.jsonl``). Its lock is ``<path>.lock`` and its
        head file ``<path>.head``.
    key
        Key that signs the head file; default ``GALAXY_AUDIT_KEY`` from the
        environment, read at each call (unset or empty = unsigned head).

    Examples
    --------
    >>> log = AuditLog("reports/audit.jsonl")  # doctest: +SKIP
    >>> log.append("run.finished", manifest.to_dict())
    >>> log.verify().ok
    True
    """

    def __init__(self, path: str | Path, key: str | bytes | None = None) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.head_path = self.path.with_name(self.path.name + ".head")
        self._explicit_key = key

    # ------------------------------------------------------------------ the head file

    def _key(self) -> str | bytes | None:
        key = self._explicit_key if self._explicit_key is not None else os.environ.get(AUDIT_KEY_ENV)
        return key or None

    def _lock(self, timeout: float = 120) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.lock_path), timeout=timeout)

    def _read_head(self) -> _Head | None:
        if not self.head_path.exists():
            return None
        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
            signature = head.get(_SIGNATURE)
            return _Head(int(head["seq"]), str(head["hash"]), None if signature is None else str(signature))
        except (ValueError, KeyError, TypeError, AttributeError, OSError) as err:
            return _Head(problem=f"{type(err).__name__}: {err}")

    def _write_head(self, seq: int, last_hash: str) -> None:
        content: dict[str, Any] = {"seq": seq, "hash": last_hash}
        key = self._key()
        if key is not None:
            content[_SIGNATURE] = head_signature(key, seq, last_hash)
        write_json_atomic(self.head_path, content, indent=None)

    def _head_file_problem(self, head: _Head | None, entries: int) -> str:
        """Say what is wrong with the head file itself (missing, unreadable, signature), or return ``""``."""
        name = self.head_path.name
        if head is None:
            if entries == 0:
                return ""
            return (
                f"the head file {name} is missing while the log holds {entries} entries, so entries removed "
                "from the end of the log cannot be ruled out. If only the head file was lost, rebuild it from "
                f"the log with {_REBUILD} (the rebuild is recorded in the log)"
            )
        if head.problem:
            return (
                f"the head file {name} cannot be read ({head.problem}). If the log itself is intact, rebuild "
                f"the head with {_REBUILD} (the rebuild is recorded in the log)"
            )
        key = self._key()
        if key is None and head.signature is not None:
            return (
                f"the head file {name} is signed (HMAC-SHA256) but {AUDIT_KEY_ENV} is not set: set it to the "
                "key the log is signed with to check the head"
            )
        if key is not None and head.signature is None:
            return (
                f"the head file {name} is not signed although {AUDIT_KEY_ENV} is set: it was written without "
                "the key or its signature was removed. If the log was written before the key was set, sign "
                f"the head with {_REBUILD} (recorded in the log)"
            )
        if key is not None and not hmac.compare_digest(str(head.signature), head_signature(key, head.seq, head.hash)):
            return (
                f"the signature of the head file {name} does not match {AUDIT_KEY_ENV}: the head file was "
                "rewritten, or the key is not the one it was signed with"
            )
        return ""

    # ------------------------------------------------------------------ writing

    def _append_locked(self, kind: str, payload: dict[str, Any]) -> AuditEntry:
        """Append under the already held lock: refuse a damaged end, write the entry, then the head."""
        seq, prev, last = 0, GENESIS_HASH, None
        if self.path.exists():
            last_raw = _read_last_line(self.path)
            if last_raw is not None:
                try:
                    last = json.loads(last_raw)
                    seq, prev = int(last["seq"]), str(last["hash"])
                    ok = entry_hash(last["prev_hash"], last["seq"], last["ts"], last["kind"], last["payload"]) == prev
                except (ValueError, KeyError, TypeError):
                    ok = False
                if not ok:
                    raise AuditError(f"The last entry of {self.path} is damaged; run `galaxy audit verify`.")
        head = self._read_head()
        problem = self._head_file_problem(head, seq)
        if problem:
            raise AuditError(f"Not appending to {self.path}: {problem}.")
        if head is not None and last is not None and (head.seq, head.hash) == (seq - 1, last["prev_hash"]):
            rolled = self._roll_forward(head, last)  # a crash between the last line and its head
            seq, prev = rolled.seq, rolled.hash
        elif head is not None and (head.seq, head.hash) != (seq, prev):
            raise AuditError(
                f"The end of {self.path} (entry {seq}) does not match its head file (entry {head.seq}): "
                "entries were removed or added outside the log. Run `galaxy audit verify`."
            )
        return self._write_entry(seq, prev, kind, payload)

    def _roll_forward(self, head: _Head, last: Mapping[str, Any]) -> AuditEntry:
        """Move a head left one entry behind by a crash onto the last entry, and record that as an entry."""
        seq, last_hash = int(last["seq"]), str(last["hash"])
        logger.warning(
            "Audit log %s: entry %d (%s) was written but its head file still records entry %d (a writer "
            "stopped in between); rolling the head forward and recording it as %s.",
            self.path,
            seq,
            last["kind"],
            head.seq,
            HEAD_ROLLED_FORWARD,
        )
        self._write_head(seq, last_hash)
        payload = {
            "rolled_to": {"seq": seq, "hash": last_hash, "kind": last["kind"]},
            "previous_head": {"seq": head.seq, "hash": head.hash},
            "reason": "the entry was written but not its head file (the writer stopped in between)",
            "by": _whoami(),
        }
        return self._write_entry(seq, last_hash, HEAD_ROLLED_FORWARD, payload)

    def _write_entry(self, seq: int, prev: str, kind: str, payload: dict[str, Any]) -> AuditEntry:
        """Write entry ``seq + 1`` after the entry ``seq`` whose hash is ``prev``, then the head file."""
        ts = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        entry = AuditEntry(seq + 1, ts, kind, payload, prev, entry_hash(prev, seq + 1, ts, kind, payload))
        # Field order seq, ts, kind, payload, prev_hash, hash reads well; the hash itself
        # is over canonical JSON, so the order on disk does not matter.
        line = json.dumps(entry.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self._write_head(entry.seq, entry.hash)
        return entry

    def append(self, kind: str, payload: Mapping[str, Any]) -> AuditEntry:
        """Append one entry under the file lock and return it.

        Raises
        ------
        AuditError
            When the end of the log is damaged or disagrees with the head file, the
            head file is missing from a log with entries, or its signature does not
            check out: appending would extend a chain that no longer verifies.
        """
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"Audit entry kind must be a non-empty string, got {kind!r}.")
        payload = to_jsonable(dict(payload))
        with self._lock():
            return self._append_locked(kind, payload)

    def rebuild_head(self, reason: str = "", by: str | None = None) -> AuditEntry | None:
        """Rebuild the head file from the log's last entry and record that in the log.

        For a head file that was lost, is unreadable, records more entries than
        the log (entries removed on purpose), or was written before
        ``GALAXY_AUDIT_KEY`` was set (it is signed now). The chain itself must be
        intact: a changed, reordered or damaged entry cannot be repaired this way.

        Parameters
        ----------
        reason
            Why, recorded in the entry (e.g. ``"head lost in a disk restore"``).
        by
            Who, recorded in the entry; default ``user@host`` of this process.

        Returns
        -------
        AuditEntry or None
            The appended ``audit.head_rebuilt`` entry (payload: ``by``, ``reason``,
            ``rebuilt_from`` = the last entry's seq and hash, ``previous_head``,
            ``problem``, ``signed``; its ``ts`` says when), or ``None`` when the head
            already matched the log and its signature: nothing to rebuild.

        Raises
        ------
        AuditError
            When the log does not exist or has no entries, its chain is broken, or the
            head is signed and ``GALAXY_AUDIT_KEY`` is not set.
        """
        with self._lock():
            if not self.path.exists():
                raise AuditError(f"No audit log at {self.path}: there is nothing to rebuild the head from.")
            head = self._read_head()
            chain, last_seq, last_hash, last_prev = self._check_chain(self.path.read_bytes(), head_checked=False)
            if chain is not None:
                raise AuditError(
                    f"Cannot rebuild the head of {self.path}: {chain.reason}. The chain itself is "
                    "broken; rebuilding the head would not repair it."
                )
            if last_seq == 0:
                raise AuditError(f"{self.path} has no entries: there is no last entry to rebuild the head from.")
            state = self._check_head(head, last_seq, last_hash, last_prev)
            if state.ok and not state.head_behind:
                return None
            if self._key() is None and head is not None and head.signature is not None:
                raise AuditError(
                    f"The head file {self.head_path.name} is signed: set {AUDIT_KEY_ENV} to rebuild it "
                    "(without the key it would be replaced by an unsigned head)."
                )
            if head is None or head.problem:
                previous: Any = "missing" if head is None else "unreadable"
            else:
                previous = {"seq": head.seq, "hash": head.hash, "signed": head.signature is not None}
            self._write_head(last_seq, last_hash)
            payload = {
                "by": by or _whoami(),
                "reason": reason,
                "rebuilt_from": {"seq": last_seq, "hash": last_hash},
                "previous_head": previous,
                "problem": state.reason or state.note,
                "signed": self._key() is not None,
            }
            return self._append_locked(HEAD_REBUILT, to_jsonable(payload))

    # ------------------------------------------------------------------ reading

    def entries(self) -> Iterator[AuditEntry]:
        """Iterate over the entries (raises ``ValueError`` on a line that is not an entry; use :meth:`verify`)."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                    yield AuditEntry(**{k: d[k] for k in _KEYS})
                except (ValueError, KeyError, TypeError) as err:
                    raise ValueError(
                        f"{self.path} line {i} is not an audit entry ({err}); run `galaxy audit verify`."
                    ) from None

    def tail(self, n: int = 20) -> list[AuditEntry]:
        """Return the last ``n`` entries, oldest first."""
        out: list[AuditEntry] = []
        for e in self.entries():
            out.append(e)
            if len(out) > n:
                out.pop(0)
        return out

    # ------------------------------------------------------------------ verifying

    @staticmethod
    def _check_chain(raw: bytes, head_checked: bool) -> tuple[AuditVerification | None, int, str, str]:
        """Check the chain alone: (the first problem or None, last seq, last hash, the last entry's prev_hash)."""
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        parsed: list[tuple[int, dict[str, Any] | None]] = []
        for i, line in enumerate(lines, start=1):
            try:
                d = json.loads(line)
                if not isinstance(d, dict) or any(k not in d for k in _KEYS) or not isinstance(d["seq"], int):
                    raise ValueError("missing fields")
                parsed.append((i, d))
            except ValueError:
                parsed.append((i, None))
        seqs_present = {d["seq"] for _, d in parsed if d is not None}

        def bad(seq: int, line: int | None, reason: str, good: int) -> tuple[AuditVerification, int, str, str]:
            return AuditVerification(False, good, seq, line, reason, head_checked), -1, "", ""

        expected, prev_hash, last_prev = 1, GENESIS_HASH, GENESIS_HASH
        for i, d in parsed:
            good = expected - 1
            if d is None:
                return bad(expected, i, f"entry {expected} is not valid JSON (line {i})", good)
            seq = d["seq"]
            if entry_hash(d["prev_hash"], seq, d["ts"], d["kind"], d["payload"]) != d["hash"]:
                return bad(seq, i, f"entry {seq} was changed (line {i}: its content does not match its hash)", good)
            if seq > expected:
                if expected in seqs_present:
                    return bad(
                        expected,
                        i,
                        f"entries were reordered: line {i} holds entry {seq} where entry {expected} belongs",
                        good,
                    )
                what = (
                    f"entry {expected} was removed"
                    if seq == expected + 1
                    else f"entries {expected}-{seq - 1} were removed"
                )
                return bad(expected, i, f"{what} (line {i} holds entry {seq})", good)
            if seq < expected:
                return bad(
                    seq,
                    i,
                    f"entry {seq} appears again at line {i} where entry {expected} belongs: "
                    "entries were reordered or duplicated",
                    good,
                )
            if d["prev_hash"] != prev_hash:
                if seq == 1:
                    return bad(1, i, "entry 1 was changed (line 1: it does not start the chain)", 0)
                return bad(
                    seq - 1,
                    i - 1,
                    f"entry {seq - 1} was changed (line {i - 1}: its hash no longer matches "
                    f"the one entry {seq} recorded)",
                    good - 1,
                )
            last_prev, prev_hash = prev_hash, d["hash"]
            expected += 1
        return None, expected - 1, prev_hash, last_prev

    def _check_head(self, head: _Head | None, last_seq: int, last_hash: str, last_prev: str) -> AuditVerification:
        """Compare an intact chain's end (``last_seq``, ``last_hash``, its ``prev_hash``) with the head file."""
        problem = self._head_file_problem(head, last_seq)
        if problem:
            return AuditVerification(False, last_seq, None, None, problem, head is not None)
        if head is None:  # an empty log without a head: nothing to compare
            return AuditVerification(True, 0)
        if head.seq > last_seq:
            first = last_seq + 1
            what = f"entry {first} was removed" if head.seq == first else f"entries {first}-{head.seq} were removed"
            return AuditVerification(
                False,
                last_seq,
                first,
                None,
                f"{what} from the end of the log (the head file records {head.seq} entries)",
                True,
            )
        behind = head.seq == last_seq - 1 and head.hash == last_prev
        if head.seq < last_seq and not behind:
            return AuditVerification(
                False,
                head.seq,
                head.seq + 1,
                head.seq + 1,
                f"entries after {head.seq} were added outside the audit log (the head file records {head.seq} entries)",
                True,
            )
        if head.hash != last_hash and not behind:
            return AuditVerification(
                False,
                last_seq - 1,
                last_seq,
                last_seq,
                f"entry {last_seq} was changed (line {last_seq}: it does not match the head file)",
                True,
            )
        signed = head.signature is not None
        note = (
            ""
            if signed
            else (
                f"the head file is not signed; set {AUDIT_KEY_ENV} and run {_REBUILD} to sign it, "
                "so the head cannot be rewritten to match a shortened log"
            )
        )
        if behind:
            lag = f"the head file records entry {head.seq} and the last entry {last_seq} chains onto it: a writer"
            lag += f" stopped between the entry and its head; the next append rolls the head on ({HEAD_ROLLED_FORWARD})"
            note = f"{lag}; {note}" if note else lag
        return AuditVerification(True, last_seq, head_checked=True, head_signed=signed, note=note, head_behind=behind)

    def verify(self) -> AuditVerification:
        """Check the whole chain and the head file.

        Reports the first entry that was changed, removed, reordered or damaged; entries
        removed from the end (the head file records more); a missing or unreadable head
        file of a log with entries; and a head signature that does not check out with
        ``GALAXY_AUDIT_KEY`` (or a signed head without the key, or an unsigned one with it).
        """
        if not self.path.exists():
            head = self._read_head()
            if head is not None and (head.seq > 0 or head.problem):
                recorded = f"records {head.seq} entries" if not head.problem else "is still there"
                return AuditVerification(
                    False, 0, 1, None, f"the audit log {self.path} was deleted (its head file {recorded})", True
                )
            return AuditVerification(True, 0)
        with self._lock():  # a consistent snapshot: no append in flight
            raw = self.path.read_bytes()
            head = self._read_head()
        chain, last_seq, last_hash, last_prev = self._check_chain(raw, head_checked=head is not None)
        if chain is not None:
            return chain
        return self._check_head(head, last_seq, last_hash, last_prev)
