"""A store ready to use: the Galaxy world built and staged when it is missing or stale.

Notebooks call :func:`ensure_world` first; ``galaxy world build`` does the same
from the command line. Staging itself never simulates: this module composes the
generator (:func:`build_world`) and the pipeline (``stage_world``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from galaxy_lib.core.config import resolve_path
from galaxy_lib.core.contracts import RAW_TABLES
from galaxy_lib.core.store import DataStore
from galaxy_lib.pipeline.ingest import holds_user_data
from galaxy_lib.pipeline.staging import salt_for_store, stage_world, staging_is_current
from galaxy_lib.simulate.world import WORLD_FORMAT, build_world

__all__ = ["ensure_world"]


def ensure_world(
    data_dir: str | Path, size: str = "ci", seed: int = 42, salt: str | None = None, progress: bool = True
) -> DataStore:
    """Return the store at ``data_dir``, building and staging the Galaxy world first if needed.

    Notebooks call this first. When staging is missing or older than the raw zone
    (see :func:`staging_is_current`) it takes the store lock, builds the world if
    there are no raw tables or a previous build was interrupted
    (:func:`galaxy_lib.simulate.build_world`), and stages it with every registered
    curated table (:func:`galaxy_lib.pipeline.staging.stage_world`). A store holding only your
    own ingested raw tables is staged, never overwritten by a simulated world.
    Under the lock the check is repeated, so two notebooks starting at once build
    the world only once: the second waits and then finds it ready.

    Parameters
    ----------
    data_dir
        Store root; a relative path is resolved against the project root.
    size
        World size to build when missing: ``ci``, ``demo`` or ``bench``.
    seed
        World seed when building.
    salt
        Pseudonymisation secret. Default: ``GALAXY_PII_SALT``; when that is unset, the
        public demo salt (with a warning) for a ``ci`` or ``demo`` world the simulator
        built alone, else a ``SaltError`` (a store holding your rows needs a secret;
        see :func:`galaxy_lib.pipeline.staging.salt_for_store`).
    progress
        Show progress bars while building and staging.

    Warns
    -----
    UserWarning
        When ``data_dir`` already holds a world of another size or seed: the existing
        world is used as it is.
    """
    root = resolve_path(data_dir)
    store = DataStore(root)
    _rebuild_if_outdated(root, store, progress)
    if staging_is_current(store):
        _warn_mismatch(root, size, seed)
        return store
    # A bench world takes minutes to build: wait for another process's build up to an hour.
    with store.lock(timeout=3600):
        if staging_is_current(store):
            return store
        world = _warn_mismatch(root, size, seed)
        # build when there is no raw data, or when a simulator build was interrupted
        # (it writes world.json last, after truth/): never stage half a world
        interrupted = (root / "truth").is_dir() and not (root / "world.json").is_file()
        if interrupted or not any(store.exists("raw", t) for t in RAW_TABLES):
            build_world(root, size=size, seed=seed, progress=progress)
            world = {"size": size}
        if salt is None:
            built_size = (world or {}).get("size", size)
            # the demo salt only for a store the simulator built alone (salt_for_store says why not)
            salt = salt_for_store(store, demo=built_size in ("ci", "demo"))
        stage_world(store, salt, progress=progress)
    return store


def _outdated_format(root: Path) -> int | None:
    """Return the format of a simulator world older than :data:`WORLD_FORMAT` at ``root``, else ``None``."""
    try:
        world = json.loads((root / "world.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    found = int(world.get("format", 1))
    return found if found < WORLD_FORMAT else None


def _rebuild_if_outdated(root: Path, store: DataStore, progress: bool) -> None:
    """Rebuild a world the simulator built alone in an older table format (its tables would fail the contracts)."""
    if _outdated_format(root) is None or holds_user_data(root):
        return
    with store.lock(timeout=3600):
        found = _outdated_format(root)
        if found is None:
            return
        world = json.loads((root / "world.json").read_text())
        warnings.warn(
            f"{root} holds a Galaxy world of table format {found} (this version writes {WORLD_FORMAT}): "
            "rebuilding it with the same size and seed.",
            UserWarning,
            stacklevel=3,
        )
        build_world(root, size=world.get("size", "ci"), seed=int(world.get("seed", 42)), progress=progress, force=True)


def _warn_mismatch(root: Path, size: str, seed: int) -> dict | None:
    path = root / "world.json"
    if not path.is_file():
        return None
    try:
        world = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    if world.get("size") != size or world.get("seed") != seed:
        warnings.warn(
            f"{root} holds a {world.get('size')!r} world (seed {world.get('seed')}), not {size!r} (seed {seed}); "
            "using it as it is. Point data_dir at another folder to build a different world.",
            UserWarning,
            stacklevel=3,
        )
    return world
