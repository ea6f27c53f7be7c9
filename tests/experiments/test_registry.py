"""The experiment registry: records round-trip, the lifecycle, the audit trail, masking, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.core.audit import AuditLog
from galaxy_lib.core.store import DataStore
from galaxy_lib.experiments.ab import ab_readout
from galaxy_lib.experiments.records import (
    STATUSES,
    TRANSITIONS,
    ExperimentRegistryError,
    Readout,
    StatusTransitionError,
    load_spec,
    readout_from_ab,
)
from galaxy_lib.experiments.registry import AUDIT_KIND, ExperimentRegistry

SPEC = {
    "id": "spring-email",
    "name": "Spring offer e-mail",
    "hypothesis": "An offer in the subject line lifts conversion by 1 point",
    "metric": "converted",
    "arms": ["control", "email", "coupon"],
    "control": "control",
    "start": "2024-05-01",
    "end": "2024-05-28",
    "owner": "CRM team",
}
READOUT = {
    "decision": "significant",
    "arms": [{"arm": "email", "estimate": 1.8, "low": 0.9, "high": 2.7, "unit": "pts", "p_value": 0.0004, "n": 20000}],
    "alpha": 0.05,
    "summary": "The offer subject line wins.",
}


@pytest.fixture
def registry(tmp_path: Path) -> ExperimentRegistry:
    return ExperimentRegistry(DataStore(tmp_path / "store"))


def _spec(**changes: object) -> dict[str, object]:
    return {**SPEC, **changes}


def _running(registry: ExperimentRegistry, experiment_id: str = "spring-email") -> None:
    registry.register(_spec(id=experiment_id), actor="ana")
    registry.set_status(experiment_id, "running", actor="ana", reason="launched")


# -- records -------------------------------------------------------------------------------------
def test_register_get_and_list_round_trip(registry: ExperimentRegistry) -> None:
    made = registry.register(SPEC, actor="ana")
    assert made.status == "hypothesis" and made.readout is None and made.created_at == made.updated_at
    assert registry.path("spring-email").is_file()
    got = registry.get("spring-email")
    assert got == made
    assert got.arms == ("control", "email", "coupon") and got.control == "control"
    assert str(got.start) == "2024-05-01" and got.owner == "CRM team"
    assert [h.new for h in got.history] == ["hypothesis"] and got.history[0].actor == "ana"
    assert [e.id for e in registry.list()] == ["spring-email"]
    stored = json.loads(registry.path("spring-email").read_text())
    assert stored["status"] == "hypothesis" and stored["record_version"] == 1


def test_a_spec_may_register_a_test_already_running(registry: ExperimentRegistry) -> None:
    assert registry.register(_spec(status="running")).status == "running"
    with pytest.raises(ExperimentRegistryError, match="status"):
        registry.register(_spec(id="other", status="significant"))


def test_duplicate_id_is_refused_and_the_record_is_kept(registry: ExperimentRegistry) -> None:
    registry.register(SPEC)
    with pytest.raises(ExperimentRegistryError, match=r"'spring-email' is already registered .*another id"):
        registry.register(_spec(name="Something else"))
    assert registry.get("spring-email").name == "Spring offer e-mail"
    assert len(list(registry.audit.entries())) == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"id": "Spring Email"}, "id", "lower-case letters"),
        ({"id": "../escape"}, "id", "not valid"),
        ({"arms": ["control"]}, "arms", "at least 2"),
        ({"arms": ["control", "email", "email"]}, "arms", "each label once"),
        ({"control": "holdout"}, "control", "'holdout' is not one of the arms"),
        ({"end": "2024-04-01"}, "end", "before start"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"name": ""}, "name", "at least 1 character"),
    ],
)
def test_bad_specs_name_the_field(registry: ExperimentRegistry, changes: dict, field: str, message: str) -> None:
    with pytest.raises(ExperimentRegistryError) as err:
        registry.register(_spec(**changes))
    assert field in str(err.value) and message in str(err.value)
    assert registry.ids() == []


def test_load_spec_reads_yaml_and_names_wrong_fields(tmp_path: Path) -> None:
    good = tmp_path / "spec.yaml"
    good.write_text("id: spring-email\nname: x\nhypothesis: y\nmetric: converted\narms: [control, email]\n")
    with pytest.raises(ExperimentRegistryError, match=r"spec.yaml\):\n  - control: required"):
        load_spec(good)
    good.write_text(good.read_text() + "control: control\nstart: 2024-05-01\n")
    assert load_spec(good).start.isoformat() == "2024-05-01"
    with pytest.raises(ExperimentRegistryError, match="No experiment spec at"):
        load_spec(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ExperimentRegistryError, match="must hold a YAML mapping"):
        load_spec(tmp_path / "list.yaml")


def test_unknown_id_lists_the_known_ones(registry: ExperimentRegistry) -> None:
    registry.register(SPEC)
    with pytest.raises(ExperimentRegistryError, match=r"No experiment 'spring-mail' .*registered: spring-email"):
        registry.get("spring-mail")


def test_a_damaged_record_is_named(registry: ExperimentRegistry) -> None:
    registry.register(SPEC)
    registry.path("spring-email").write_text("{not json")
    with pytest.raises(ExperimentRegistryError, match=r"spring-email.json cannot be read"):
        registry.list()


# -- lifecycle -----------------------------------------------------------------------------------
def _path_to(status: str) -> list[str]:
    return {
        "hypothesis": [],
        "running": ["running"],
        "significant": ["running", "significant"],
        "inconclusive": ["running", "inconclusive"],
        "stopped": ["stopped"],
    }[status]


@pytest.mark.parametrize("current", STATUSES)
@pytest.mark.parametrize("new", STATUSES)
def test_transitions_are_allowed_or_refused_naming_current_and_allowed(
    registry: ExperimentRegistry, current: str, new: str
) -> None:
    registry.register(SPEC)
    for step in _path_to(current):
        registry.set_status("spring-email", step, reason="setup")
    if new in TRANSITIONS[current]:
        moved = registry.set_status("spring-email", new, actor="ana", reason="because")
        assert moved.status == new == registry.get("spring-email").status
        assert (moved.history[-1].old, moved.history[-1].new, moved.history[-1].reason) == (current, new, "because")
        return
    with pytest.raises(StatusTransitionError) as err:
        registry.set_status("spring-email", new, reason="nope")
    message = str(err.value)
    assert f"'spring-email' is {current}: it cannot become {new}" in message
    allowed = TRANSITIONS[current]
    assert (f"it can move to {', '.join(allowed)}" if allowed else f"{current} is final") in message
    assert registry.get("spring-email").status == current


def test_unknown_status_is_refused(registry: ExperimentRegistry) -> None:
    registry.register(SPEC)
    with pytest.raises(ExperimentRegistryError, match="Unknown status 'done'; use one of hypothesis, running"):
        registry.set_status("spring-email", "done")


def test_list_filters_by_status(registry: ExperimentRegistry) -> None:
    registry.register(_spec(id="a-hyp"))
    _running(registry, "b-run")
    _running(registry, "c-won")
    registry.record_readout("c-won", READOUT)
    registry.register(_spec(id="d-stop"))
    registry.set_status("d-stop", "stopped", reason="budget cut")
    assert [e.id for e in registry.list()] == ["a-hyp", "b-run", "c-won", "d-stop"]
    assert [e.id for e in registry.list(status="running")] == ["b-run"]
    assert [e.id for e in registry.list(status=["significant", "stopped"])] == ["c-won", "d-stop"]
    assert registry.list(status="inconclusive") == []
    with pytest.raises(ExperimentRegistryError, match="Unknown status won"):
        registry.list(status="won")


# -- readouts ------------------------------------------------------------------------------------
def test_record_readout_stores_it_and_moves_to_its_decision(registry: ExperimentRegistry) -> None:
    _running(registry)
    done = registry.record_readout("spring-email", READOUT, actor="ana")
    assert done.status == "significant" and done.final
    assert done.headline() == "email +1.8 pts [0.9, 2.7]"
    assert done.history[-1].reason == "email +1.8 pts [0.9, 2.7]"  # the default reason
    again = registry.get("spring-email")
    assert again.readout == done.readout and again.readout.arms[0].p_value == 0.0004
    inconclusive = {**READOUT, "decision": "inconclusive"}
    _running(registry, "second")
    assert registry.record_readout("second", inconclusive).status == "inconclusive"


def test_record_readout_needs_a_running_test_and_its_own_arms(registry: ExperimentRegistry) -> None:
    registry.register(SPEC)
    with pytest.raises(StatusTransitionError, match="is hypothesis: it cannot become significant"):
        registry.record_readout("spring-email", READOUT)
    registry.set_status("spring-email", "running")
    for arm in ("control", "sms"):
        bad = {**READOUT, "arms": [{**READOUT["arms"][0], "arm": arm}]}
        with pytest.raises(ExperimentRegistryError, match=rf"\['{arm}'\] that are not its treatment arms"):
            registry.record_readout("spring-email", bad)
    with pytest.raises(ExperimentRegistryError, match="decision"):
        registry.record_readout("spring-email", {**READOUT, "decision": "won"})
    nan = {**READOUT, "arms": [{**READOUT["arms"][0], "estimate": float("nan")}]}
    with pytest.raises(ExperimentRegistryError, match="estimate"):
        registry.record_readout("spring-email", nan)
    with pytest.raises(ExperimentRegistryError, match="over 20,000 characters"):
        registry.record_readout("spring-email", {**READOUT, "extra": {"rows": list(range(10_000))}})
    assert registry.get("spring-email").status == "running"


def test_readout_from_ab_reports_percentage_points() -> None:
    rng = np.random.default_rng(3)
    arm = rng.choice(["control", "email"], size=20_000)
    converted = (rng.random(20_000) < np.where(arm == "email", 0.12, 0.10)).astype(int)
    ab = ab_readout(pd.DataFrame({"arm": arm, "converted": converted}), "arm", "converted", "control")
    readout = readout_from_ab(ab, decision="significant", scale=100, unit="pts", summary="Clear win.")
    (est,) = readout.arms
    assert est.estimate == pytest.approx(100 * ab[0].diff) and est.low == pytest.approx(100 * ab[0].diff_low)
    assert est.unit == "pts" and est.n == ab[0].n_arm and readout.alpha == 0.05
    assert readout.extra["control"] == "control" and readout.extra["n_control"] == ab[0].n_control
    assert readout.headline().startswith("email +") and " pts [" in readout.headline()
    with pytest.raises(ExperimentRegistryError, match="at least one AbReadout"):
        readout_from_ab([], decision="inconclusive")


def test_headline_formats_large_and_negative_numbers() -> None:
    r = Readout.model_validate(
        {
            "decision": "inconclusive",
            "arms": [
                {"arm": "tv", "estimate": 12345.6, "low": -2000, "high": 26000, "unit": "EUR"},
                {"arm": "radio", "estimate": -0.25},
            ],
        }
    )
    assert r.headline() == "tv +12,346 EUR [-2,000, 26,000]; radio -0.25"


# -- audit ---------------------------------------------------------------------------------------
def test_every_status_change_is_audited_and_verifies(registry: ExperimentRegistry) -> None:
    _running(registry)
    done = registry.record_readout("spring-email", READOUT, actor="ana")
    entries = list(registry.audit.entries())
    assert [e.kind for e in entries] == [AUDIT_KIND] * 3
    moves = [(e.payload["old_status"], e.payload["new_status"]) for e in entries]
    assert moves == [(None, "hypothesis"), ("hypothesis", "running"), ("running", "significant")]
    assert {e.payload["experiment_id"] for e in entries} == {"spring-email"}
    assert [e.payload["actor"] for e in entries] == ["ana", "ana", "ana"]
    assert entries[1].payload["reason"] == "launched"
    assert entries[2].payload["readout_sha256"] and entries[1].payload["readout_sha256"] is None
    assert [h.audit_seq for h in done.history] == [e.seq for e in entries]
    assert AuditLog(registry.audit.path).verify().ok
    check = registry.verify()
    assert check.ok and check.experiments == 1 and check.problems == ()


def test_verify_names_a_record_changed_outside_the_registry(registry: ExperimentRegistry) -> None:
    _running(registry)
    registry.record_readout("spring-email", READOUT)
    path = registry.path("spring-email")
    record = json.loads(path.read_text())
    record["readout"]["arms"][0]["estimate"] = 3.5  # a better-looking result
    path.write_text(json.dumps(record))
    assert registry.verify().problems == ("spring-email: the readout differs from the one the audit log recorded",)
    record["status"] = "inconclusive"
    path.write_text(json.dumps(record))
    assert registry.verify().problems == ("spring-email: record says inconclusive, the audit log significant",)
    path.unlink()
    assert registry.verify().problems == ("spring-email: in the audit log but its record is missing",)


def test_a_damaged_audit_log_stops_changes(registry: ExperimentRegistry) -> None:
    registry.register(SPEC)
    registry.audit.head_path.unlink()  # entries without their head: appending is refused
    with pytest.raises(Exception, match="head file"):
        registry.set_status("spring-email", "running")
    assert registry.get("spring-email").status == "hypothesis"
    assert not registry.verify().ok


def test_the_audit_log_can_live_elsewhere(tmp_path: Path) -> None:
    log = tmp_path / "reports" / "audit.jsonl"
    registry = ExperimentRegistry(tmp_path / "store", audit_log=log)
    registry.register(SPEC)
    assert log.is_file() and not (tmp_path / "store" / "experiments" / "audit.jsonl").exists()
    assert registry.verify().ok


# -- crashes -------------------------------------------------------------------------------------
def test_a_write_that_fails_before_its_rename_leaves_the_old_record(
    registry: ExperimentRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _running(registry)
    before = registry.path("spring-email").read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("galaxy_lib.core.jsonio.os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        registry.record_readout("spring-email", READOUT)
    monkeypatch.undo()
    assert registry.path("spring-email").read_bytes() == before
    assert registry.get("spring-email").status == "running"
    assert [p.name for p in registry.folder.iterdir() if p.name.endswith(".tmp")] == []
    # The audit entry was written first: verify names the change that did not land, and the
    # change can be made again.
    assert registry.verify().problems == ("spring-email: record says running, the audit log significant",)
    assert registry.record_readout("spring-email", READOUT).status == "significant"
    assert registry.verify().ok


def test_a_leftover_temporary_file_is_not_a_record(registry: ExperimentRegistry) -> None:
    registry.register(SPEC)
    (registry.folder / ".spring-email.json.abc123.tmp").write_text('{"half": ')
    assert registry.ids() == ["spring-email"] and len(registry.list()) == 1


# -- personal data -------------------------------------------------------------------------------
def test_no_raw_customer_ids_are_written(tmp_path: Path) -> None:
    store = DataStore(tmp_path / "store")
    store.write("raw", "customers", pd.DataFrame({"customer_id": ["CUST-000042", "CUST-000043"]}))
    registry = ExperimentRegistry(store)
    registry.register(
        _spec(hypothesis="Works for CUST-000042 and C12345678", owner="jane.doe@example.com"),
        actor="jane.doe@example.com",
    )
    registry.set_status("spring-email", "running", reason="asked by CUST-000043")
    readout = {
        **READOUT,
        "summary": "Top responder CUST-000042",
        "extra": {"top_customers": ["CUST-000043", "C87654321"], "CUST-000042": 1},
    }
    done = registry.record_readout("spring-email", readout)
    written = "".join(p.read_text() for p in registry.folder.iterdir() if p.is_file())
    for raw in ("CUST-000042", "CUST-000043", "C12345678", "C87654321", "jane.doe@example.com"):
        assert raw not in written, raw
    assert "C******78" in done.hypothesis and done.readout.summary.startswith("Top responder C")
    assert registry.verify().ok


def test_an_id_holding_a_customer_id_is_refused(tmp_path: Path) -> None:
    registry = ExperimentRegistry(tmp_path / "store", raw_ids=["vip-0042"])
    with pytest.raises(ExperimentRegistryError, match="holds personal data"):
        registry.register(_spec(id="test-vip-0042"))
    assert registry.ids() == []
