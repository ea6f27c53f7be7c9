"""Run ids, parameter hashes, code version, input fingerprints and the run manifest."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
import subprocess

import pandas as pd
import pytest

from galaxy_lib.core.registry import (
    RunManifest,
    code_version,
    file_fingerprint,
    folder_fingerprint,
    input_fingerprints,
    new_run_id,
    parameters_hash,
)
from galaxy_lib.core.store import DataStore


def test_run_ids_are_sortable_timestamps_and_unique():
    t = dt.datetime(2026, 11, 28, 23, 15, 0, tzinfo=dt.UTC)
    rid = new_run_id(t)
    assert re.fullmatch(r"20261128T231500Z-[0-9a-f]{6}", rid)
    later = new_run_id(t + dt.timedelta(seconds=1))
    assert sorted([later, rid]) == [rid, later]
    assert len({new_run_id(t) for _ in range(200)}) == 200


def test_parameters_hash_is_canonical():
    a = {"draws": 500, "channels": ["tv", "search"], "nested": {"x": 1.5, "y": None}}
    b = {"nested": {"y": None, "x": 1.5}, "channels": ["tv", "search"], "draws": 500}
    assert parameters_hash(a) == parameters_hash(b)
    assert (
        parameters_hash(a) == hashlib.sha256(json.dumps(a, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    )
    assert parameters_hash(a) != parameters_hash({**a, "draws": 501})


def test_code_version_in_the_repository():
    info = code_version()
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert info["commit"] == head
    assert isinstance(info["dirty"], bool)
    assert info["package_version"]


def test_code_version_outside_git_falls_back_to_the_package_version(tmp_path):
    info = code_version(tmp_path)
    assert info["commit"] is None and info["dirty"] is None and info["package_version"]


def test_parquet_fingerprint_reads_the_footer_and_tracks_content(tmp_path):
    store = DataStore(tmp_path)
    store.write("raw", "spend", pd.DataFrame({"spend": [1.0, 2.0, 3.0]}))
    part = store.table_dir("raw", "spend") / "part-00000.parquet"
    fp = file_fingerprint(part)
    assert fp["method"] == "parquet-footer" and fp["size"] == part.stat().st_size
    raw = part.read_bytes()
    footer_len = int.from_bytes(raw[-8:-4], "little")
    assert fp["sha256"] == hashlib.sha256(raw[-(footer_len + 8) :]).hexdigest()
    store.write("raw", "spend", pd.DataFrame({"spend": [1.0, 2.0, 4.0]}))  # same shape, new values
    assert file_fingerprint(part)["sha256"] != fp["sha256"]


def test_other_files_are_hashed_in_full(tmp_path):
    p = tmp_path / "ground_truth.json"
    p.write_text('{"a": 1}')
    fp = file_fingerprint(p)
    assert fp["method"] == "full" and fp["sha256"] == hashlib.sha256(b'{"a": 1}').hexdigest()


def test_input_fingerprints_cover_zones_and_skip_locks_and_tmp(tmp_path):
    store = DataStore(tmp_path)
    store.write("raw", "spend", pd.DataFrame({"spend": [1.0]}))
    store.write("staged", "spend", pd.DataFrame({"spend": [1.0]}))
    (tmp_path / "ground_truth.json").write_text("{}")
    (tmp_path / "staged" / "spend.tmp").mkdir()
    (tmp_path / "staged" / "spend.tmp" / "part-00000.parquet").write_bytes(b"half written")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "logo.png").write_bytes(b"png")
    fps = input_fingerprints(tmp_path)
    assert sorted(fps) == ["ground_truth.json", "raw/spend/part-00000.parquet", "staged/spend/part-00000.parquet"]
    assert input_fingerprints(tmp_path / "missing") == {} and input_fingerprints(None) == {}


def _manifest(**over) -> RunManifest:
    base = dict(
        run_id="20261128T231500Z-3fa2c1",
        job="mmm",
        notebook="02_mmm.ipynb",
        parameters={"draws": 500},
        parameters_hash=parameters_hash({"draws": 500}),
        code_version={"commit": "abc", "dirty": False},
        input_fingerprints={},
        outputs=("metrics.json",),
        started_at="2026-11-28T23:15:00+00:00",
        finished_at="2026-11-28T23:16:00+00:00",
        duration_s=60.0,
        status="passed",
    )
    return RunManifest(**{**base, **over})


def test_manifest_round_trips_through_json():
    m = _manifest(error={"kind": "timeout", "message": "timed out after 5 s"})
    back = RunManifest.from_dict(json.loads(json.dumps(m.to_dict())))
    assert back == m
    with pytest.raises(ValueError, match="Unknown manifest field"):
        RunManifest.from_dict({**m.to_dict(), "colour": "red"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.status = "failed"  # type: ignore[misc]


def test_every_parameter_naming_a_file_or_folder_is_fingerprinted(tmp_path):
    (tmp_path / "paths.csv").write_text("a\n1\n")
    lift = tmp_path / "lift"
    (lift / "sub").mkdir(parents=True)
    (lift / "a.csv").write_text("x\n")
    (lift / "sub" / "b.csv").write_text("yy\n")
    (lift / ".ipynb_checkpoints").mkdir()
    (lift / ".ipynb_checkpoints" / "a-checkpoint.csv").write_text("ignored\n")
    params = {
        "data_path": str(tmp_path / "paths.csv"),
        "lift_tests_path": str(lift),
        "incremental_path": "latest:mmm",
        "note": "not a path",
        "draws": 500,
        "output_dir": str(tmp_path),  # the run's own folder: not an input
        "data_dir": str(tmp_path),  # the store: fingerprinted by its zones
    }
    fps = input_fingerprints(None, params)
    assert sorted(fps) == ["param:data_path", "param:incremental_path", "param:lift_tests_path"]
    assert fps["param:data_path"]["kind"] == "file" and fps["param:data_path"]["path"] == params["data_path"]
    assert fps["param:data_path"]["sha256"] == file_fingerprint(tmp_path / "paths.csv")["sha256"]
    folder = fps["param:lift_tests_path"]
    assert (folder["kind"], folder["files"], folder["size"], folder["method"]) == ("folder", 2, 5, "listing")
    assert fps["param:incremental_path"] == {"kind": "reference", "value": "latest:mmm"}
    (lift / "sub" / "b.csv").write_text("yyy\n")  # a file rewritten: size and mtime change
    assert input_fingerprints(None, params)["param:lift_tests_path"]["sha256"] != folder["sha256"]


def test_a_folder_fingerprint_is_bounded(tmp_path):
    for i in range(5):
        (tmp_path / f"{i}.csv").write_text("x")
    fp = folder_fingerprint(tmp_path, limit=3)
    assert fp["files"] == 3 and fp["truncated"] is True
    assert "truncated" not in folder_fingerprint(tmp_path)
