"""The hash-chained audit log: chaining, tamper detection, concurrent appends."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import pytest

from galaxy_lib.core.audit import GENESIS_HASH, AuditError, AuditLog, entry_hash


@pytest.fixture()
def log(tmp_path) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(1, 11):
        log.append("run.finished", {"job": f"job{i}", "value": i / 3, "nested": {"b": [1, 2], "a": None}})
    return log


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text(encoding="utf-8").splitlines(keepends=True)


def _write(log: AuditLog, lines: list[str]) -> None:
    log.path.write_text("".join(lines), encoding="utf-8")


def test_entries_chain_and_verify(log):
    entries = list(log.entries())
    assert [e.seq for e in entries] == list(range(1, 11))
    assert entries[0].prev_hash == GENESIS_HASH
    for prev, cur in zip(entries, entries[1:]):
        assert cur.prev_hash == prev.hash
    for e in entries:  # the documented formula, recomputed independently of the writer
        assert e.hash == entry_hash(e.prev_hash, e.seq, e.ts, e.kind, e.payload)
    v = log.verify()
    assert (v.ok, v.entries, v.reason, v.head_checked) == (True, 10, "", True)
    assert [e.seq for e in log.tail(3)] == [8, 9, 10]


def test_missing_log_verifies_empty(tmp_path):
    assert AuditLog(tmp_path / "none.jsonl").verify().ok


def test_editing_a_value_names_the_entry(log):
    lines = _lines(log)
    lines[6] = lines[6].replace('"job":"job7"', '"job":"job7x"')
    _write(log, lines)
    v = log.verify()
    assert not v.ok
    assert (v.first_bad_seq, v.first_bad_line) == (7, 7)
    assert v.reason.startswith("entry 7 was changed")
    assert v.entries == 6


def test_editing_and_rehashing_is_caught_by_the_next_entry(log):
    lines = _lines(log)
    d = json.loads(lines[6])
    d["payload"]["job"] = "forged"
    d["hash"] = entry_hash(d["prev_hash"], d["seq"], d["ts"], d["kind"], d["payload"])
    lines[6] = json.dumps(d) + "\n"
    _write(log, lines)
    v = log.verify()
    assert not v.ok and v.first_bad_seq == 7 and v.first_bad_line == 7
    assert v.reason.startswith("entry 7 was changed") and "entry 8" in v.reason


def test_rehashing_the_last_entry_is_caught_by_the_head(log):
    lines = _lines(log)
    d = json.loads(lines[-1])
    d["payload"]["job"] = "forged"
    d["hash"] = entry_hash(d["prev_hash"], d["seq"], d["ts"], d["kind"], d["payload"])
    lines[-1] = json.dumps(d) + "\n"
    _write(log, lines)
    v = log.verify()
    assert not v.ok and v.first_bad_seq == 10 and "head file" in v.reason


def test_deleting_a_line_names_the_removed_entry(log):
    lines = _lines(log)
    del lines[4]
    _write(log, lines)
    v = log.verify()
    assert not v.ok and v.first_bad_seq == 5 and v.first_bad_line == 5
    assert v.reason.startswith("entry 5 was removed")


def test_deleting_several_lines(log):
    lines = _lines(log)
    del lines[2:5]
    _write(log, lines)
    assert log.verify().reason.startswith("entries 3-5 were removed")


def test_deleting_the_last_lines_is_caught_by_the_head(log):
    lines = _lines(log)
    _write(log, lines[:-2])
    v = log.verify()
    assert not v.ok and v.first_bad_seq == 9
    assert v.reason.startswith("entries 9-10 were removed")


def test_reordering_lines(log):
    lines = _lines(log)
    lines[2], lines[3] = lines[3], lines[2]
    _write(log, lines)
    v = log.verify()
    assert not v.ok and v.first_bad_seq == 3 and v.first_bad_line == 3
    assert "reordered" in v.reason


def test_duplicated_line(log):
    lines = _lines(log)
    lines.insert(5, lines[3])
    _write(log, lines)
    v = log.verify()
    assert not v.ok and v.first_bad_line == 6 and "entry 4 appears again" in v.reason


def test_invalid_json_line(log):
    lines = _lines(log)
    lines[2] = lines[2][:40] + "\n"
    _write(log, lines)
    v = log.verify()
    assert not v.ok and v.reason == "entry 3 is not valid JSON (line 3)"


def test_deleting_the_log_is_detected(log):
    log.path.unlink()
    v = log.verify()
    assert not v.ok and "deleted" in v.reason


def test_append_refuses_to_extend_a_damaged_tail(log):
    lines = _lines(log)
    _write(log, lines[:-1])  # last entry removed: head disagrees
    with pytest.raises(AuditError, match="head file"):
        log.append("x", {})
    _write(log, lines[:-1] + [lines[-1][:-10]])  # torn last line
    with pytest.raises(AuditError, match="newline"):
        log.append("x", {})


def _append_many(path: str, worker: int, n: int) -> None:
    log = AuditLog(path)
    for i in range(n):
        log.append("concurrent", {"worker": worker, "i": i})


@pytest.mark.slow
def test_concurrent_processes_produce_one_valid_chain(tmp_path):
    path = str(tmp_path / "audit.jsonl")
    ctx = mp.get_context("spawn")  # fresh interpreters, like two schedulers
    procs = [ctx.Process(target=_append_many, args=(path, w, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    log = AuditLog(path)
    v = log.verify()
    assert v.ok, v.reason
    assert v.entries == 100
    seen = sorted((e.payload["worker"], e.payload["i"]) for e in log.entries())
    assert seen == [(w, i) for w in range(4) for i in range(25)]
    assert len(Path(path).read_text().splitlines()) == 100
