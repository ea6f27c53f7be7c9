"""The `galaxy` command line, through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from galaxy_lib.cli import app, parse_param_args, parse_value
from galaxy_lib.core.audit import AUDIT_KEY_ENV, HEAD_REBUILT, AuditLog
from galaxy_lib.core.config import ConfigError
from galaxy_lib.core.store import DataStore

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "tiny.ipynb"
runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


# -- parsing ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500", 500),
        ("0.9", 0.9),
        ("1e-3", 0.001),
        ("true", True),
        ("no", False),
        ("[tv, search]", ["tv", "search"]),
        ("null", None),
        ("", ""),
        ("data/ci", "data/ci"),
        ("2024-01-01", "2024-01-01"),
        ("a: b", {"a": "b"}),
    ],
)
def test_parse_value_reads_yaml_scalars(text, value):
    assert parse_value(text) == value


def test_parse_param_args_in_any_order():
    pos, params = parse_param_args(["-p", "draws", "500", "02_mmm", "--param", "quick", "true"])
    assert pos == ["02_mmm"] and params == {"draws": 500, "quick": True}
    with pytest.raises(ConfigError, match="needs two values"):
        parse_param_args(["nb", "-p", "draws"])
    with pytest.raises(ConfigError, match="Unknown option '--jbo'"):
        parse_param_args(["nb", "--jbo", "x"])
    with pytest.raises(ConfigError, match="Python identifier"):
        parse_param_args(["nb", "-p", "bad-name", "1"])


# -- help -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "galaxy schedule --all"),
        (("run", "--help"), "-p NAME VALUE"),
        (("schedule", "--help"), "--once"),
        (("audit", "verify", "--help"), "hash chain"),
        (("audit", "verify", "--help"), "GALAXY_AUDIT_KEY"),
        (("audit", "rebuild-head", "--help"), "record the rebuild in the log"),
        (("audit", "--help"), "rebuild-head"),
        (("ingest", "--help"), "--channels"),
        (("ingest", "--help"), "geo = national"),
        (("audit", "show", "--help"), "latest audit-log entries"),
        (("world", "build", "--help"), "--if-missing"),
        (("ingest", "--help"), "canonical=source"),
        (("reports", "--help"), "index.html"),
    ],
)
def test_help_texts(args, expected):
    result = _invoke(*args) if args else _invoke("--help")
    assert result.exit_code == 0, result.output
    assert expected in " ".join(result.output.split())


# -- user errors: one paragraph, exit code 2 ----------------------------------------------
def test_unknown_parameter_is_a_clear_error(tmp_path):
    result = _invoke("run", TINY, "-p", "mdoe", "x", "--reports-dir", tmp_path)
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "Error (ConfigError): Unknown parameter(s) 'mdoe' (did you mean 'mode'?)" in out
    assert "Valid parameters:" in out and "Traceback" not in result.output
    assert not any(tmp_path.iterdir())


def test_missing_notebook_and_file_errors(tmp_path):
    result = _invoke("run", "nope.ipynb", "--reports-dir", tmp_path)
    assert result.exit_code == 2 and "Error (FileNotFoundError): Notebook 'nope.ipynb' not found" in result.output
    result = _invoke("run", TINY, "-f", tmp_path / "missing.yaml", "--reports-dir", tmp_path)
    assert result.exit_code == 2 and "does not exist" in result.output
    result = _invoke("ingest", tmp_path / "missing.csv", "--table", "spend", "--data-dir", tmp_path)
    assert result.exit_code == 2 and "missing.csv" in result.output
    result = _invoke("world", "build", "--size", "huge")
    assert result.exit_code == 2 and "--size must be ci, demo or bench" in result.output
    result = _invoke("ingest", tmp_path / "x.csv", "--table", "spend", "--map", "spend")
    assert result.exit_code == 2 and "canonical=source" in result.output


def test_bad_schedule_file_is_a_clear_error(tmp_path):
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump({"jobs": [{"name": "a", "notebook": "x.ipynb", "cron": "0 25 * * *"}]}))
    result = _invoke("schedule", "--once", "--file", path)
    assert result.exit_code == 2
    assert "not a valid cron expression" in result.output and "Traceback" not in result.output
    result = _invoke("schedule", "--once", "--all", "--file", path)
    assert result.exit_code == 2 and "Choose one of" in result.output


# -- audit -------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _no_audit_key(monkeypatch):
    monkeypatch.delenv(AUDIT_KEY_ENV, raising=False)


def test_audit_verify_and_show(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for i in range(5):
        log.append("run.finished", {"job": f"job{i}", "run_id": f"r{i}", "status": "passed"})
    result = _invoke("audit", "verify", "--file", path)
    assert result.exit_code == 0 and "OK: 5 entries" in result.output
    result = _invoke("audit", "show", "-n", "2", "--file", path)
    assert result.exit_code == 0 and "job4" in result.output and "job3" in result.output and "job2" not in result.output
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace("job2", "jobX")
    path.write_text("".join(lines))
    result = _invoke("audit", "verify", "--file", path)
    assert result.exit_code == 1
    assert "BROKEN: entry 3 was changed" in result.output


def test_audit_truncation_without_head_fails_until_a_recorded_rebuild(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for i in range(5):
        log.append("run.finished", {"job": f"job{i}"})
    ok = _invoke("audit", "verify", "--file", path)
    assert ok.exit_code == 0 and "matches its head file" in ok.output
    assert ok.output.count("not signed") == 1  # said once
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:3]))
    log.head_path.unlink()
    broken = _invoke("audit", "verify", "--file", path)
    assert broken.exit_code == 1
    out = " ".join(broken.output.split())
    assert "BROKEN: the head file audit.jsonl.head is missing while the log holds 3 entries" in out
    assert "galaxy audit rebuild-head" in out
    rebuilt = _invoke("audit", "rebuild-head", "--file", path, "--reason", "restored from backup")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Head rebuilt from entry 3; recorded as entry 4 (audit.head_rebuilt" in " ".join(rebuilt.output.split())
    entry = log.tail(1)[0]
    assert entry.kind == HEAD_REBUILT and entry.payload["reason"] == "restored from backup"
    assert _invoke("audit", "verify", "--file", path).exit_code == 0
    again = _invoke("audit", "rebuild-head", "--file", path)
    assert again.exit_code == 0 and "nothing to rebuild" in again.output


def test_audit_signed_head_needs_the_key(tmp_path, monkeypatch):
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv(AUDIT_KEY_ENV, "k1")
    AuditLog(path).append("run.finished", {"job": "a"})
    ok = _invoke("audit", "verify", "--file", path)
    assert ok.exit_code == 0 and "matches its signed head file" in ok.output and "Note" not in ok.output
    monkeypatch.setenv(AUDIT_KEY_ENV, "k2")
    wrong = _invoke("audit", "verify", "--file", path)
    assert wrong.exit_code == 1 and "does not match GALAXY_AUDIT_KEY" in wrong.output
    monkeypatch.delenv(AUDIT_KEY_ENV)
    without = _invoke("audit", "verify", "--file", path)
    assert without.exit_code == 1 and "GALAXY_AUDIT_KEY is not set" in " ".join(without.output.split())
    refused = _invoke("audit", "rebuild-head", "--file", path)  # no silent downgrade to an unsigned head
    assert refused.exit_code == 2 and "Error (AuditError)" in refused.output and "is signed" in refused.output
    assert "hmac_sha256" in AuditLog(path).head_path.read_text()


# -- ingest ------------------------------------------------------------------------------------
def test_ingest_a_three_column_spend_file_with_a_channel_map(tmp_path):
    csv = tmp_path / "costs.csv"
    csv.write_text("Date,Medium,Cost\n2024-01-01,Telly,100\n2024-01-01,Paid Search,50\n2024-01-08,Radio,5\n")
    channels = tmp_path / "channels.yaml"
    channels.write_text("tv: [Telly]\nsearch: [paid search]\n")
    store = tmp_path / "store"
    mapped = ("--table", "spend", "--data-dir", store, "--map", "week=Date", "--map", "channel=Medium")
    result = _invoke("ingest", csv, *mapped, "--map", "spend=Cost", "--channels", channels)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "3 rows read from costs.csv: 3 accepted into raw.spend, 0 quarantined." in out
    assert "geo = 'national', impressions = null (unknown), clicks = null (unknown)" in out
    assert f"Channels not in the channel map in {channels} (kept as they are): 'Radio'" in out
    stored = DataStore(store).read("raw", "spend")
    assert sorted(stored["channel"]) == ["Radio", "search", "tv"] and (stored["geo"] == "national").all()
    bad = _invoke("ingest", csv, *mapped, "--map", "spend=Cost", "--channels", tmp_path / "nope.yaml")
    assert bad.exit_code == 2 and "Channel map" in bad.output and "does not exist" in bad.output


def test_reports_rebuilds_the_index(tmp_path):
    result = _invoke("reports", "--reports-dir", tmp_path)
    assert result.exit_code == 0 and "no runs yet" in result.output
    assert (tmp_path / "index.html").exists() and json.loads((tmp_path / "index.json").read_text())["runs"] == []


# -- real runs ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_run_prints_the_folder_and_status(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump({"mode": "pass", "value": 2}))
    result = _invoke("run", TINY, "-f", params, "-p", "value", "7", "--job", "cli_run", "--reports-dir", tmp_path)
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output and "folder:" in result.output
    [run_dir] = list((tmp_path / "cli_run").iterdir())
    assert str(run_dir) in result.output
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["parameters"] == {"mode": "pass", "value": 7}  # -p overrides -f, parsed as an int
    assert json.loads((run_dir / "metrics.json").read_text())["metrics"]["value"] == 14

    failed = _invoke("run", TINY, "-p", "mode", "raise", "--job", "cli_fail", "--reports-dir", tmp_path)
    assert failed.exit_code == 1
    assert "FAILED" in failed.output and "ValueError: boom" in failed.output


@pytest.mark.slow
def test_schedule_all_exits_non_zero_when_a_job_fails(tmp_path):
    (tmp_path / "ok.yaml").write_text("mode: pass\n")
    (tmp_path / "bad.yaml").write_text("mode: raise\n")
    path = tmp_path / "schedule.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "notebooks_dir": str(FIXTURES),
                "reports_dir": str(tmp_path / "reports"),
                "jobs": [
                    {"name": "ok", "notebook": "tiny.ipynb", "cron": "0 6 * * *", "parameters": "ok.yaml"},
                    {"name": "bad", "notebook": "tiny.ipynb", "cron": "0 6 * * *", "parameters": "bad.yaml"},
                ],
            }
        )
    )
    result = _invoke("schedule", "--all", "--file", path)
    assert result.exit_code == 1, result.output
    assert "1 job(s) failed: bad" in result.output
    assert f"Index: {tmp_path / 'reports' / 'index.html'}" in result.output
    index = json.loads((tmp_path / "reports" / "index.json").read_text())
    assert {j: r["status"] for j, r in index["latest"].items()} == {"ok": "passed", "bad": "failed"}
    nothing = _invoke("schedule", "--once", "--file", path)  # --all recorded the current fire time
    assert nothing.exit_code == 0 and "No job is due" in nothing.output


@pytest.mark.slow
def test_world_build_then_ingest_with_quarantine(tmp_path):
    world = tmp_path / "world"
    result = _invoke("world", "build", "--size", "ci", "--out", world, "--seed", "7")
    assert result.exit_code == 0, result.output
    assert "World ready" in result.output and (world / "staged").is_dir() and (world / "curated").is_dir()
    assert json.loads((world / "world.json").read_text())["seed"] == 7
    again = _invoke("world", "build", "--size", "ci", "--out", world, "--seed", "7", "--if-missing")
    assert again.exit_code == 0 and "nothing to do" in again.output

    csv = tmp_path / "spend.csv"
    csv.write_text(
        "week,geo,channel,cost,impressions,clicks\n"
        "2031-01-06,north,tv,100,1000,10\n"
        "2031-01-13,north,tv,-5,1000,10\n"
        "someday,north,tv,5,1000,10\n"
    )
    missing = _invoke("ingest", csv, "--table", "spend", "--data-dir", world)
    assert missing.exit_code == 2
    assert "required column 'spend' missing" in missing.output and "--map spend=cost" in missing.output
    ok = _invoke("ingest", csv, "--table", "spend", "--data-dir", world, "--map", "spend=cost")
    assert ok.exit_code == 0, ok.output
    out = " ".join(ok.output.split())
    assert "3 rows read from spend.csv: 1 accepted into raw.spend, 2 quarantined" in out
    assert "negative" in out and "unparseable date" in out
    assert "quarantine/spend" in out
