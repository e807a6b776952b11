"""Resolution of untrusted entry names (from layer tars) to paths inside a root."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from minikit.snapshot.errors import LayerError

CORRUPT_LAYER_HINT = "the layer tar is corrupt or malicious. Rebuild or re-pull it"


def split_entry_name(name: str) -> tuple[str, ...]:
    """Split a tar entry name into its components, rejecting escapes.

    A leading ``./`` and empty or ``.`` components are dropped. An absolute name or
    a ``..`` component raises LayerError, so no name can point outside the root.
    """
    if name.startswith("/"):
        raise LayerError(
            f"invalid layer entry {name!r}: absolute names are not allowed",
            hint=CORRUPT_LAYER_HINT,
        )
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise LayerError(
            f"invalid layer entry {name!r}: '..' would leave the layer",
            hint=CORRUPT_LAYER_HINT,
        )
    return parts


def resolve_in_root(
    root: Path, name: str, *, on_create: Callable[[Path], None] | None = None
) -> Path:
    """Return the path of the entry ``name`` inside ``root``, never leaving it.

    Every parent must be a real folder: a symlink (or another non-folder) on the
    way raises LayerError, so nothing is ever written through a symlink. A missing
    parent raises too, unless ``on_create`` is given: the parent is then created
    with mode 0755 and passed to ``on_create``. The last component is not checked,
    because the caller replaces whatever is there. ``.`` resolves to the root.
    """
    parts = split_entry_name(name)
    current = root
    for part in parts[:-1]:
        current = current / part
        _check_parent(current, name, on_create)
    if not parts:
        return root
    return current / parts[-1]


def _check_parent(
    path: Path, name: str, on_create: Callable[[Path], None] | None
) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if on_create is None:
            raise LayerError(
                f"invalid layer entry {name!r}: parent {path.name!r} does not exist",
                hint=CORRUPT_LAYER_HINT,
            ) from None
        os.mkdir(path)
        os.chmod(path, 0o755)
        on_create(path)
        return
    if stat.S_ISLNK(st.st_mode):
        raise LayerError(
            f"unsafe layer entry {name!r}: parent {path.name!r} is a symlink",
            hint="the layer tar writes through a symlink. Rebuild or re-pull it",
        )
    if not stat.S_ISDIR(st.st_mode):
        raise LayerError(
            f"invalid layer entry {name!r}: parent {path.name!r} is not a folder",
            hint=CORRUPT_LAYER_HINT,
        )
