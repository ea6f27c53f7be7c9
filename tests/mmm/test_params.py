"""MMMParams repeats the model and sampler fields flat (the notebook's parameter cell); they must not drift."""

from __future__ import annotations

from galaxy_lib.mmm import MMMConfig, MMMParams


def test_shared_fields_keep_the_library_defaults() -> None:
    shared = set(MMMParams.model_fields) & set(MMMConfig.model_fields)
    assert {"adstock", "l_max", "saturation", "trend", "chains", "tune", "draws", "target_accept"} <= shared
    drifted = {name: (MMMParams.model_fields[name].default, MMMConfig.model_fields[name].default)
               for name in shared if MMMParams.model_fields[name].default != MMMConfig.model_fields[name].default}
    assert drifted == {}, f"MMMParams defaults differ from MMMConfig's: {drifted}"


def test_model_config_carries_every_shared_field() -> None:
    params = MMMParams(target_accept=0.8, l_max=6, chains=3)
    cfg = params.to_model_config()
    for name in set(MMMParams.model_fields) & set(MMMConfig.model_fields):
        assert getattr(cfg, name) == getattr(params, name), name
