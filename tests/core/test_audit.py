"""The hash-chained audit log: chaining, tamper detection, the (signed) head file, concurrent appends."""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
from pathlib import Path

import pytest

from galaxy_lib.core.audit import (
    AUDIT_KEY_ENV,
    GENESIS_HASH,
    HEAD_REBUILT,
    HEAD_ROLLED_FORWARD,
    AuditError,
    AuditLog,
    entry_hash,
    head_signature,
)


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    """Tests start without a signing key, whatever the environment holds."""
    monkeypatch.delenv(AUDIT_KEY_ENV, raising=False)


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
    for prev, cur in itertools.pairwise(entries):
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
    _write(log, [*lines[:-1], lines[-1][:-10]])  # torn last line
    with pytest.raises(AuditError, match="newline"):
        log.append("x", {})


# -- the head file: truncation stays detectable ------------------------------------------------
def test_truncation_with_the_head_deleted_fails(log):
    lines = _lines(log)
    _write(log, lines[:-3])
    log.head_path.unlink()
    v = log.verify()
    assert not v.ok and v.entries == 7 and v.first_bad_seq is None
    assert v.reason.startswith("the head file audit.jsonl.head is missing while the log holds 7 entries")
    assert "galaxy audit rebuild-head" in v.reason  # the way out
    with pytest.raises(AuditError, match=r"head file audit\.jsonl\.head is missing"):
        log.append("run.finished", {})  # and nobody extends it silently
    assert len(_lines(log)) == 7


