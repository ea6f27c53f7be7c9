"""The ``galaxy`` command: run notebooks, schedule jobs, read reports and the audit log, build worlds.

Every command prints what it did and where the results are. User errors (a wrong parameter, a missing
file, a contract violation) print one clear paragraph and exit 2; a failed run or job exits 1; success 0.

One module per command group, all registering on :data:`galaxy_lib.cli.app.app`:
``runs`` (run, schedule, reports), ``audit``, ``world`` (world build, ingest) and
``experiments``. A new command goes in the module of its group, or a new module
imported here.
"""

from galaxy_lib.cli import audit, experiments, runs, world  # noqa: F401  (each registers its commands)
from galaxy_lib.cli.app import app
from galaxy_lib.cli.runs import parse_param_args, parse_value

__all__ = ["app", "parse_param_args", "parse_value"]
