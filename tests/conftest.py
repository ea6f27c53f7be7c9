"""Suite-wide settings.

* Fixture notebooks under ``tests/**/fixtures/`` exist to be run by tests (some fail
  on purpose); nbval must not collect them as notebooks to validate.
* Demo mode (the public PII salt) is on for the synthetic worlds the tests build.
"""

from __future__ import annotations

import os

collect_ignore_glob = ["**/fixtures/**"]

os.environ.setdefault("GALAXY_DEMO", "1")