def test_an_empty_log_needs_no_head(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_text("")
    assert AuditLog(path).verify().ok
    assert AuditLog(path).append("first", {}).seq == 1


def test_an_unreadable_head_fails(log):
    log.head_path.write_text("{not json")
    v = log.verify()
    assert not v.ok and "cannot be read" in v.reason and "rebuild-head" in v.reason


def test_rebuild_head_makes_it_verify_and_is_audited(log, monkeypatch):
    lines = _lines(log)
    _write(log, lines[:-3])
    log.head_path.unlink()
    monkeypatch.setattr("galaxy_lib.core.audit._whoami", lambda: "ops@host1")
    entry = log.rebuild_head(reason="head lost in a disk restore")
    assert entry is not None and entry.seq == 8 and entry.kind == HEAD_REBUILT
    seventh = json.loads(lines[6])
    assert entry.payload == {
        "by": "ops@host1",
        "reason": "head lost in a disk restore",
        "rebuilt_from": {"seq": 7, "hash": seventh["hash"]},
        "previous_head": "missing",
        "problem": entry.payload["problem"],
        "signed": False,
    }
    assert entry.payload["problem"].startswith("the head file audit.jsonl.head is missing")
    assert entry.ts  # when
    v = log.verify()
    assert v.ok and v.entries == 8 and v.head_checked
    assert log.tail(1)[0].kind == HEAD_REBUILT
    assert log.append("run.finished", {}).seq == 9
    assert log.rebuild_head() is None  # the head matches: nothing to rebuild, nothing recorded
    assert log.verify().entries == 9


def test_rebuild_head_after_a_known_truncation_records_the_old_head(log):
    lines = _lines(log)
    _write(log, lines[:-2])
    assert not log.verify().ok  # the intact head catches it
    entry = log.rebuild_head(reason="removed two test runs", by="alice")
    assert entry.payload["previous_head"] == {"seq": 10, "hash": json.loads(lines[-1])["hash"], "signed": False}
    assert entry.payload["by"] == "alice" and entry.payload["rebuilt_from"]["seq"] == 8
    assert entry.payload["problem"].startswith("entries 9-10 were removed")
    assert log.verify().ok


def test_rebuild_head_refuses_a_broken_chain(log, tmp_path):
    lines = _lines(log)
    lines[3] = lines[3].replace('"job":"job4"', '"job":"jobX"')
    _write(log, lines)
    log.head_path.unlink()
    with pytest.raises(AuditError, match=r"entry 4 was changed.*would not repair it"):
        log.rebuild_head()
    assert not log.head_path.exists()
    with pytest.raises(AuditError, match="No audit log"):
        AuditLog(tmp_path / "none.jsonl").rebuild_head()


# -- the signed head (GALAXY_AUDIT_KEY) --------------------------------------------------------
@pytest.fixture()
def signed(tmp_path, monkeypatch) -> AuditLog:
    monkeypatch.setenv(AUDIT_KEY_ENV, "s3cret")
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(1, 6):
        log.append("run.finished", {"job": f"job{i}"})
    return log


def test_the_head_is_signed_with_the_key(signed):
    head = json.loads(signed.head_path.read_text())
    last = json.loads(_lines(signed)[-1])
    assert head == {"seq": 5, "hash": last["hash"], "hmac_sha256": head_signature("s3cret", 5, last["hash"])}
    v = signed.verify()
    assert v.ok and v.head_signed and v.note == ""


def test_unsigned_head_is_said_once(log):
    v = log.verify()
    assert v.ok and not v.head_signed
    assert v.note.startswith("the head file is not signed") and AUDIT_KEY_ENV in v.note


def test_a_signed_head_rewritten_to_match_a_truncated_log_fails(signed):
    lines = _lines(signed)
    _write(signed, lines[:-2])
    third = json.loads(lines[2])
    forged = {"seq": 3, "hash": third["hash"], "hmac_sha256": head_signature("guess", 3, third["hash"])}
    signed.head_path.write_text(json.dumps(forged))
    v = signed.verify()
    assert not v.ok and "signature of the head file audit.jsonl.head does not match GALAXY_AUDIT_KEY" in v.reason
    with pytest.raises(AuditError, match="does not match GALAXY_AUDIT_KEY"):
        signed.append("x", {})
    # dropping the signature does not help either
    signed.head_path.write_text(json.dumps({"seq": 3, "hash": third["hash"]}))
    v = signed.verify()
    assert not v.ok and "is not signed although GALAXY_AUDIT_KEY is set" in v.reason


def test_a_wrong_key_fails(signed, monkeypatch):
    monkeypatch.setenv(AUDIT_KEY_ENV, "not-the-key")
    v = signed.verify()
    assert not v.ok and "does not match GALAXY_AUDIT_KEY" in v.reason and "key is not the one" in v.reason
    assert AuditLog(signed.path, key="s3cret").verify().ok


def test_a_signed_head_without_the_key_fails_clearly(signed, monkeypatch):
    monkeypatch.delenv(AUDIT_KEY_ENV)
    v = signed.verify()
    assert not v.ok and v.reason.startswith(
        "the head file audit.jsonl.head is signed (HMAC-SHA256) but GALAXY_AUDIT_KEY is not set"
    )
    with pytest.raises(AuditError, match="GALAXY_AUDIT_KEY is not set"):
        signed.append("x", {})  # no silent downgrade to an unsigned head
    with pytest.raises(AuditError, match="is signed: set GALAXY_AUDIT_KEY to rebuild it"):
        signed.rebuild_head()
    assert json.loads(signed.head_path.read_text())["seq"] == 5 and len(_lines(signed)) == 5


def test_setting_a_key_later_needs_a_recorded_rebuild(log, monkeypatch):
    monkeypatch.setenv(AUDIT_KEY_ENV, "new-key")
    v = log.verify()
    assert not v.ok and "not signed although GALAXY_AUDIT_KEY is set" in v.reason and "rebuild-head" in v.reason
    entry = log.rebuild_head(reason="start signing")
    assert entry.payload["signed"] is True and entry.payload["previous_head"]["signed"] is False
    v = log.verify()
    assert v.ok and v.head_signed and v.entries == 11


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


# -- a crash between an entry and its head file ------------------------------------------
def _crash_before_the_head(log: AuditLog, monkeypatch, kind: str = "run.finished") -> None:
    """Append one entry whose head-file write never happens (the writer was killed in between)."""
    with monkeypatch.context() as m:
        m.setattr(AuditLog, "_write_head", lambda self, seq, h: None)
        log.append(kind, {"job": "crashed"})


def test_a_head_left_behind_by_a_crash_is_rolled_forward_and_recorded(log, monkeypatch, caplog):
    _crash_before_the_head(log, monkeypatch)
    assert json.loads(log.head_path.read_text())["seq"] == 10 and len(_lines(log)) == 11
    v = log.verify()
    assert v.ok and v.head_behind and "the last entry 11 chains onto it" in v.note
    with caplog.at_level("WARNING", logger="galaxy.audit"):
        entry = log.append("run.started", {"job": "next"})  # the next run is not wedged
    assert entry.seq == 13 and "rolling the head forward" in caplog.text
    rolled = list(log.entries())[11]
    assert rolled.kind == HEAD_ROLLED_FORWARD
    assert rolled.payload["rolled_to"]["seq"] == 11 and rolled.payload["rolled_to"]["kind"] == "run.finished"
    assert rolled.payload["previous_head"]["seq"] == 10
    v = log.verify()
    assert (v.ok, v.entries, v.head_behind) == (True, 13, False)


def test_a_lagging_signed_head_is_rolled_forward_and_signed(signed, monkeypatch):
    _crash_before_the_head(signed, monkeypatch)
    signed.append("run.started", {})
    v = signed.verify()
    assert v.ok and v.head_signed and v.entries == 8  # 5 + the crashed one + the roll-forward + the new one


def test_a_changed_extra_entry_is_not_rolled_forward(log, monkeypatch):
    _crash_before_the_head(log, monkeypatch)
    lines = _lines(log)
    d = json.loads(lines[-1])
    d["payload"]["job"] = "forged"  # changed without its hash: damaged
    _write(log, [*lines[:-1], json.dumps(d) + "\n"])
    assert not log.verify().ok
    with pytest.raises(AuditError, match="damaged"):
        log.append("run.started", {})
    d["hash"] = entry_hash(d["prev_hash"], d["seq"], d["ts"], d["kind"], d["payload"])
    d["prev_hash"] = "f" * 64  # rehashed, but it does not chain onto the head
    d["hash"] = entry_hash(d["prev_hash"], d["seq"], d["ts"], d["kind"], d["payload"])
    _write(log, [*lines[:-1], json.dumps(d) + "\n"])
    assert not log.verify().ok
    with pytest.raises(AuditError, match="does not match its head file"):
        log.append("run.started", {})


def test_two_entries_beyond_the_head_still_fail(log, monkeypatch):
    head = log.head_path.read_text()
    log.append("run.finished", {})
    log.append("run.finished", {})
    log.head_path.write_text(head)  # entries 11 and 12 are beyond the head: not what one crash leaves
    v = log.verify()
    assert not v.ok and "added outside the audit log" in v.reason
    with pytest.raises(AuditError, match="does not match its head file"):
        log.append("run.started", {})


def test_rebuild_head_also_repairs_a_head_left_behind(log, monkeypatch):
    _crash_before_the_head(log, monkeypatch)
    entry = log.rebuild_head(reason="after the power cut")
    assert entry is not None and entry.payload["rebuilt_from"]["seq"] == 11
    assert "chains onto it" in entry.payload["problem"]
    v = log.verify()
    assert v.ok and not v.head_behind and v.entries == 12
