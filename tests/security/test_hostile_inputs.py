"""Hostile files through ingestion and staging: nothing executes, nothing leaks, the store still reads.

Generated (property-based, derandomized, bounded) files carry adversarial headers
(quotes, semicolons, SQL that ends an identifier and runs a ``COPY``, unicode, empty,
duplicated and very long names), quoted fields with delimiters, quotes and line
breaks, control characters, huge fields, wrong encodings and e-mail addresses and
phone numbers in every column. Each file goes through :func:`ingest_file` and
:func:`stage_world`, then through every query the inventory makes. The promise:

* nothing executes: no file appears where an injected ``COPY`` would write it;
* a file that cannot be loaded raises a ``ValueError`` (``ContractError``,
  ``ConfigError``) naming the file, never anything else;
* every bad row is quarantined, and no quarantine reason holds an e-mail address,
  a phone number or a customer id;
* the store still reads (every table, every view).

The slow test at the end mixes hostile rows into a ci world and runs the scheduled
notebooks: no personal data of those rows may reach ``reports/``.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from galaxy_lib.core.quarantine import read_quarantine
from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.pii import redact_pii, scan_text
from galaxy_lib.inventory import profile_store, scan_store_tables
from galaxy_lib.inventory.analysis import quarantine_table
from galaxy_lib.pipeline.ingest import ingest_file
from galaxy_lib.pipeline.staging import stage_world
from tests.fixtures.raw_world import SALT

HOSTILE = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

EMAILS = ("jane.doe@example.com", "bob+tag@mail.example.org", "o'neil@example.co.uk")
PHONES = ("+44 7700 900123", "07700 900456", "(020) 7946 0958", "+1 (555) 123-4567")
PII = EMAILS + PHONES
ATTACK_FILE = "pwned.txt"


def _attacks(target: Path) -> list[str]:
    """Strings that would run SQL if a name or a value were pasted into a query."""
    return [
        f"v\" FROM (SELECT 1 AS \"v\") t; COPY (SELECT 'x') TO '{target}'; SELECT 'x' AS v --",
        f"'); COPY (SELECT 42) TO '{target}'; --",
        f"x' || (SELECT 1); COPY (SELECT 1) TO '{target}' --",
        "spend; DROP TABLE raw.spend; --",
        "\"; ATTACH ':memory:' AS evil; --",
        "1 OR 1=1",
    ]


FIXED_HEADERS = [
    "",
    " ",
    '"',
    "'",
    '""',
    "a;b",
    "a,b",
    "a\tb",
    "line\nbreak",
    "週のメモ",
    "émail",
    "🙂",
    "spend",  # a second column named like a contract column
    "week",
    "x" * 5000,
    "\x01ctrl\x7f",
    "name with spaces",
    "a.b",
    "Unnamed: 3",
]
header_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=30)
pii_value = st.sampled_from(PII)
junk_value = st.one_of(
    st.sampled_from(
        ["", " ", "NULL", "NaN", '"quoted, with comma"', 'a "b" c', "multi\nline", "semi;colon", "\x07bell"]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=20),
)


def _write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def _valid_spend_rows(n: int, start: str = "2031-01-06") -> list[list[str]]:
    weeks = pd.date_range(start, periods=n, freq="7D").strftime("%Y-%m-%d")
    return [[w, "tv", str(10 + i)] for i, w in enumerate(weeks)]


def _check_store(store: DataStore, root: Path) -> None:
    """Every reading path the inventory takes works; no injected COPY wrote anything."""
    store.tables()
    for info in store.tables(count_rows=False):
        store.read(info.zone, info.name)
        assert store.query(f'SELECT count(*) AS n FROM "{info.zone}"."{info.name}"')["n"].item() >= 0
    if store.tables(count_rows=False):
        profile_store(store)  # (which refuses an empty store, rightly)
    scan_store_tables(store)
    quarantine_table(store)
    assert not list(root.rglob(f"*{ATTACK_FILE}*")), "an injected COPY wrote a file"


def _assert_reasons_masked(store: DataStore, raw_values: tuple[str, ...] = PII) -> None:
    for info in store.tables(count_rows=False):
        if info.zone != "quarantine":
            continue
        for reason in read_quarantine(store, info.name)["_reason"].dropna():
            assert not any(v in reason for v in raw_values), f"raw PII in a quarantine reason: {redact_pii(reason)}"
            assert not [f for f in scan_text(reason) if f.kind in ("email", "phone")], redact_pii(reason)[:300]


def _ingest_or_clear_error(path: Path, table: str, store: DataStore) -> object | None:
    try:
        return ingest_file(path, table, store)
    except ValueError as err:  # ContractError and ConfigError are ValueErrors
        msg = str(err)
        assert path.name in msg or table in msg, f"the error does not name the file: {msg[:300]}"
        assert not any(v in msg for v in PII), "the error message shows personal data"
        return None


# --------------------------------------------------------------------------- headers


@HOSTILE
@given(
    extra=st.lists(st.one_of(st.sampled_from(FIXED_HEADERS), header_text, pii_value), min_size=1, max_size=4),
    values=st.lists(st.one_of(pii_value, junk_value), min_size=4, max_size=4),
)
def test_hostile_headers_are_names_never_sql(extra: list[str], values: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        target = root / ATTACK_FILE
        extra = [*extra, *_attacks(target)[:2]]
        rows = [[*r, *(values[i % len(values)] for i in range(len(extra)))] for r in _valid_spend_rows(3)]
        path = root / "spend.csv"
        _write_csv(path, ["week", "channel", "spend", *extra], rows)
        store = DataStore(root / "store")
        if any(v in h for h in extra for v in PII):  # a header holding personal data: no header row
            with pytest.raises(ValueError, match="no header row") as err:
                ingest_file(path, "spend", store)
            assert not any(v in str(err.value) for v in PII) and not store.tables()
            return
        result = ingest_file(path, "spend", store)  # odd names are still names: the file loads
        assert result.rows_accepted == 3  # extra columns are raw-only: their values are not checked
        assert len(store.read("raw", "spend").columns) >= 3 + len(set(extra))
        stage_world(store, SALT, progress=False)
        _check_store(store, root)
        _assert_reasons_masked(store)


# --------------------------------------------------------------------------- rows

spend_cell = {
    "week": st.one_of(st.sampled_from(["2031-02-03", "03/02/2031", "2031-13-45", "not a date"]), pii_value, junk_value),
    "channel": st.one_of(st.sampled_from(["tv", " Search ", "TV", "social"]), pii_value, junk_value),
    "spend": st.one_of(st.sampled_from(["10", "-5", "1e3", "12O.5", "1,5"]), pii_value, junk_value),
    "geo": st.one_of(st.sampled_from(["north", "national", ""]), pii_value, junk_value),
}
spend_row = st.fixed_dictionaries(spend_cell)


@HOSTILE
@given(rows=st.lists(spend_row, min_size=1, max_size=8), attack=st.integers(0, 5))
def test_hostile_rows_are_quarantined_with_masked_reasons(rows: list[dict[str, str]], attack: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        hostile = [[r["week"], r["geo"], r["channel"], r["spend"]] for r in rows]
        hostile.append(["2031-03-03", "north", _attacks(root / ATTACK_FILE)[attack], "1"])
        good = [[w, "south", "tv", s] for w, _, s in _valid_spend_rows(2, "2031-06-02")]
        path = root / "spend.csv"
        _write_csv(path, ["week", "geo", "channel", "spend"], hostile + good)
        store = DataStore(root / "store")
        result = _ingest_or_clear_error(path, "spend", store)
        if result is not None:
            assert result.rows_in == len(hostile) + len(good) == result.rows_accepted + result.rows_quarantined
            assert result.rows_accepted >= len(good)
            # a row holding personal data anywhere is quarantined: none reaches raw
            stored = store.read("raw", "spend")
            for col in ("week", "geo", "channel"):
                text = " ".join(stored[col].astype(str))
                assert not any(v in text for v in PII), f"personal data stored in raw.spend.{col}"
            stage_world(store, SALT, progress=False)
        _check_store(store, root)
        _assert_reasons_masked(store)


#: The customers contract's columns, in the order the generated files use.
CUSTOMER_COLUMNS = (
    "customer_id",
    "email",
    "phone",
    "geo",
    "signup_date",
    "age",
    "segment",
    "past_purchases",
    "avg_order_value",
    "email_engagement",
)
customer_cell = st.one_of(pii_value, junk_value, st.sampled_from(["C00000001", "acme-991", "north", "2022-01-01"]))


@HOSTILE
@given(cells=st.lists(st.lists(customer_cell, min_size=10, max_size=10), min_size=1, max_size=5))
def test_pii_in_every_column_of_a_customer_file(cells: list[list[str]]) -> None:
    """Customers: personal data where it belongs (email, phone) and everywhere else; ids of any form."""
    header = list(CUSTOMER_COLUMNS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        good = [["C00000042", "ok@example.com", "+44 7700 900999", "north", "2022-01-01", "30", "new", "1", "5", "0.1"]]
        path = root / "customers.csv"
        _write_csv(path, header, cells + good)
        store = DataStore(root / "store")
        result = _ingest_or_clear_error(path, "customers", store)
        ids = tuple(r[0] for r in cells if len(r[0]) > 5 and r[0].strip())
        if result is not None:
            stage_world(store, SALT, progress=False)
            staged = store.read("staged", "customers") if store.exists("staged", "customers") else pd.DataFrame()
            assert not {"customer_id", "email", "phone"} & set(staged.columns)
        _check_store(store, root)
        _assert_reasons_masked(store, PII + ids + ("ok@example.com",))


def test_a_file_without_a_header_row_is_refused_with_masked_names(tmp_path: Path) -> None:
    """The first customer became the header: its e-mail was a column name, shown in every profile and error."""
    path = tmp_path / "customers.csv"
    _write_csv(
        path, ["C00000001", "jane.doe@example.com", "+44 7700 900123", "north"], [["C00000002", "b@x.org", "", "s"]]
    )
    store = DataStore(tmp_path / "store")
    with pytest.raises(ValueError, match=r"customers\.csv: column name\(s\) .* no header row") as err:
        ingest_file(path, "customers", store)
    assert not any(v in str(err.value) for v in PII) and "j*****************om" in str(err.value)
    assert not store.tables()


# --------------------------------------------------------------------------- encodings, control characters, sizes

TEXT = "week,channel,spend\n2031-01-06,télé,10\n2031-01-13,jane.doe@example.com,12\n"


@pytest.mark.parametrize(
    ("encoding", "loads"),
    [("utf-8", True), ("utf-8-sig", True), ("latin-1", False), ("cp1252", False), ("utf-16", False)],
)
def test_wrong_encodings_fail_clearly_or_load(tmp_path: Path, encoding: str, loads: bool) -> None:
    path = tmp_path / "spend.csv"
    path.write_bytes(TEXT.encode(encoding))
    store = DataStore(tmp_path / "store")
    result = _ingest_or_clear_error(path, "spend", store)
    assert (result is not None) == loads
    if loads:
        assert (result.rows_accepted, result.rows_quarantined) == (1, 1)  # the e-mail row is quarantined
        assert store.read("raw", "spend")["channel"].tolist() == ["télé"]
    else:
        with pytest.raises(ValueError, match=r"spend\.csv.*(utf-8|codec|decode)"):
            ingest_file(path, "spend", store)
        assert not store.exists("raw", "spend")
    _check_store(store, tmp_path)
    _assert_reasons_masked(store)


def test_control_characters_and_nul_bytes(tmp_path: Path) -> None:
    path = tmp_path / "spend.csv"
    path.write_bytes(
        b"week,channel,spend\n2031-01-06,t\x00v,10\n2031-01-13,\x1b[31mred\x1b[0m,12\n2031-01-20,a\x0bb\x0c,1\n"
    )
    store = DataStore(tmp_path / "store")
    if _ingest_or_clear_error(path, "spend", store) is not None:
        stage_world(store, SALT, progress=False)
    _check_store(store, tmp_path)


def test_a_one_megabyte_field(tmp_path: Path) -> None:
    huge = "jane.doe@example.com " + "x" * 1_000_000
    path = tmp_path / "spend.csv"
    _write_csv(
        path, ["week", "channel", "spend", "note"], [["2031-01-06", "tv", huge, huge], ["2031-01-13", "tv", "1", "y"]]
    )
    store = DataStore(tmp_path / "store")
    result = ingest_file(path, "spend", store)
    assert (result.rows_accepted, result.rows_quarantined) == (1, 1)
    (reason,) = read_quarantine(store, "spend")["_reason"]
    assert len(reason) < 1200 and "characters in all" in reason
    stage_world(store, SALT, progress=False)
    _check_store(store, tmp_path)
    _assert_reasons_masked(store)


def test_a_parquet_file_with_hostile_column_names(tmp_path: Path) -> None:
    target = tmp_path / ATTACK_FILE
    df = pd.DataFrame({"week": ["2031-01-06"], "channel": ["tv"], "spend": ["1"]})
    for i, name in enumerate(_attacks(target)):
        df[name] = PII[i % len(PII)]
    path = tmp_path / "spend.parquet"
    df.to_parquet(path)
    store = DataStore(tmp_path / "store")
    assert ingest_file(path, "spend", store).rows_accepted == 1
    stage_world(store, SALT, progress=False)
    _check_store(store, tmp_path)


# --------------------------------------------------------------------------- hostile rows in a world, every notebook

NOTEBOOK_PII = ("hostile.one@evil.example", "hostile.two@evil.example", "+44 7700 900777", "07700 900888")


def _hostile_world(root: Path) -> tuple[str, ...]:
    """A ci world with hostile rows of spend, touchpoints, creatives and customers ingested; returns the raw values."""
    from galaxy_lib.simulate import build_world

    build_world(root, size="ci", progress=False)
    store = DataStore(root)
    ids = ("acme-cust-991", "C99999991")
    target = root.parent / ATTACK_FILE
    files = {
        "spend": (
            ["week", "geo", "channel", "spend", "note"],
            [
                ["2023-01-02", "north", NOTEBOOK_PII[0], "10", NOTEBOOK_PII[1]],  # e-mail as a channel
                ["2023-01-02", "north", "tv", NOTEBOOK_PII[2], ""],  # phone as spend
                [NOTEBOOK_PII[1], "north", "tv", "1", ""],  # shifted: e-mail as a week
                ["2023-01-09", NOTEBOOK_PII[3], "search", "1", ""],  # phone as a geo
                ["2023-01-16", "north", _attacks(target)[0], "-1", ""],
            ],
        ),
        "touchpoints": (
            ["event_id", "customer_id", "ts", "channel", "campaign_id", "creative_id", "ingested_at"],
            [
                ["EH1", ids[0], ids[0], "search", "cmp", "", "2023-03-01T10:20:00"],  # id shifted into ts
                ["EH2", ids[1], "2023-03-01T10:15:00", NOTEBOOK_PII[0], "cmp", "", "2023-03-01T10:20:00"],
                ["EH3", ids[1], "2023-03-01T10:15:00", "search", NOTEBOOK_PII[2], "", "2023-03-01T10:20:00"],
            ],
        ),
        "creatives": (  # personal data in a creative's copy: quarantined at ingest, never published
            [
                "creative_id",
                "channel",
                "format",
                "headline",
                "body",
                "dominant_color",
                "has_logo",
                "text_density",
                "image_path",
                "impressions",
                "clicks",
            ],
            [
                ["CRH1", "social", "square", f"Write to {NOTEBOOK_PII[0]}", "", "blue", "1", "0.2", "x.png", "9", "1"],
                ["CRH2", "social", "square", "Call us", f"on {NOTEBOOK_PII[2]}", "blue", "1", "0.2", "x.png", "9", "1"],
            ],
        ),
        "customers": (
            list(CUSTOMER_COLUMNS),
            [
                [ids[1], NOTEBOOK_PII[0], NOTEBOOK_PII[2], "north", NOTEBOOK_PII[1], "30", "new", "1", "5", "0.1"],
                [ids[0], NOTEBOOK_PII[1], NOTEBOOK_PII[3], NOTEBOOK_PII[0], "2022-01-01", "-4", "new", "1", "5", "0.1"],
            ],
        ),
    }
    for table, (header, rows) in files.items():
        path = root.parent / f"{table}.csv"
        _write_csv(path, header, rows)
        result = ingest_file(path, table, store)
        assert result.rows_quarantined >= 1, (table, str(result))
    stage_world(store, SALT, progress=False)
    return NOTEBOOK_PII + ids


@pytest.mark.slow
def test_hostile_rows_never_reach_the_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inventory, MMM, MTA and uplift on a ci world holding hostile rows: no raw value of those rows is published."""
    import yaml

    from galaxy_lib.core.paths import find_project_root
    from galaxy_lib.governance.pii import scan_folder
    from galaxy_lib.pipeline.runner import run_notebook

    monkeypatch.setenv("GALAXY_PII_SALT", SALT)  # a store with user rows is not a demo world
    root = tmp_path / "world"
    raw_values = _hostile_world(root)
    reports = tmp_path / "reports"
    ci = find_project_root() / "parameters" / "ci"
    for nb in NOTEBOOKS:
        params = {**yaml.safe_load((ci / f"{nb}.yaml").read_text()), "data_dir": str(root)}
        manifest = run_notebook(f"{nb}.ipynb", params, reports_dir=reports, data_dir=root, timeout_s=600)
        assert manifest.status in ("passed", "warn", "failed"), manifest.status
    published = [p for p in reports.rglob("*") if p.is_file()]
    assert len(published) > 6
    result = scan_folder(reports, raw_ids=raw_values)
    assert result.ok, result.summary()
    for p in published:
        text = p.read_bytes().decode("utf-8", errors="replace")
        leaked = [redact_pii(v) for v in raw_values if v in text]
        assert not leaked, f"{p.relative_to(reports)} holds raw values of hostile rows: {leaked}"
    assert not (tmp_path / ATTACK_FILE).exists()


NOTEBOOKS = ("01_data_inventory", "02_mmm", "03_mta", "04_uplift", "05_creative")
