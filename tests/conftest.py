"""Suite-wide settings.

* Fixture notebooks under ``tests/**/fixtures/`` exist to be run by tests (some fail
  on purpose); nbval must not collect them as notebooks to validate.
* Demo mode (the public PII salt) is on for the synthetic worlds the tests build.
* One headless Chromium per worker (``browser``), shared by every browser test: Playwright's
  sync API allows one instance per thread, so a test must not start its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.fixtures.browser import CHROMIUM_ARGS, chromium_or_skip

collect_ignore_glob = ["**/fixtures/**"]

os.environ.setdefault("GALAXY_DEMO", "1")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return chromium_or_skip()


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
