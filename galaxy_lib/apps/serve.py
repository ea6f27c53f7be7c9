"""Serve the dashboards with Voila: behind a token, and without publishing anything.

``make serve`` runs ``python -m galaxy_lib.apps.serve notebooks``. Two things differ from
a bare ``voila notebooks``:

* **A token.** Every page needs the token of ``GALAXY_VOILA_TOKEN`` (``?token=...`` once;
  the server then sets a login cookie). When the variable is unset, a random token is
  made for this server and printed with the URL; it is never written to a file. A
  request without it is refused (redirected to the login page, or 403 for the API).
* **Page views publish nothing.** The dashboards are the report notebooks; a notebook
  run without ``output_dir`` publishes into ``reports/adhoc/<notebook>/``, a folder the
  runner never scanned for personal data nor recorded in the audit log. Before each
  view's kernel starts, Voila's prelaunch hook (:func:`view_output_hook`) injects
  ``output_dir = <a new folder>`` right after the notebook's ``parameters`` cell, as the
  runner injects parameters; the folder lies in a scratch directory outside the
  project that is deleted when the server stops.

``voila.json`` also sets ``Voila.auto_token``, so a bare ``voila notebooks`` asks for a
(generated) token too, but only this launcher keeps page views out of ``reports/``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "TOKEN_ENV",
    "dashboard_token",
    "inject_output_dir",
    "main",
    "view_output_hook",
    "voila_config",
]

#: Environment variable holding the dashboards' access token.
TOKEN_ENV = "GALAXY_VOILA_TOKEN"
#: Tag of the cell the launcher adds to a viewed notebook (papermill uses ``injected-parameters``).
INJECTED_TAG = "injected-by-galaxy-serve"
_MIN_TOKEN_LENGTH = 16


def dashboard_token(environ: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """Return the dashboards' token and whether it was generated for this server.

    Parameters
    ----------
    environ
        Where to look for :data:`TOKEN_ENV` (default: ``os.environ``).

    Raises
    ------
    ValueError
        When the variable holds a token shorter than 16 characters (easy to guess).
    """
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV, "").strip()
    if not token:
        return secrets.token_urlsafe(32), True
    if len(token) < _MIN_TOKEN_LENGTH:
        raise ValueError(
            f"{TOKEN_ENV} holds a token of {len(token)} characters; use at least {_MIN_TOKEN_LENGTH} "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or unset it to get one."
        )
    return token, False


def inject_output_dir(notebook: Any, output_dir: Path) -> Any:
    """Set ``output_dir`` in ``notebook`` (an nbformat notebook) by a cell after its ``parameters`` cell.

    The cell is tagged :data:`INJECTED_TAG`; a notebook without a ``parameters`` cell gets
    it first. Returns the same notebook, changed in place.
    """
    import nbformat

    cell = nbformat.v4.new_code_cell(
        f"# injected by galaxy_lib.apps.serve: a dashboard view publishes outside reports/\n"
        f"output_dir = {str(output_dir)!r}"
    )
    cell.metadata["tags"] = [INJECTED_TAG]
    position = 0
    for i, existing in enumerate(notebook.cells):
        if "parameters" in existing.get("metadata", {}).get("tags", []):
            position = i + 1
            break
    notebook.cells.insert(position, cell)
    return notebook


def view_output_hook(scratch_root: Path) -> Callable[..., Any]:
    """Return Voila's prelaunch hook: each page view publishes into a new folder under ``scratch_root``.

    Voila calls ``hook(request_handler, notebook=..., cwd=...)`` before it starts the
    view's kernel and runs the notebook it returns.
    """
    root = Path(scratch_root)

    def hook(request_handler: Any, notebook: Any, cwd: str) -> Any:
        root.mkdir(parents=True, exist_ok=True)
        view_dir = Path(tempfile.mkdtemp(prefix="view-", dir=root))
        return inject_output_dir(notebook, view_dir)

    return hook


def voila_config(token: str, scratch_root: Path) -> Any:
    """Return the traitlets config of the dashboard server: the token and the prelaunch hook."""
    from traitlets.config import Config

    config = Config()
    config.Voila.token = token
    config.VoilaConfiguration.prelaunch_hook = view_output_hook(scratch_root)
    return config


def main(argv: Sequence[str] | None = None) -> None:
    """Start Voila on the dashboards (``python -m galaxy_lib.apps.serve notebooks --port 8866``).

    Options other than those listed by ``--help`` are passed on to Voila.
    """
    from voila.app import Voila

    ap = argparse.ArgumentParser(prog="python -m galaxy_lib.apps.serve", description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="?", default="notebooks", help="folder of dashboard notebooks")
    ap.add_argument("--port", type=int, default=8866)
    ap.add_argument("--ip", default="localhost", help="address to listen on (default: localhost only)")
    ap.add_argument(
        "--scratch-dir",
        default="",
        help="where page views publish (default: a temporary folder deleted when the server stops)",
    )
    args, voila_args = ap.parse_known_args(argv)
    token, generated = dashboard_token()
    scratch = None if args.scratch_dir else tempfile.TemporaryDirectory(prefix="galaxy-voila-")
    scratch_root = Path(args.scratch_dir or scratch.name)  # type: ignore[union-attr]
    url = f"http://{args.ip}:{args.port}/"
    if generated:
        print(f"Dashboards: {url}?token={token}\n({TOKEN_ENV} is not set: this token was made for this server.)")
    else:
        print(f"Dashboards: {url}?token=<the token in {TOKEN_ENV}>")
    print(f"Page views publish into {scratch_root} (never into reports/).", flush=True)
    try:
        Voila.launch_instance(
            argv=[args.notebooks, f"--port={args.port}", f"--Voila.ip={args.ip}", "--no-browser", *voila_args],
            config=voila_config(token, scratch_root),
        )
    finally:
        if scratch is not None:
            scratch.cleanup()


if __name__ == "__main__":
    main()
