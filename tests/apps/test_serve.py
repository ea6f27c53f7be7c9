"""The dashboard server asks for a token and page views publish outside reports/ (issue 15, low finding).

Before, ``make serve`` ran a bare ``voila notebooks``: anyone who could reach the port
ran the notebooks, and every page view published into ``reports/adhoc/``, which the
runner never scanned for personal data nor recorded in the audit log.
"""

from __future__ import annotations

import http.client
import urllib.parse
import uuid
from pathlib import Path

import nbformat
import pytest

from galaxy_lib.apps.serve import INJECTED_TAG, TOKEN_ENV, dashboard_token, inject_output_dir, view_output_hook

from .conftest import ROOT, VoilaServer

NOTEBOOK = ROOT / "notebooks" / "01_data_inventory.ipynb"


def _get(url: str) -> tuple[int, str, str]:
    """GET ``url`` without following redirects: status, Location header, body."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        return response.status, response.getheader("Location") or "", response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_the_token_comes_from_the_environment_or_is_made() -> None:
    token, generated = dashboard_token({TOKEN_ENV: "  a-long-enough-secret-token  "})
    assert (token, generated) == ("a-long-enough-secret-token", False)
    made, generated = dashboard_token({})
    assert generated and len(made) >= 40 and made != dashboard_token({})[0]
    with pytest.raises(ValueError, match=r"GALAXY_VOILA_TOKEN holds a token of 6 characters"):
        dashboard_token({TOKEN_ENV: "secret"})


def test_a_view_publishes_into_a_new_scratch_folder(tmp_path: Path) -> None:
    hook = view_output_hook(tmp_path / "views")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = len(nb.cells)
    first = hook(None, notebook=nb, cwd=str(NOTEBOOK.parent))
    params_at = next(i for i, c in enumerate(first.cells) if "parameters" in c.metadata.get("tags", []))
    injected = first.cells[params_at + 1]
    assert len(first.cells) == cells + 1 and injected.metadata["tags"] == [INJECTED_TAG]
    namespace: dict = {}
    exec(first.cells[params_at].source, namespace)  # the defaults: output_dir "" means reports/adhoc
    assert namespace["output_dir"] == ""
    exec(injected.source, namespace)  # the injected cell runs next and wins
    view_dir = Path(namespace["output_dir"])
    assert view_dir.is_dir() and view_dir.parent == tmp_path / "views"
    second = hook(None, notebook=nbformat.read(NOTEBOOK, as_version=4), cwd=str(NOTEBOOK.parent))
    assert str(view_dir) not in second.cells[params_at + 1].source  # every view has its own folder
    assert "reports" not in str(view_dir.relative_to(tmp_path))

    bare = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    assert inject_output_dir(bare, tmp_path).cells[0].metadata["tags"] == [INJECTED_TAG]


@pytest.mark.browser
def test_the_server_refuses_requests_without_the_token(voila_server: VoilaServer) -> None:
    for path in ("/", "/voila/render/01_data_inventory.ipynb", "/voila/render/02_mmm.ipynb?token=wrong"):
        status, location, _ = _get(voila_server.url + path)
        assert status == 302 and "/login" in location, f"{path} answered {status} {location!r} without the token"
    status, _, _ = _get(f"{voila_server.url}/api/kernels/{uuid.uuid4()}")
    assert status == 403
    status, _, body = _get(voila_server.page("/"))
    assert status == 200 and "Voilà Home" in body and "login" not in body.lower()
    assert voila_server.token not in voila_server.log.read_text(), "the token must not be written to the log"
