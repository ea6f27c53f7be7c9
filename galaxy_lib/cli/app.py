"""The ``galaxy`` Typer app and what every command module shares: the user-error wrapper, SIGTERM handling.

Command modules (``runs``, ``audit``, ``world``, ``experiments``) import :data:`app` and
register their commands on it; :mod:`galaxy_lib.cli` imports them all.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable
from typing import Annotated, Any

import typer

from galaxy_lib import __version__
from galaxy_lib.core.config import ConfigError

__all__ = ["app", "friendly", "sigterm_as_interrupt"]

app = typer.Typer(
    name="galaxy",
    help=(
        "Galaxy Workbench: run the marketing-science notebooks as recorded jobs.\n\n"
        "Typical use:\n\n"
        "  galaxy world build --size demo          # synthetic company with known ground truth\n\n"
        "  galaxy run 02_mmm.ipynb -p draws 500     # one notebook, one recorded run\n\n"
        "  galaxy schedule --all                    # every scheduled job now (make demo)\n\n"
        "  galaxy audit verify                      # is the run history untouched?\n\n"
        "Runs land in reports/<job>/<run_id>/; open reports/index.html."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_USER_ERRORS = (
    "ConfigError",
    "ContractError",
    "SaltError",
    "AuditError",
    "PiiLeakError",
    "ExperimentRegistryError",
    "Timeout",  # filelock: another process holds the lock
)


def _is_user_error(err: BaseException) -> bool:
    if isinstance(err, (ConfigError, FileNotFoundError)):
        return True
    return any(cls.__name__ in _USER_ERRORS for cls in type(err).__mro__)


def friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user errors into a one-paragraph message and exit code 2 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(130) from None
        except Exception as err:
            if not _is_user_error(err):
                raise
            kind = type(err).__name__
            msg = str(err).strip() or kind
            if isinstance(err, FileNotFoundError) and err.filename and str(err.filename) not in msg:
                msg = f"{msg}: {err.filename}"
            if kind == "Timeout":
                msg = f"Another process holds the lock ({msg}); try again in a moment."
            typer.secho(f"Error ({kind}): {msg}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None

    return wrapper


def sigterm_as_interrupt() -> None:
    """Treat SIGTERM (``kill``, ``systemctl stop``) like Ctrl-C: running jobs are stopped and recorded."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"galaxy-workbench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Galaxy Workbench command line."""
