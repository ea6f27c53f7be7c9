"""``python -m galaxy_lib.cli``: the ``galaxy`` command."""

from galaxy_lib.cli import app

app()
