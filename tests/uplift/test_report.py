"""The notebook's steps on a ci world, published: metrics, gates, tables, registry, CUPED and the SRM guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_lib import uplift
from galaxy_lib.core.metrics import read_metrics
from galaxy_lib.experiments import SampleRatioMismatch
from galaxy_lib.experiments.registry import ExperimentRegistry
from galaxy_lib.schemas.uplift import UpliftMetrics
from galaxy_lib.uplift import analysis
from galaxy_lib.uplift.data import UpliftData
from galaxy_lib.uplift.params import UpliftParams
from galaxy_lib.uplift.report import FIGURES, publish

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from galaxy_lib.simulate import ensure_world

    root = tmp_path_factory.mktemp("uplift_report") / "ci"
    ensure_world(root, size="ci", progress=False)
    params = UpliftParams(
        data_dir=str(root),
        learners=["s", "t", "x"],
        n_bootstrap=100,
        output_dir=str(tmp_path_factory.mktemp("run")),
    )
    data = uplift.load_uplift_data(params)
    readout = analysis.read_out_campaign(data, alpha=0.1)
    fit = analysis.fit_and_compare(data, progress=False)
    plan = analysis.plan_targeting(data, fit)
    geo = analysis.read_out_geo_tests(params.data_dir, draws=200, progress=False)
    experiment = analysis.register_campaign(data, readout)
    path = publish(params.output_dir, data, readout, fit, plan, geo_tests=geo, experiment=experiment)
    return {"data": data, "readout": readout, "fit": fit, "plan": plan, "geo": geo, "path": Path(path), "root": root}


def test_metrics_json_is_typed_and_complete(run: dict) -> None:
    doc = read_metrics(run["path"], UpliftMetrics)
    m = doc.metrics
    assert m.chosen_model == run["fit"].chosen
    assert set(m.learners) == {"s", "t", "x", "ensemble"} and set(m.learners["s"]) == {"coupon", "email"}
    assert all(v.pehe is not None for arms in m.learners.values() for v in arms.values())  # the world's truth
    assert set(m.ate) == {"converted", "revenue"} and set(m.ate["converted"]) == {"coupon", "email"}
    assert {"uplift targeting", "no contact", "everyone: email", "propensity: coupon"} <= set(m.policies)
    assert m.policies["uplift targeting"].true_profit is not None
    assert m.population == int(run["data"].targetable.sum())
    assert sum(m.contacts.values()) == len(run["plan"].contact_list)
    assert m.experiment_id == "spring-campaign" and m.experiment_status in ("significant", "inconclusive")
    assert m.geo_tests is not None and len(m.geo_tests) >= 6
    assert {g.gate for g in doc.gates} == {"uplift_beats_random", "uplift_policy_loss_risk"}


def test_tables_and_the_contact_list_hold_pseudonymised_keys_only(run: dict) -> None:
    folder = run["path"].parent
    for name in ("ab_readout", "learner_comparison", "uplift_deciles", "policy_comparison", "geo_lift_tests"):
        assert (folder / f"{name}.csv").is_file(), name
    contacts = pd.read_csv(folder / "contact_list.csv")
    assert contacts["customer_key"].str.match(r"k_[0-9a-f]{16}$").all()
    raw_ids = set(pd.read_parquet(run["root"] / "raw" / "customers")["customer_id"])
    text = "".join(p.read_text(errors="replace") for p in folder.iterdir() if p.suffix in (".csv", ".json"))
    assert not any(cid in text for cid in list(raw_ids)[:500])
    # only customers with personalisation consent are on the list
    allowed = set(run["data"].frame["customer_key"][run["data"].targetable])
    assert set(contacts["customer_key"]) <= allowed


def test_geo_rows_for_the_mmm_have_the_sign_of_their_spend_change(run: dict) -> None:
    rows = pd.read_csv(run["path"].parent / "geo_lift_tests.csv")
    assert (np.sign(rows["delta_x"]) == np.sign(rows["delta_y"])).all()
    covered = (
        (run["geo"]["delta_y_low"] <= run["geo"]["true_delta_y"])
        & (run["geo"]["true_delta_y"] <= run["geo"]["delta_y_high"])
    ).mean()
    assert covered >= 0.8


def test_the_campaign_is_registered_once_with_its_readout(run: dict) -> None:
    registry = ExperimentRegistry(run["root"])
    experiment = registry.get("spring-campaign")
    assert experiment.readout is not None and {a.arm for a in experiment.readout.arms} == {"coupon", "email"}
    assert [c.new for c in experiment.history][:1] == ["running"]
    again = analysis.register_campaign(run["data"], run["readout"])  # the next scheduled run
    assert again == (experiment.id, experiment.status)
    assert len(registry.get("spring-campaign").history) == len(experiment.history)
    assert registry.verify().ok


def test_a_relative_data_dir_is_the_project_roots_whatever_the_working_folder(
    run: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notebook kernels run in their run folder: the registry must still land in the store, not beside the kernel."""
    import os

    from galaxy_lib.core.paths import find_project_root

    relative = os.path.relpath(run["root"], find_project_root())
    monkeypatch.chdir(tmp_path)
    assert analysis.register_campaign(_with(run["data"], data_dir=relative), run["readout"])[0] == "spring-campaign"
    assert not any(tmp_path.rglob("experiments"))


def test_cuped_narrows_the_intervals_on_the_worlds_data(run: dict) -> None:
    data: UpliftData = run["data"]
    plain = analysis.read_out_campaign(_with(data, cuped_covariates={}), alpha=0.1)
    with_cuped = run["readout"]
    for r_plain, r_cuped in zip(plain.readouts, with_cuped.readouts, strict=True):
        assert (r_plain.metric, r_plain.arm) == (r_cuped.metric, r_cuped.arm)
        assert r_cuped.variance_reduction is not None and r_cuped.variance_reduction > 0.02
        assert r_cuped.diff_high - r_cuped.diff_low < r_plain.diff_high - r_plain.diff_low


def test_a_broken_split_stops_the_readout(run: dict) -> None:
    data: UpliftData = run["data"]
    frame = data.frame
    drop = frame.index[(frame["treatment"] == "coupon")][: len(frame) // 8]  # lose an eighth of the rows, one arm
    broken = UpliftData(frame.drop(drop).reset_index(drop=True), *_rest(data))
    with pytest.raises(SampleRatioMismatch, match="sample-ratio mismatch"):
        analysis.read_out_campaign(broken)


def test_publish_refuses_an_unknown_figure(run: dict, tmp_path: Path) -> None:
    r = run
    with pytest.raises(ValueError, match="unknown figure"):
        publish(tmp_path, r["data"], r["readout"], r["fit"], r["plan"], figures={"qini": None})
    assert "qini_curves" in FIGURES


def _with(data: UpliftData, **changes: object) -> UpliftData:
    params = data.params.model_copy(update=changes)
    return UpliftData(data.frame, params, *_rest(data)[1:])


def _rest(data: UpliftData) -> tuple:
    return (
        data.params,
        data.arms,
        data.features,
        data.targetable,
        data.consent_note,
        data.truth,
        data.source,
        data.left_out,
    )
