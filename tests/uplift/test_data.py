"""The campaign table: every check names the column or parameter and the fix; ids, consent and truth on loading.

A user's table is written from :func:`galaxy_lib.simulate.uplift.simulate_campaign`; the store
path reads one ci world (built once for this module), checked against the store's consent
records and the world's ``truth/uplift.parquet``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.pseudonyms import pseudonymise
from galaxy_lib.pipeline.curated import consented_customers
from galaxy_lib.pipeline.staging import salt_for_store
from galaxy_lib.simulate.uplift import TAU_COEFS, simulate_campaign
from galaxy_lib.uplift.data import (
    MIN_ROWS_PER_ARM_AND_SPLIT,
    UpliftData,
    UpliftDataError,
    check_campaign_table,
    load_uplift_data,
    split_rows,
)
from galaxy_lib.uplift.params import WORLD_FEATURES, UpliftParams

# The synthetic ci world is pseudonymised with the public demo salt; that warning is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:GALAXY_PII_SALT is not set")

SALT = "uplift-test-salt-0123456789"


@pytest.fixture(scope="module")
def campaign() -> tuple[pd.DataFrame, pd.DataFrame]:
    """600 simulated customers (about 200 per arm: enough for the 100 each arm needs at test_share 0.3)."""
    return simulate_campaign(600, seed=11)


@pytest.fixture()
def table(campaign: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return campaign[0].copy()


def check(df: pd.DataFrame, **changes: object) -> None:
    args: dict[str, object] = {
        "treatment_column": "treatment",
        "control_label": "control",
        "outcome_column": "converted",
        "outcome_type": "binary",
        "features": list(WORLD_FEATURES),
        "test_share": 0.3,
    }
    check_campaign_table(df, **{**args, **changes})


# --------------------------------------------------------------------------- check_campaign_table


def test_a_good_table_passes(table: pd.DataFrame) -> None:
    assert check(table) is None
    assert check(table, outcome_column="revenue", outcome_type="continuous") is None


def test_a_missing_treatment_column_is_named_with_the_parameter(table: pd.DataFrame) -> None:
    with pytest.raises(
        UpliftDataError, match=r"treatment_column 'arm' is not a column of the table; .*Set treatment_column"
    ):
        check(table, treatment_column="arm")
    with pytest.raises(UpliftDataError, match=r"outcome_column 'bought' is not a column .*Set outcome_column"):
        check(table, outcome_column="bought")


def test_a_treatment_column_with_one_arm(table: pd.DataFrame) -> None:
    table["treatment"] = "control"
    with pytest.raises(
        UpliftDataError,
        match=r"column 'treatment' has only one arm \('control'\); an uplift model compares a control with at "
        r"least one treated arm\. Check the table holds the whole experiment",
    ):
        check(table)


def test_an_unknown_control_label(table: pd.DataFrame) -> None:
    with pytest.raises(
        UpliftDataError,
        match=r"control_label 'holdout' is not an arm of column 'treatment' \(its arms: \['control', 'coupon', "
        r"'email'\]\); set control_label to the arm that was not contacted",
    ):
        check(table, control_label="holdout")


def test_a_binary_outcome_that_is_not_0_1_shows_the_values_and_rows(table: pd.DataFrame) -> None:
    table.loc[[3, 7], "converted"] = [2, 5]
    with pytest.raises(
        UpliftDataError,
        match=r"outcome 'converted' is declared binary but holds \['2', '5'\] in data row\(s\) 4, 8; recode it to 0/1 "
        r"or set outcome_type: continuous",
    ):
        check(table)
    table["converted"] = table["converted"].astype(object)
    table.loc[9, "converted"] = "yes"
    with pytest.raises(UpliftDataError, match=r"holds \['2', '5', 'yes'\] in data row\(s\) 4, 8, 10;"):
        check(table)
    check(table, outcome_column="revenue", outcome_type="continuous")  # the same table, another outcome


def test_a_continuous_outcome_must_be_numeric(table: pd.DataFrame) -> None:
    table["revenue"] = table["revenue"].astype(str) + " EUR"
    with pytest.raises(UpliftDataError, match=r"outcome 'revenue' must be numeric for outcome_type continuous"):
        check(table, outcome_column="revenue", outcome_type="continuous")


def test_a_missing_feature_column(table: pd.DataFrame) -> None:
    with pytest.raises(
        UpliftDataError,
        match=r"feature_columns \['loyalty_tier'\] are not in the table; its columns are \[.*'age'.*\]\. "
        r"Fix feature_columns \(empty means the Galaxy world's features\)",
    ):
        check(table, features=[*WORLD_FEATURES, "loyalty_tier"])


def test_a_blank_feature_names_the_rows(table: pd.DataFrame) -> None:
    table["age"] = table["age"].astype(float)
    table.loc[[4, 9], "age"] = np.nan
    with pytest.raises(
        UpliftDataError,
        match=r"feature 'age' is blank in data row\(s\) 5, 10; fill those values or leave 'age' out of feature_columns",
    ):
        check(table)
    table.loc[20:27, "age"] = np.nan  # ten blanks: five shown, the rest counted
    with pytest.raises(UpliftDataError, match=r"feature 'age' is blank in data row\(s\) 5, 10, 21, 22, 23 and 5 more;"):
        check(table)
    check(table, features=[f for f in WORLD_FEATURES if f != "age"])  # left out, the table passes


def test_a_constant_feature(table: pd.DataFrame) -> None:
    table["geo"] = "north"
    with pytest.raises(
        UpliftDataError,
        match=r"feature 'geo' is constant \('north'\), so it cannot tell customers apart; remove it from "
        r"feature_columns",
    ):
        check(table)


@pytest.mark.parametrize("column", ["treatment", "converted"])
def test_blanks_in_the_arm_or_outcome_column(table: pd.DataFrame, column: str) -> None:
    table[column] = table[column].astype(object)
    table.loc[2, column] = None
    with pytest.raises(
        UpliftDataError, match=rf"column '{column}' is blank in data row\(s\) 3; fill or drop those rows"
    ):
        check(table)


def test_too_few_rows_per_arm_for_the_split(table: pd.DataFrame) -> None:
    coupon = np.flatnonzero(table["treatment"] == "coupon")
    small = table.drop(index=coupon[50:]).reset_index(drop=True)
    need = int(np.ceil(MIN_ROWS_PER_ARM_AND_SPLIT / 0.3))
    assert need == 100
    with pytest.raises(
        UpliftDataError,
        match=r"arm\(s\) \{'coupon': 50\} of column 'treatment' have too few rows: at test_share 0\.3 each arm "
        r"needs 100 rows for 30 in both splits\. Collect more rows, merge arms, or drop the arm",
    ):
        check(small)
    # at test_share 0.5 an arm needs 60 rows; 50 are still too few, 60 are enough
    with pytest.raises(UpliftDataError, match=r"at test_share 0\.5 each arm needs 60 rows"):
        check(small, test_share=0.5)
    check(table.drop(index=coupon[60:]).reset_index(drop=True), test_share=0.5)


# --------------------------------------------------------------------------- split_rows


def test_split_rows_is_stratified_disjoint_complete_and_seeded(table: pd.DataFrame) -> None:
    treatment = table["treatment"].to_numpy()
    train, test = split_rows(treatment, 0.3, seed=4)
    assert len(np.intersect1d(train, test)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(treatment)))
    for arm in ("control", "email", "coupon"):
        n = int((treatment == arm).sum())
        assert int((treatment[test] == arm).sum()) == round(0.3 * n), arm
        assert int((treatment[train] == arm).sum()) == n - round(0.3 * n), arm
    again = split_rows(treatment, 0.3, seed=4)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)
    other = split_rows(treatment, 0.3, seed=5)
    assert not np.array_equal(other[1], test)


def test_split_rows_keeps_a_small_arm_in_both_splits() -> None:
    treatment = np.array(["control"] * 900 + ["email"] * 100)
    train, test = split_rows(treatment, 0.3, seed=0)
    assert (treatment[test] == "email").sum() == 30 and (treatment[train] == "email").sum() == 70


# --------------------------------------------------------------------------- your own table


def _write_csv(tmp_path: Path, df: pd.DataFrame) -> Path:
    path = tmp_path / "campaign.csv"
    df.to_csv(path, index=False)
    return path


def test_a_users_ids_are_pseudonymised_with_the_secret_salt(
    tmp_path: Path, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GALAXY_PII_SALT", SALT)
    path = _write_csv(tmp_path, table)
    data = load_uplift_data(UpliftParams(data_path=str(path), id_column="customer_id"))
    assert isinstance(data, UpliftData)
    raw = table["customer_id"]
    assert "customer_id" not in data.frame.columns
    assert data.frame["customer_key"].tolist() == pseudonymise(raw, SALT).tolist()  # the secret salt, row by row
    cells = set(data.frame.astype(str).to_numpy().ravel())
    assert not cells & set(raw), "a raw customer id is in the loaded frame"
    assert not any(re.search(r"C\d{8}", c) for c in cells)
    assert data.arms == ("coupon", "email") and data.control == "control"
    assert data.features == WORLD_FEATURES
    assert data.truth is None and data.left_out == {}
    # without a consent column everyone is targetable, and the note says consent was not checked
    assert data.targetable.all() and len(data.targetable) == len(table)
    assert "consent was not checked" in data.consent_note
    assert data.summary()["arms"] == table["treatment"].value_counts().to_dict()


def test_the_targeting_consent_column_decides_who_is_targetable(
    tmp_path: Path, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GALAXY_PII_SALT", SALT)
    table["may_target"] = (np.arange(len(table)) % 3 != 0).astype(int)
    path = _write_csv(tmp_path, table)
    data = load_uplift_data(
        UpliftParams(data_path=str(path), id_column="customer_id", targeting_consent_column="may_target")
    )
    assert np.array_equal(data.targetable, table["may_target"].to_numpy() == 1)
    n_no = int((table["may_target"] == 0).sum())
    assert data.consent_note == f"{n_no:,} of {len(table):,} rows may not be targeted (may_target = 0)."
    table.loc[5, "may_target"] = 2
    path = _write_csv(tmp_path, table)
    with pytest.raises(UpliftDataError, match=r"targeting_consent_column 'may_target' must be a 0/1 column"):
        load_uplift_data(
            UpliftParams(data_path=str(path), id_column="customer_id", targeting_consent_column="may_target")
        )
    with pytest.raises(UpliftDataError, match=r"targeting_consent_column 'consent' must be a 0/1 column"):
        load_uplift_data(UpliftParams(data_path=str(path), id_column="customer_id", targeting_consent_column="consent"))


def test_without_an_id_column_rows_are_numbered(tmp_path: Path, table: pd.DataFrame) -> None:
    path = _write_csv(tmp_path, table.drop(columns="customer_id"))
    data = load_uplift_data(UpliftParams(data_path=str(path), id_column=""))
    assert data.frame["customer_key"].tolist() == [f"row_{i:07d}" for i in range(1, len(table) + 1)]


def test_a_missing_id_column_names_the_parameter(tmp_path: Path, table: pd.DataFrame) -> None:
    path = _write_csv(tmp_path, table)
    with pytest.raises(
        UpliftDataError,
        match=r"id_column 'customer_key' is not a column of campaign\.csv; .*Set id_column, or leave it empty",
    ):
        load_uplift_data(UpliftParams(data_path=str(path)))  # the default id column is the store's


def test_a_users_bad_table_is_refused_before_anything_is_fitted(
    tmp_path: Path, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GALAXY_PII_SALT", SALT)
    table.loc[[1, 2], "converted"] = 3
    path = _write_csv(tmp_path, table)
    with pytest.raises(
        UpliftDataError, match=r"outcome 'converted' is declared binary but holds \['3'\] in data row\(s\) 2, 3"
    ):
        load_uplift_data(UpliftParams(data_path=str(path), id_column="customer_id"))


# --------------------------------------------------------------------------- the store's ci world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataStore, UpliftData]:
    """One ci world (seconds) and the campaign table loaded from it."""
    from galaxy_lib.simulate import ensure_world

    root = tmp_path_factory.mktemp("uplift_world") / "ci"
    store = ensure_world(root, size="ci", progress=False)
    return store, load_uplift_data(UpliftParams(data_dir=str(root)))


def test_the_store_targets_only_customers_with_personalisation_consent(world: tuple[DataStore, UpliftData]) -> None:
    store, data = world
    allowed = set(consented_customers(store, "personalisation")["customer_key"])
    keys = data.frame["customer_key"]
    assert np.array_equal(data.targetable, keys.isin(allowed).to_numpy())
    n_not = int((~data.targetable).sum())
    assert 0 < n_not < len(keys)  # the ci world has both
    assert data.consent_note.startswith(f"{n_not:,} of {len(keys):,} customers lack personalisation consent now")
    assert data.summary()["targetable"] == len(keys) - n_not


def test_the_stores_truth_is_aligned_row_by_row(world: tuple[DataStore, UpliftData]) -> None:
    store, data = world
    assert data.truth is not None and list(data.truth.columns) == ["base", "email", "coupon"]
    assert len(data.truth) == len(data.frame)
    raw = pd.read_parquet(store.root / "truth" / "uplift.parquet")
    raw["customer_key"] = pseudonymise(raw["customer_id"], salt_for_store(store))
    ours = raw[raw["customer_key"].isin(data.frame["customer_key"])]
    assert len(ours) == len(data.frame)
    for arm in ("email", "coupon"):
        assert data.truth[arm].mean() == pytest.approx(ours[f"tau_{arm}"].mean(), rel=1e-12)
    # row by row: each row's true uplift is the simulator's formula of that row's own features
    f = data.frame
    for arm in ("email", "coupon"):
        c = TAU_COEFS[arm]
        linear = (
            c["intercept"]
            + c["email_engagement"] * f["email_engagement"]
            + c["log1p_past_purchases"] * np.log1p(f["past_purchases"])
            + c["age_per_decade"] * (f["age"] - 45) / 10
            + c["log_aov_ratio"] * np.log(f["avg_order_value"] / 80)
            + f["segment"].map(lambda s, c=c: c[f"segment:{s}"])
        )
        expected = np.clip(linear.to_numpy(dtype=float), -0.9 * data.truth["base"].to_numpy(), 0.5)
        np.testing.assert_allclose(data.truth[arm].to_numpy(), expected, rtol=0, atol=1e-12, err_msg=arm)


def test_the_store_counts_experiment_rows_left_out(world: tuple[DataStore, UpliftData]) -> None:
    store, data = world
    experiment = store.read("staged", "email_experiment")["customer_key"]
    measured = set(consented_customers(store, "measurement")["customer_key"])
    customers = set(store.read("staged", "customers")["customer_key"])
    kept = experiment.isin(measured & customers)
    assert int(kept.sum()) == len(data.frame)
    assert data.left_out == {"no measurement consent or no customer row": int((~kept).sum())}
    assert data.left_out["no measurement consent or no customer row"] > 0
    assert set(data.frame["customer_key"]) <= measured
    assert data.source == "uplift_features of the store ci"
    assert data.features == WORLD_FEATURES


@pytest.mark.parametrize(
    ("change", "message"),
    [("blank", r"is blank in data row\(s\) 4;"), ("repeat", r"repeats ids in data row\(s\) 3, 4:")],
)
def test_a_users_ids_must_be_present_and_unique(
    tmp_path: Path, table: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, change: str, message: str
) -> None:
    monkeypatch.setenv("GALAXY_PII_SALT", "a-test-salt-of-enough-length")
    bad = table.copy()
    bad.loc[3, "customer_id"] = "" if change == "blank" else bad.loc[2, "customer_id"]
    path = _write_csv(tmp_path, bad)
    with pytest.raises(UpliftDataError, match=message):
        load_uplift_data(UpliftParams(data_path=str(path), id_column="customer_id"))
