"""The channel map: canonical names, case- and whitespace-blind matching, conflicts named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from galaxy_lib.core.channels import ChannelMap, channel_key, default_channels_path
from galaxy_lib.core.config import ConfigError
from galaxy_lib.core.contracts import MMM_CHANNELS, TOUCH_CHANNELS


def test_aliases_match_ignoring_case_and_whitespace() -> None:
    m = ChannelMap(channels={"tv": ["TV", "Television"], "search": ["Paid  Search"]})
    for name in ("TV", "tv ", " Television", "TELEVISION", "tv"):
        assert m.canonical(name) == "tv"
    assert m.canonical("paid search") == m.canonical(" PAID   SEARCH\t") == "search"
    assert m.knows("television") and not m.knows("radio")
    assert channel_key("  Paid \t Search ") == "paid search"


def test_unknown_names_are_kept_trimmed_and_listed() -> None:
    m = ChannelMap(channels={"tv": ["Television"]})
    assert m.canonical("  Radio ") == "Radio"
    assert m.unknown(["tv", "Radio ", "radio", "Radio", None, float("nan"), pd.NA, "", "  ", "Television"]) == [
        "Radio",
        "radio",
    ]


def test_an_alias_of_two_channels_is_refused_naming_both(tmp_path: Path) -> None:
    with pytest.raises(
        ValidationError,
        match=r"alias 'television' maps to two channels, 'tv' \(as 'Television'\) "
        r"and 'ctv'",
    ):
        ChannelMap(channels={"tv": ["Television"], "ctv": ["television"]})
    # a canonical name is an alias of itself: it may not be another channel's alias
    with pytest.raises(ValidationError, match="alias 'TV' maps to two channels, 'tv'"):
        ChannelMap(channels={"tv": [], "linear": ["TV"]})
    path = tmp_path / "channels.yaml"
    path.write_text("tv: [TV, Telly]\nctv: [' telly']\n")
    with pytest.raises(ConfigError) as exc:
        ChannelMap.load(path)
    assert str(path) in str(exc.value) and "'tv'" in str(exc.value) and "'ctv'" in str(exc.value)
    assert "keep it under one of them" in str(exc.value)


def test_empty_names_are_refused() -> None:
    with pytest.raises(ValidationError, match="channel 'tv' has an empty alias"):
        ChannelMap(channels={"tv": ["TV", " "]})
    with pytest.raises(ValidationError, match="canonical channel name is empty"):
        ChannelMap(channels={" ": ["TV"]})


def test_load_accepts_one_alias_or_none_and_names_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text("tv: Television\nradio:\nsearch: [SEA, 42]\n")
    m = ChannelMap.load(path)
    assert m.names == ("tv", "radio", "search")
    assert (m.canonical("television"), m.canonical("RADIO"), m.canonical("42")) == ("tv", "radio", "search")
    assert m.source == str(path)
    with pytest.raises(ConfigError, match="does not exist"):
        ChannelMap.load(tmp_path / "missing.yaml")
    path.write_text("tv: {a: b}\n")
    with pytest.raises(ConfigError, match="aliases of 'tv' must be a list of names"):
        ChannelMap.load(path)
    path.write_text("- tv\n- search\n")
    with pytest.raises(ConfigError, match="must contain a YAML mapping"):
        ChannelMap.load(path)


def test_apply_maps_a_column_and_keeps_missing_values() -> None:
    m = ChannelMap(channels={"tv": ["Television"]})
    text = pd.Series(["Television", " tv", None, "Radio "], dtype="string[pyarrow]", index=[5, 6, 7, 8])
    out = m.apply(text)
    assert out.tolist()[:2] == ["tv", "tv"] and out.tolist()[3] == "Radio"
    assert out.isna().tolist() == [False, False, True, False]
    assert out.dtype == text.dtype and list(out.index) == [5, 6, 7, 8]
    plain = m.apply(pd.Series(["Television", None]))
    assert plain.tolist() == ["tv", None]


def test_the_project_map_keeps_the_galaxy_world_names() -> None:
    path = default_channels_path()
    assert path is not None and path.name == "channels.yaml" and path.parent.name == "parameters"
    m = ChannelMap.default()
    world = (*MMM_CHANNELS, *TOUCH_CHANNELS)
    assert set(world) <= set(m.names)
    assert [m.canonical(c) for c in world] == list(world)
    assert m.canonical("TV") == m.canonical("Television") == "tv"


def test_without_a_project_map_names_are_only_trimmed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.setenv("GALAXY_HOME", str(tmp_path))
    assert default_channels_path() is None
    m = ChannelMap.default()
    assert (m.names, m.source, m.canonical(" TV ")) == ((), "", "TV")
