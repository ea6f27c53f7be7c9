"""Load and check the campaign table the uplift workflow reads.

Two ways in, one checked result (:class:`UpliftData`):

* the store at ``data_dir`` (a Galaxy world is built and staged there when it is
  empty): ``curated/uplift_features``, which holds only customers whose consent
  covers measurement; the store's personalisation consent at ``as_of`` decides
  who may be *targeted*, and the world's true uplift is joined when known;
* your own table (``data_path``): one row per customer with the arm, the
  outcome and the features named in the parameters. Customer ids are
  pseudonymised with ``GALAXY_PII_SALT`` before anything else happens.

Every check runs before a model is fitted and names the column and the fix
(:func:`check_campaign_table`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from galaxy_lib.core.config import resolve_path
from galaxy_lib.core.files import read_table_file
from galaxy_lib.governance.pseudonyms import get_salt, pseudonymise
from galaxy_lib.uplift.params import UpliftParams

__all__ = [
    "MIN_ROWS_PER_ARM_AND_SPLIT",
    "TARGETING_PURPOSE",
    "UpliftData",
    "UpliftDataError",
    "check_campaign_table",
    "load_uplift_data",
    "split_rows",
]

#: Consent purpose needed to be *targeted* with a model's scores (profiling and using it, TCF 5 and 6).
TARGETING_PURPOSE = "personalisation"
#: Fewest rows of each arm in each of the training and held-out splits.
MIN_ROWS_PER_ARM_AND_SPLIT = 30


class UpliftDataError(ValueError):
    """The campaign table cannot be modelled as it is; the message names the column and the fix."""


def _rows(mask: pd.Series | np.ndarray, limit: int = 5) -> str:
    """Name the rows where ``mask`` holds, counting data rows from 1 (a file's line is one more, its header)."""
    positions = np.flatnonzero(np.asarray(mask)) + 1
    shown = ", ".join(str(int(p)) for p in positions[:limit])
    return f"data row(s) {shown}" + (f" and {len(positions) - limit:,} more" if len(positions) > limit else "")


def check_campaign_table(
    df: pd.DataFrame,
    treatment_column: str,
    control_label: str,
    outcome_column: str,
    outcome_type: str,
    features: list[str],
    test_share: float = 0.3,
) -> None:
    """Refuse a table no uplift model should be fitted on, naming the column and the fix.

    Checks, in order: the named columns exist; arms and outcomes have no blanks;
    the control label is one of the arms and there is at least one other; a
    binary outcome holds only 0 and 1; features have no blanks and are not
    constant; every arm has :data:`MIN_ROWS_PER_ARM_AND_SPLIT` rows in both the
    training and the held-out split.

    Raises
    ------
    UpliftDataError
    """
    named = {"treatment_column": treatment_column, "outcome_column": outcome_column}
    for param, col in named.items():
        if col not in df.columns:
            raise UpliftDataError(
                f"{param} {col!r} is not a column of the table; its columns are {list(df.columns)}. Set {param}."
            )
    missing = [c for c in features if c not in df.columns]
    if missing:
        raise UpliftDataError(
            f"feature_columns {missing} are not in the table; its columns are {list(df.columns)}. "
            "Fix feature_columns (empty means the Galaxy world's features)."
        )
    for col in (treatment_column, outcome_column):
        blank = df[col].isna()
        if blank.any():
            raise UpliftDataError(f"column {col!r} is blank in {_rows(blank)}; fill or drop those rows.")
    arms = sorted(df[treatment_column].astype(str).unique())
    if control_label not in arms:
        raise UpliftDataError(
            f"control_label {control_label!r} is not an arm of column {treatment_column!r} (its arms: {arms}); "
            "set control_label to the arm that was not contacted."
        )
    if len(arms) < 2:
        raise UpliftDataError(
            f"column {treatment_column!r} has only one arm ({arms[0]!r}); an uplift model compares a control "
            "with at least one treated arm. Check the table holds the whole experiment."
        )
    if outcome_type == "binary":
        values = pd.to_numeric(df[outcome_column], errors="coerce")
        bad = ~values.isin([0, 1])
        if bad.any():
            examples = sorted(map(str, df.loc[bad, outcome_column].unique()[:3]))
            raise UpliftDataError(
                f"outcome {outcome_column!r} is declared binary but holds {examples} in {_rows(bad)}; "
                "recode it to 0/1 or set outcome_type: continuous."
            )
    elif not pd.api.types.is_numeric_dtype(df[outcome_column]):
        raise UpliftDataError(f"outcome {outcome_column!r} must be numeric for outcome_type continuous.")
    for col in features:
        blank = df[col].isna()
        if blank.any():
            raise UpliftDataError(
                f"feature {col!r} is blank in {_rows(blank)}; fill those values or leave {col!r} out of "
                "feature_columns."
            )
        if df[col].nunique() < 2:
            raise UpliftDataError(
                f"feature {col!r} is constant ({df[col].iloc[0]!r}), so it cannot tell customers apart; "
                "remove it from feature_columns."
            )
    counts = df[treatment_column].astype(str).value_counts()
    need = int(np.ceil(MIN_ROWS_PER_ARM_AND_SPLIT / min(test_share, 1 - test_share)))
    small = {arm: int(n) for arm, n in counts.items() if n < need}
    if small:
        raise UpliftDataError(
            f"arm(s) {small} of column {treatment_column!r} have too few rows: at test_share {test_share:g} each "
            f"arm needs {need:,} rows for {MIN_ROWS_PER_ARM_AND_SPLIT} in both splits. Collect more rows, merge "
            "arms, or drop the arm from the table."
        )


@dataclass(frozen=True, eq=False)
class UpliftData:
    """The checked campaign table and what the report says about it.

    Attributes
    ----------
    frame
        ``customer_key`` (pseudonymised), the arm (``treatment_column``), the outcome,
        the features, and the A/B metrics and covariates that exist.
    params
        The parameters it was loaded with.
    arms
        Treated arms (sorted).
    features
        The feature columns the models use: ``feature_columns``, or the Galaxy
        world's features the table has values for.
    targetable
        Per row: may this customer be targeted (personalisation consent at ``as_of``)?
    consent_note
        One sentence on who was excluded from targeting and why.
    truth
        True ``base`` and uplift per arm (columns named by arm), row-aligned with
        ``frame``, for a Galaxy world; else ``None``.
    source
        Where the rows came from.
    left_out
        Rows of the experiment not in ``frame`` and why (for a store).
    """

    frame: pd.DataFrame
    params: UpliftParams
    arms: tuple[str, ...]
    features: tuple[str, ...]
    targetable: np.ndarray
    consent_note: str
    truth: pd.DataFrame | None
    source: str
    left_out: dict[str, int]

    @property
    def control(self) -> str:
        """The control arm label."""
        return self.params.control_label

    @property
    def treatment(self) -> np.ndarray:
        """Arm label of every row."""
        return self.frame[self.params.treatment_column].to_numpy(dtype=str)

    @property
    def outcome(self) -> np.ndarray:
        """The outcome of every row."""
        return self.frame[self.params.outcome_column].to_numpy(dtype=float)

    def summary(self) -> dict[str, Any]:
        """Return the counts for the report (the ``inputs`` of ``metrics.json``)."""
        counts = self.frame[self.params.treatment_column].value_counts()
        return {
            "source": self.source,
            "rows": len(self.frame),
            "arms": {str(a): int(counts.get(a, 0)) for a in (self.control, *self.arms)},
            "outcome": self.params.outcome_column,
            "outcome_type": self.params.outcome_type,
            "features": list(self.features),
            "targetable": int(self.targetable.sum()),
            "not_targetable": int((~self.targetable).sum()),
            "left_out": dict(self.left_out),
            "truth_known": self.truth is not None,
        }


def split_rows(treatment: np.ndarray, test_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training and held-out rows, stratified by arm (each arm split in the same shares)."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(treatment), dtype=bool)
    for arm in np.unique(treatment):
        rows = np.flatnonzero(treatment == arm)
        test[rng.choice(rows, size=round(len(rows) * test_share), replace=False)] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def _from_store(params: UpliftParams) -> tuple[pd.DataFrame, np.ndarray, str, pd.DataFrame | None, dict[str, int]]:
    from galaxy_lib.pipeline.curated import consented_customers
    from galaxy_lib.pipeline.staging import salt_for_store
    from galaxy_lib.simulate import ensure_world

    store = ensure_world(params.data_dir, size=params.world_size, progress=False)
    if not store.exists("curated", "uplift_features"):
        raise UpliftDataError(
            f"the store at {params.data_dir!r} has no curated/uplift_features: it needs an email_experiment "
            "table (ingest one with `galaxy ingest`) or give data_path."
        )
    frame = store.read("curated", "uplift_features")
    n_experiment = int(store.query("SELECT count(*) AS n FROM staged.email_experiment")["n"].iloc[0])
    as_of = pd.Timestamp(params.as_of) if params.as_of else None
    allowed = set(consented_customers(store, TARGETING_PURPOSE, as_of)["customer_key"])
    targetable = frame["customer_key"].isin(allowed).to_numpy()
    when = f"at {as_of:%Y-%m-%d}" if as_of is not None else "now"
    note = (
        f"{int((~targetable).sum()):,} of {len(frame):,} customers lack {TARGETING_PURPOSE} consent {when} "
        "(or withdrew it): they help measure the campaign but are never scored for targeting."
    )
    truth = None
    truth_file = store.root / "truth" / "uplift.parquet"
    if truth_file.is_file():
        raw = pd.read_parquet(truth_file)
        with warnings.catch_warnings():  # staging has said so already if the demo salt is in use
            warnings.simplefilter("ignore", UserWarning)
            salt = salt_for_store(store)
        raw["customer_key"] = pseudonymise(raw.pop("customer_id"), salt)
        aligned = frame[["customer_key"]].merge(raw, on="customer_key", how="left", validate="one_to_one")
        truth = aligned.drop(columns=["customer_key", "latent"], errors="ignore").rename(
            columns=lambda c: c.removeprefix("tau_")
        )
    left_out = {"no measurement consent or no customer row": n_experiment - len(frame)}
    return frame, targetable, note, truth, left_out


def _from_file(params: UpliftParams) -> tuple[pd.DataFrame, np.ndarray, str]:
    path = resolve_path(params.data_path)
    frame = read_table_file(path)
    if params.id_column:
        if params.id_column not in frame.columns:
            raise UpliftDataError(
                f"id_column {params.id_column!r} is not a column of {path.name}; its columns are "
                f"{list(frame.columns)}. Set id_column, or leave it empty to number the rows."
            )
        ids = frame[params.id_column]
        if ids.isna().any() or (ids.astype(str).str.strip() == "").any():
            blank = ids.isna() | (ids.astype(str).str.strip() == "")
            raise UpliftDataError(
                f"id_column {params.id_column!r} is blank in {_rows(blank)}; every customer needs an id "
                "(fill them, or leave id_column empty to number the rows)."
            )
        if ids.duplicated().any():
            raise UpliftDataError(
                f"id_column {params.id_column!r} repeats ids in {_rows(ids.duplicated(keep=False))}: a customer "
                "belongs to one arm of an experiment once. Remove the repeated rows (a customer contacted twice "
                "belongs to a different design)."
            )
        frame["customer_key"] = pseudonymise(frame.pop(params.id_column), get_salt())
    else:
        frame["customer_key"] = [f"row_{i:07d}" for i in range(1, len(frame) + 1)]
    if params.targeting_consent_column:
        col = params.targeting_consent_column
        if col not in frame.columns or not frame[col].isin([0, 1, True, False]).all():
            raise UpliftDataError(
                f"targeting_consent_column {col!r} must be a 0/1 column of {path.name} (1 = may be targeted)."
            )
        targetable = frame[col].astype(bool).to_numpy()
        note = f"{int((~targetable).sum()):,} of {len(frame):,} rows may not be targeted ({col} = 0)."
    else:
        targetable = np.ones(len(frame), dtype=bool)
        note = (
            "No targeting_consent_column was given, so consent was not checked: remove customers "
            "who may not be targeted before using the contact list."
        )
    return frame, targetable, note


def load_uplift_data(params: UpliftParams) -> UpliftData:
    """Load, check and describe the campaign table (see the module docstring).

    Parameters
    ----------
    params
        The notebook's validated parameters.

    Returns
    -------
    UpliftData

    Raises
    ------
    UpliftDataError
        When the table cannot be modelled (:func:`check_campaign_table`).
    """
    truth, left_out = None, {}
    if params.data_path:
        frame, targetable, note = _from_file(params)
        source = f"campaign table {resolve_path(params.data_path).name}"
    else:
        frame, targetable, note, truth, left_out = _from_store(params)
        source = f"uplift_features of the store {resolve_path(params.data_dir).name}"
    features = params.features
    if not params.feature_columns:  # the world's features this table has (an experiment without a pre-period)
        features = [c for c in features if c in frame.columns and frame[c].notna().any()]
    check_campaign_table(
        frame,
        params.treatment_column,
        params.control_label,
        params.outcome_column,
        params.outcome_type,
        features,
        params.test_share,
    )
    frame[params.treatment_column] = frame[params.treatment_column].astype(str)
    arms = tuple(sorted(a for a in frame[params.treatment_column].unique() if a != params.control_label))
    if truth is not None and (set(truth.columns) != {"base", *arms} or truth.isna().any().any()):
        truth = None  # the store's rows are not (all) the simulated experiment's
    return UpliftData(
        frame.reset_index(drop=True), params, arms, tuple(features), targetable, note, truth, source, left_out
    )
