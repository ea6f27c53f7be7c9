"""`galaxy experiments`, through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from galaxy_lib.cli import app
from galaxy_lib.experiments.registry import ExperimentRegistry

runner = CliRunner()

SPEC = {
    "id": "spring-email",
    "name": "Spring offer e-mail",
    "hypothesis": "An offer in the subject line lifts conversion by 1 point",
    "metric": "converted",
    "arms": ["control", "email"],
    "control": "control",
    "start": "2024-05-01",
    "end": "2024-05-28",
}


def _invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


def _register(tmp_path: Path, store: Path, **changes: object):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({**SPEC, **changes}))
    return _invoke("experiments", "register", "--file", spec, "--data-dir", store, "--actor", "ana")


def test_register_list_show_and_change_status(tmp_path: Path, store: Path) -> None:
    result = _register(tmp_path, store)
    assert result.exit_code == 0, result.output
    assert "Registered spring-email (hypothesis)" in result.output
    assert "galaxy experiments status spring-email running" in result.output

    result = _invoke("experiments", "status", "spring-email", "running", "--reason", "launched", "--data-dir", store)
    assert result.exit_code == 0, result.output
    assert "spring-email: hypothesis -> running (audit entry #2" in _flat(result.output)

    ExperimentRegistry(store).record_readout(
        "spring-email",
        {
            "decision": "significant",
            "arms": [{"arm": "email", "estimate": 1.8, "low": 0.9, "high": 2.7, "unit": "pts", "p_value": 0.001}],
            "alpha": 0.05,
            "summary": "The offer subject line wins.",
        },
    )
    result = _invoke("experiments", "list", "--data-dir", store)
    assert result.exit_code == 0, result.output
    out = _flat(result.output)
    for cell in ("spring-email", "Spring offer e-mail", "converted", "email vs control", "2024-05-01 to 2024-05-28"):
        assert cell in out, cell
    assert "significant" in out and "email +1.8 pts [0.9, 2.7]" in out

    result = _invoke("experiments", "show", "spring-email", "--data-dir", store)
    assert result.exit_code == 0, result.output
    out = _flat(result.output)
    assert "hypothesis An offer in the subject line" in out
    assert "readout significant: email +1.8 pts [0.9, 2.7], 95% intervals" in out
    assert "(new) -> hypothesis by ana: registered [audit #1]" in out
    assert "hypothesis -> running" in out and "launched [audit #2]" in out

    result = _invoke("experiments", "show", "spring-email", "--json", "--data-dir", store)
    record = json.loads(result.output)
    assert record["status"] == "significant" and len(record["history"]) == 3

    result = _invoke("experiments", "verify", "--data-dir", store)
    assert result.exit_code == 0 and "OK: 1 experiment(s) match the audit log" in _flat(result.output)


def test_list_filters_by_status_and_says_when_empty(tmp_path: Path, store: Path) -> None:
    result = _invoke("experiments", "list", "--data-dir", store)
    assert result.exit_code == 0 and "No experiments in" in result.output
    _register(tmp_path, store)
    _register(tmp_path, store, id="summer-sms", name="Summer SMS", status="running")
    out = _flat(_invoke("experiments", "list", "--status", "running", "--data-dir", store).output)
    assert "summer-sms" in out and "spring-email" not in out
    out = _flat(
        _invoke("experiments", "list", "--status", "running", "--status", "hypothesis", "--data-dir", store).output
    )
    assert "summer-sms" in out and "spring-email" in out
    result = _invoke("experiments", "list", "--status", "stopped", "--data-dir", store)
    assert result.exit_code == 0 and "No experiments with status stopped" in result.output
    result = _invoke("experiments", "list", "--status", "won", "--data-dir", store)
    assert result.exit_code == 2 and "Unknown status won; use one of hypothesis, running" in _flat(result.output)


def test_a_refused_status_change_names_current_and_allowed(tmp_path: Path, store: Path) -> None:
    _register(tmp_path, store)
    result = _invoke("experiments", "status", "spring-email", "significant", "--reason", "x", "--data-dir", store)
    assert result.exit_code == 2
    out = _flat(result.output)
    assert "Error (StatusTransitionError): Experiment 'spring-email' is hypothesis: it cannot become significant" in out
    assert "it can move to running, stopped" in out and "Traceback" not in result.output
    result = _invoke("experiments", "status", "spring-email", "done", "--reason", "x", "--data-dir", store)
    assert result.exit_code == 2 and "Unknown status 'done'" in result.output
    result = _invoke("experiments", "status", "spring-email", "stopped", "--data-dir", store)
    assert result.exit_code == 2 and "--reason" in result.output  # a reason is required


def test_bad_spec_and_unknown_id_are_clear_errors(tmp_path: Path, store: Path) -> None:
    result = _register(tmp_path, store, control="holdout", colour="red")
    assert result.exit_code == 2
    out = _flat(result.output)
    assert "Invalid experiment spec" in out and "colour: unknown field" in out
    assert "Traceback" not in result.output
    result = _register(tmp_path, store, arms=["control"])
    assert result.exit_code == 2 and "arms: Tuple should have at least 2 items" in _flat(result.output)
    result = _invoke("experiments", "register", "--file", tmp_path / "missing.yaml", "--data-dir", store)
    assert result.exit_code == 2 and "No experiment spec at" in _flat(result.output)
    assert _register(tmp_path, store).exit_code == 0
    result = _register(tmp_path, store)
    assert result.exit_code == 2 and "'spring-email' is already registered" in _flat(result.output)
    result = _invoke("experiments", "show", "nope", "--data-dir", store)
    assert result.exit_code == 2 and "No experiment 'nope'" in _flat(result.output)


def test_verify_fails_on_a_changed_record(tmp_path: Path, store: Path) -> None:
    _register(tmp_path, store)
    path = store / "experiments" / "spring-email.json"
    record = json.loads(path.read_text())
    record["status"] = "running"
    path.write_text(json.dumps(record))
    result = _invoke("experiments", "verify", "--data-dir", store)
    assert result.exit_code == 1
    assert "spring-email: record says running, the audit log hypothesis" in _flat(result.output)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["experiments", "--help"], "hypothesis -> running -> significant | inconclusive | stopped"),
        (["experiments", "list", "--help"], "galaxy experiments list --status running"),
        (["experiments", "show", "--help"], "galaxy experiments show spring-email --json"),
        (["experiments", "register", "--help"], "arms: [control, email]"),
        (["experiments", "status", "--help"], "galaxy experiments status spring-email running --reason"),
        (["experiments", "verify", "--help"], "galaxy experiments verify"),
    ],
)
def test_help_has_examples(args: list[str], expected: str) -> None:
    result = _invoke(*args)
    assert result.exit_code == 0 and expected in _flat(result.output)


def test_the_group_is_listed_on_the_main_help() -> None:
    assert "experiments" in _invoke("--help").output
