"""``galaxy world build`` and ``galaxy ingest``: fill a data store, simulated or your own."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from galaxy_lib.cli.app import app, friendly
from galaxy_lib.core.config import ConfigError, resolve_path

world_app = typer.Typer(
    help="Build the synthetic Galaxy world (a company with known ground truth) into a data store.",
    no_args_is_help=True,
)
app.add_typer(world_app, name="world")


@world_app.command(
    "build",
    epilog=(
        "Demo and CI worlds may use the public demo salt for pseudonymisation; a bench world needs "
        "GALAXY_PII_SALT (as real data would).\n\n"
        "Examples:\n\n"
        "  galaxy world build                         # data/ci, seconds\n\n"
        "  galaxy world build --size demo --if-missing\n\n"
        "  GALAXY_PII_SALT=... galaxy world build --size bench"
    ),
)
@friendly
def world_build(
    size: Annotated[
        str, typer.Option("--size", help="ci (seconds), demo (under a minute) or bench (millions of events).")
    ] = "ci",
    out: Annotated[Path | None, typer.Option("--out", help="Store folder (default data/<size>).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same world.")] = 42,
    if_missing: Annotated[bool, typer.Option("--if-missing", help="Do nothing when the world already exists.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild and DELETE data the simulator did not write (ingested files).")
    ] = False,
) -> None:
    """Simulate the Galaxy world (raw zone + ground truth) and stage it (staged + curated zones).

    Raw customer ids are pseudonymised at staging with the salt from
    GALAXY_PII_SALT; ci and demo worlds fall back to the public demo salt.

    A folder holding your own data (rows from galaxy ingest, files copied into raw/)
    is not rebuilt: the command names the files; use another --out, or --force.
    """
    if size not in ("ci", "demo", "bench"):
        raise ConfigError(f"--size must be ci, demo or bench, got {size!r}.")
    target = resolve_path(out or Path("data") / size)
    from galaxy_lib.core.store import DataStore
    from galaxy_lib.governance.pseudonyms import get_salt
    from galaxy_lib.pipeline.staging import stage_world, staging_is_current
    from galaxy_lib.simulate import build_world, ensure_world
    from galaxy_lib.simulate.world import rebuild_refusal, user_files

    store = DataStore(target)
    if if_missing and staging_is_current(store):
        typer.echo(f"World already exists at {target}; nothing to do (drop --if-missing to rebuild).")
        return
    # GALAXY_PII_SALT wins when set; synthetic ci/demo worlds may fall back to the public demo salt.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        salt = get_salt(demo=size != "bench")
    for w in caught:
        typer.secho(f"Warning: {w.message}", fg=typer.colors.YELLOW, err=True)
    if if_missing:
        typer.echo(f"Preparing the {size} world (seed {seed}) at {target} ...")
        ensure_world(target, size=size, seed=seed, salt=salt)
        typer.echo(f"World ready at {target}.")
        return
    with store.lock(timeout=3600):  # a notebook's ensure_world waits instead of reading a half-built world
        user = user_files(target)
        if user and not force:
            raise ConfigError(rebuild_refusal(target, user))
        if user:
            typer.secho(f"Deleting (--force), not written by the simulator: {', '.join(map(str, user))}", err=True)
        typer.echo(f"Building the {size} world (seed {seed}) into {target} ...")
        summary = build_world(target, size=size, seed=seed, force=force)
        typer.echo(f"Simulated in {summary.seconds:.1f} s: " + ", ".join(f"{t} {n:,}" for t, n in summary.rows.items()))
        report = stage_world(store, salt)
    typer.echo(f"Staged: {report}")
    typer.echo(f"World ready at {target}.")


# -- ingest --------------------------------------------------------------------------
@app.command(
    epilog=(
        "Examples:\n\n"
        "  galaxy ingest ~/exports/spend.csv --table spend                  # into data/user\n\n"
        "  galaxy ingest ~/exports/spend.csv --table spend --data-dir data/acme\n\n"
        "  galaxy ingest media.parquet --table spend --map spend=cost --map week=week_start\n\n"
        "  galaxy ingest costs.csv --table spend --map week=Date --map channel=Medium --map spend=Cost\n\n"
        "  galaxy ingest touchpoints.csv --table touchpoints --channels my_channels.yaml"
    ),
)
@friendly
def ingest(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file to load.", show_default=False)],
    table: Annotated[str, typer.Option("--table", help="Target table (spend, kpi, touchpoints, ...).")],
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="canonical=source column mapping (repeatable).")
    ] = None,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Store to load into (data/user: your own store, never a demo world).")
    ] = Path("data/user"),
    channels: Annotated[
        Path | None,
        typer.Option(
            "--channels",
            help="Channel-name map, YAML of canonical: [aliases] (default parameters/channels.yaml).",
        ),
    ] = None,
) -> None:
    """Load your own file into the raw zone: contract-checked, bad rows quarantined with reasons.

    A missing required column stops the load with the --map that fixes it; bad
    rows (negative spend, unparseable dates, duplicate keys) go to
    quarantine/<table>/ and are counted here.

    A spend file needs only date, channel and spend: without a geo column it is
    national (geo = national), without impressions or clicks those are unknown
    (null); a KPI file without geo is national too. Channel names are put in
    canonical form with the channel map (TV, tv and Television are one channel);
    names the map does not know are kept and listed.
    """
    from galaxy_lib.core.store import DataStore
    from galaxy_lib.pipeline.ingest import ingest_file

    mapping: dict[str, str] = {}
    for item in map_ or []:
        if "=" not in item:
            raise ConfigError(f"--map {item!r} must look like canonical=source (e.g. --map spend=cost).")
        canonical, source = (s.strip() for s in item.split("=", 1))
        mapping[canonical] = source
    path = Path(file).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"No file to ingest at {path.resolve()}")
    store_root = resolve_path(data_dir)
    try:
        result = ingest_file(
            path,
            table,
            DataStore(store_root),
            mapping or None,
            channels=resolve_path(channels) if channels is not None else None,
        )
    except Exception as err:
        if type(err).__name__ == "ContractError" and "mapping" in str(err):
            raise type(err)(
                f"{err} On the command line: --map <canonical>=<your column>, e.g. --map spend=cost."
            ) from None
        raise
    typer.echo(str(result))
    if result.rows_quarantined:
        typer.echo(f"Quarantined rows with their reasons: {store_root / 'quarantine' / table}/")
