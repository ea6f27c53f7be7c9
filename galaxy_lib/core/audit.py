"""The append-only, hash-chained audit log (``reports/audit.jsonl``).

Each line is one JSON entry::

    {"seq": 7, "ts": "...", "kind": "run.finished", "payload": {...},
     "prev_hash": "<hash of entry 6>", "hash": "<sha256(prev_hash + canonical JSON of seq, ts, kind, payload)>"}

Changing any byte of an entry breaks its own hash; changing an entry *and*
recomputing its hash breaks the next entry's ``prev_hash``; removing or
reordering entries breaks the ``seq`` sequence. Removing the *last* entries
leaves a valid shorter chain, so every append also records the newest ``seq``
and ``hash`` in a small head file (``audit.jsonl.head``) that :meth:`AuditLog.verify`
compares with the end of the log.

Appends take a file lock, so concurrent processes (two schedulers, parallel jobs)
produce one valid chain. This is a tamper-*evidence* log for one machine: anyone
who can rewrite every line and the head file can forge it; ship the head hash
elsewhere (e.g. print it in a signed report) if that matters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from galaxy_lib.core.jsonio import canonical_json, to_jsonable, write_json_atomic

__all__ = ["AuditLog", "AuditEntry", "AuditVerification", "AuditError", "GENESIS_HASH", "entry_hash"]

#: ``prev_hash`` of the first entry.
GENESIS_HASH = "0" * 64
_KEYS = ("seq", "ts", "kind", "payload", "prev_hash", "hash")


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
        return {k: getattr(self, k) for k in _KEYS}


@dataclass(frozen=True)
class AuditVerification:
    """Result of :meth:`AuditLog.verify`.

    Attributes
    ----------
    ok
        True when the chain is intact (and matches the head file when there is one).
    entries
        Number of entries that verified before the first problem (all of them when ok).
    first_bad_seq, first_bad_line
        Sequence number and 1-based line of the first problem (None when ok).
    reason
        What is wrong, e.g. ``"entry 7 was changed (line 7: ...)"``; empty when ok.
    head_checked
        Whether the end of the log was compared with the head file.
    """

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    first_bad_line: int | None = None
    reason: str = ""
    head_checked: bool = False


def entry_hash(prev_hash: str, seq: int, ts: str, kind: str, payload: Any) -> str:
    """``sha256(prev_hash + canonical JSON of {seq, ts, kind, payload})`` as hex."""
    body = canonical_json({"seq": seq, "ts": ts, "kind": kind, "payload": payload})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _read_last_line(path: Path) -> bytes | None:
    """The last line of ``path`` (without its newline), reading backwards in blocks; None when empty."""
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
                return buf[nl + 1:]
            if pos == 0:
                return buf


class AuditLog:
    """Append-only hash-chained JSONL log.

    Parameters
    ----------
    path
        The log file (``reports/audit.jsonl``). Its lock is ``<path>.lock`` and its
        head file ``<path>.head``.

    Examples
    --------
    >>> log = AuditLog("reports/audit.jsonl")               # doctest: +SKIP
    >>> log.append("run.finished", manifest.to_dict())
    >>> log.verify().ok
    True
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.head_path = self.path.with_name(self.path.name + ".head")

    def _lock(self, timeout: float = 120) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.lock_path), timeout=timeout)

    def _read_head(self) -> dict[str, Any] | None:
        if not self.head_path.exists():
            return None
        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
            return {"seq": int(head["seq"]), "hash": str(head["hash"])}
        except (ValueError, KeyError, TypeError):
            return {"seq": -1, "hash": "unreadable"}

    def append(self, kind: str, payload: Mapping[str, Any]) -> AuditEntry:
        """Append one entry under the file lock and return it.

        Raises
        ------
        AuditError
            When the end of the log is damaged or disagrees with the head file:
            appending would extend a chain that no longer verifies.
        """
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"Audit entry kind must be a non-empty string, got {kind!r}.")
        payload = to_jsonable(dict(payload))
        with self._lock():
            seq, prev = 0, GENESIS_HASH
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
            if head is not None and (head["seq"], head["hash"]) != (seq, prev):
                raise AuditError(
                    f"The end of {self.path} (entry {seq}) does not match its head file (entry {head['seq']}): "
                    "entries were removed or added outside the log. Run `galaxy audit verify`."
                )
            ts = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
            entry = AuditEntry(seq + 1, ts, kind, payload, prev, entry_hash(prev, seq + 1, ts, kind, payload))
            # Field order seq, ts, kind, payload, prev_hash, hash reads well; the hash itself
            # is over canonical JSON, so the order on disk does not matter.
            line = json.dumps(entry.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            write_json_atomic(self.head_path, {"seq": entry.seq, "hash": entry.hash}, indent=None)
            return entry

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
                    raise ValueError(f"{self.path} line {i} is not an audit entry ({err}); run `galaxy audit verify`.") from None

    def tail(self, n: int = 20) -> list[AuditEntry]:
        """The last ``n`` entries, oldest first."""
        out: list[AuditEntry] = []
        for e in self.entries():
            out.append(e)
            if len(out) > n:
                out.pop(0)
        return out

    def verify(self) -> AuditVerification:
        """Check the whole chain and report the first entry that was changed, removed, reordered or damaged."""
        if not self.path.exists():
            head = self._read_head()
            if head and head["seq"] > 0:
                return AuditVerification(False, 0, 1, None, f"the audit log {self.path} was deleted (its head file records {head['seq']} entries)")
            return AuditVerification(True, 0)
        with self._lock():  # a consistent snapshot: no append in flight
            raw = self.path.read_bytes()
            head = self._read_head()
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

        def bad(seq: int, line: int | None, reason: str, good: int) -> AuditVerification:
            return AuditVerification(False, good, seq, line, reason, head is not None)

        expected, prev_hash = 1, GENESIS_HASH
        for i, d in parsed:
            good = expected - 1
            if d is None:
                return bad(expected, i, f"entry {expected} is not valid JSON (line {i})", good)
            seq = d["seq"]
            if entry_hash(d["prev_hash"], seq, d["ts"], d["kind"], d["payload"]) != d["hash"]:
                return bad(seq, i, f"entry {seq} was changed (line {i}: its content does not match its hash)", good)
            if seq > expected:
                if expected in seqs_present:
                    return bad(expected, i, f"entries were reordered: line {i} holds entry {seq} where entry {expected} belongs", good)
                what = f"entry {expected} was removed" if seq == expected + 1 else f"entries {expected}-{seq - 1} were removed"
                return bad(expected, i, f"{what} (line {i} holds entry {seq})", good)
            if seq < expected:
                return bad(seq, i, f"entry {seq} appears again at line {i} where entry {expected} belongs: entries were reordered or duplicated", good)
            if d["prev_hash"] != prev_hash:
                if seq == 1:
                    return bad(1, i, "entry 1 was changed (line 1: it does not start the chain)", 0)
                return bad(seq - 1, i - 1, f"entry {seq - 1} was changed (line {i - 1}: its hash no longer matches the one entry {seq} recorded)", good - 1)
            prev_hash = d["hash"]
            expected += 1
        last_seq = expected - 1
        if head is not None:
            if head["seq"] > last_seq:
                first = last_seq + 1
                what = f"entry {first} was removed" if head["seq"] == first else f"entries {first}-{head['seq']} were removed"
                return bad(first, None, f"{what} from the end of the log (the head file records {head['seq']} entries)", last_seq)
            if head["seq"] < last_seq:
                return bad(head["seq"] + 1, head["seq"] + 1,
                           f"entries after {head['seq']} were added outside the audit log (the head file records {head['seq']} entries)",
                           head["seq"])
            if head["hash"] != prev_hash:
                return bad(last_seq, len(parsed), f"entry {last_seq} was changed (line {len(parsed)}: it does not match the head file)", last_seq - 1)
        return AuditVerification(True, last_seq, head_checked=head is not None)
