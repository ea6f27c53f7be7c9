"""A real Voila server and headless Debian Chromium for dashboard tests.

The server is started the way ``make serve`` starts it (``python -m
galaxy_lib.apps.serve``): behind a token, with page views publishing into a scratch
folder. Chromium comes from Debian (``make test`` installs it as root); no tool may
download its own browser. Without it the browser tests skip locally but fail
under CI (``CI=true``), so a CI run can never pass without exercising them.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class VoilaServer:
    """A running dashboard server: its base URL, its token and the folder page views publish into."""

    url: str
    token: str
    scratch: Path
    log: Path

    def page(self, path: str) -> str:
        """URL of ``path`` (e.g. ``voila/render/01_data_inventory.ipynb``) with the token."""
        return f"{self.url}/{path.lstrip('/')}?token={self.token}"


@pytest.fixture(scope="session")
def voila_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoilaServer]:
    """The dashboards served on a free loopback port as ``make serve`` serves them, with a test token."""
    port = _free_port()
    folder = tmp_path_factory.mktemp("voila")
    log = folder / "voila.log"
    token = secrets.token_urlsafe(24)
    env = {**os.environ, "GALAXY_DEMO": "1", "PYTHONUNBUFFERED": "1", "GALAXY_VOILA_TOKEN": token}
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "galaxy_lib.apps.serve",
                str(ROOT / "notebooks"),
                f"--port={port}",
                "--ip=127.0.0.1",
                f"--scratch-dir={folder / 'views'}",
                "--show_tracebacks=True",
            ],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    server = VoilaServer(url=f"http://127.0.0.1:{port}", token=token, scratch=folder / "views", log=log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"Voila exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(server.url, timeout=2)  # answers with its login page
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"Voila did not answer on {server.url} within 60 s:\n{log.read_text()[-3000:]}")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
