"""Pseudonymisation, salt handling and the PII scanner (text, notebook, HTML fixtures)."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import plotly.graph_objects as go
import pytest

from galaxy_lib.governance.pii import (
    PiiLeakError,
    mask_value,
    scan_file,
    scan_folder,
    scan_text,
)

SALT = "0123456789abcdef-test-salt"


# -- scan_text: true positives ---------------------------------------------------------
@pytest.mark.parametrize(
    "text, kind",
    [
        ("mail jane.doe@example.com now", "email"),
        ("<a href='mailto:J.O_Brien+news@mail.example.co.uk'>", "email"),
        ("call +44 20 7946 0958 today", "phone"),
        ("call +44 (0)20 7946 0958 today", "phone"),
        ("mobile +447700900123.", "phone"),
        ("tel:+33 1 23 45 67 89", "phone"),
        ("uk 020 7946 0958", "phone"),
        ("uk 07700 900123", "phone"),
        ("uk (0161) 496 0000", "phone"),
        ("us (555) 123-4567", "phone"),
        ("us 555-123-4567", "phone"),
        ("us 555.123.4567", "phone"),
        ("toll-free 1-800-555-0199", "phone"),
        ("us +1 (555) 123-4567", "phone"),
        ('"phone": "+44 7700 900042"', "phone"),
        ("customer C00000042 converted", "customer_id"),
        ("file_C12345678.csv", "customer_id"),
    ],
)
def test_scan_text_finds_pii(text, kind):
    found = scan_text(text)
    assert [f.kind for f in found] == [kind], found


def test_phone_inside_json_escape_is_found():
    assert [f.kind for f in scan_text('"line one\\n07700 900123"')] == ["phone"]


def test_raw_ids_exact_match_only():
    found = scan_text("ids: cust-7, cust-77, ABC123 and ABC1234", raw_ids=["cust-7", "ABC123"])
    assert sorted(f.masked for f in found) == sorted([mask_value("cust-7"), mask_value("ABC123")])
    assert {f.kind for f in found} == {"raw_id"}


# -- scan_text: false positives that must not be flagged ----------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28",
        "2026-11-28T23:15:00Z",
        "2026-11-28T23:15:00.123456+00:00",
        "2026-11-28 23:15:00",
        "28/11/2026 23:15",
        "20261128T231500Z-ab12cd",
        "run 20261128T231500Z-0123ab finished",
        "3.14159265358979",
        "0.012345678901234",
        "-0.07700900123",
        "1.2345678901e+10",
        "[1234567.891, 2345678.912, 3456789.123]",
        "k_3fa9b2c1d4e5f607",
        "k_0770090012345678",
        "sha256 deadbeef0123456789abcdef0123456789abcdef",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "epoch 1732838400 and count 12345678901",
        "logo@2x.png",
        "C1234567 is short and C123456789 is long",
        "impressions 0000000000 and 0123456789",
        "version 1.2.3 on 192.168.1.10:8888",
        "week,geo,revenue\n2023-01-02,UK,123456.789\n",
    ],
)
def test_scan_text_ignores_non_pii(text):
    assert scan_text(text) == [], scan_text(text)


def test_findings_mask_values_and_context():
    text = "a: jane.doe@example.com b: +44 7700 900123 c: C00000042"
    found = scan_text(text)
    assert [f.kind for f in found] == ["email", "phone", "customer_id"]
    for f in found:
        for raw in ("jane.doe@example.com", "+44 7700 900123", "C00000042"):
            assert raw not in f.snippet and raw not in f.masked and raw not in str(f) and raw not in repr(f)
    assert found[0].masked == "j" + "*" * 17 + "om"
    assert found[0].line == 1 and found[0].offset == 3


def test_line_numbers():
    found = scan_text("x\ny\nz C00000042\n")
    assert found[0].line == 3


# -- files ---------------------------------------------------------------------------
def _notebook_with_pii(path):
    nb = nbformat.v4.new_notebook()
    clean = nbformat.v4.new_code_cell("df.head()")
    clean.outputs = [
        nbformat.v4.new_output(
            "execute_result",
            data={"text/plain": "   week        spend\n0  2023-01-02  12345.678901"},
            execution_count=1,
        ),
        nbformat.v4.new_output("stream", text="run 20261128T231500Z-ab12cd at 2026-11-28T23:15:00Z\n"),
    ]
    leaky = nbformat.v4.new_code_cell("customers.head()")
    leaky.outputs = [
        nbformat.v4.new_output(
            "execute_result",
            data={"text/html": "<td>C00000042</td><td>jane.doe@example.com</td><td>+44 7700 900123</td>"},
            execution_count=2,
        )
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Inventory"), clean, leaky]
    nbformat.write(nb, path)


def test_scan_notebook_fixture(tmp_path):
    _notebook_with_pii(tmp_path / "report.ipynb")
    found = scan_file(tmp_path / "report.ipynb")
    assert sorted(f.kind for f in found) == ["customer_id", "email", "phone"]
    assert all(f.location and f.location.startswith("cells[2].outputs[0]") for f in found)
    raw = (tmp_path / "report.ipynb").read_text()
    assert "jane.doe@example.com" in raw  # the fixture really leaks ...
    assert all("jane.doe@example.com" not in str(f) for f in found)  # ... the report does not repeat it


def _plotly_html(path, extra_html: str = ""):
    rng = np.random.default_rng(0)
    fig = go.Figure(go.Scatter(x=np.arange(5000), y=rng.normal(size=5000) * 1e6, name="spend"))
    fig.update_layout(title="Weekly spend 2023-01-02 to 2026-11-28")
    html = fig.to_html(include_plotlyjs=True, full_html=True)
    path.write_text(html.replace("</body>", extra_html + "</body>"))


def test_scan_html_fixture_clean_and_leaky(tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    _plotly_html(clean / "figure.html")
    result = scan_folder(clean)
    assert result.ok and result.files_scanned == 1, result.summary()

    leaky = tmp_path / "leaky"
    leaky.mkdir()
    _plotly_html(leaky / "figure.html", "<p>Contact jane.doe@example.com or (555) 123-4567 about C00000042</p>")
    result = scan_folder(leaky)
    assert not result.ok
    assert result.counts == {"email": 1, "phone": 1, "customer_id": 1}
    assert all(f.file.endswith("figure.html") for f in result.findings)
    with pytest.raises(PiiLeakError) as err:
        result.raise_if_leaks()
    assert "jane.doe@example.com" not in str(err.value) and "C00000042" not in str(err.value)


def test_scan_folder_filters_suffixes_and_passes_raw_ids(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "metrics.json").write_text(
        json.dumps({"top_customer": "CUST-99", "written_at": "2026-11-28T23:15:00Z"})
    )
    (tmp_path / "image.png").write_bytes(b"\x89PNG C00000042")
    (tmp_path / "notes.md").write_text("all fine: 2026-11-28, r2 0.9123456789")
    result = scan_folder(tmp_path, raw_ids=["CUST-99"])
    assert result.files_scanned == 2  # the PNG is not read
    assert [f.kind for f in result.findings] == ["raw_id"]
    assert result.findings[0].location == "top_customer"


def test_scan_folder_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        scan_folder(tmp_path / "nope")


def test_large_html_report_scans_clean(tmp_path):
    """A ~10 MB plotly report (inline plotly.js, typed-array payloads, a 20k-row table) has no false positives."""
    rng = np.random.default_rng(1)
    fig = go.Figure([go.Scatter(x=rng.normal(size=100_000), y=rng.normal(size=100_000) * 1e6) for _ in range(4)])
    table = "".join(
        f"<tr><td>2023-01-{d % 28 + 1:02d}</td><td>{v:.6f}</td></tr>" for d, v in enumerate(rng.normal(size=20_000))
    )
    html = fig.to_html(include_plotlyjs=True).replace("</body>", f"<table>{table}</table></body>")
    (tmp_path / "big.html").write_text(html)
    result = scan_folder(tmp_path)
    assert result.ok, result.summary()
    assert result.bytes_scanned > 8_000_000


def test_redact_pii_masks_what_the_scanner_finds_and_keeps_the_rest():
    from galaxy_lib.governance.pii import redact_pii

    text = 'KeyError: "jane.doe@example.com" not found; customer C12345678, call 07700 900123, id cust-7'
    out = redact_pii(text, raw_ids=["cust-7"])
    for raw in ("jane.doe@example.com", "C12345678", "07700 900123", "cust-7"):
        assert raw not in out
    assert out.startswith('KeyError: "j') and "not found; customer" in out
    assert scan_text(out, raw_ids=["cust-7"]) == []
    assert redact_pii("plain text 2026-12-01 0.12345") == "plain text 2026-12-01 0.12345"
    assert redact_pii(None) == ""
