"""The secret leak guard: no layer this build made may hold a secret's bytes.

Before anything is exported, every layer that this build produced for the
final image is searched for the value of every secret given to the build.
A match fails the build with the step and the path of the file, never the
value; ``--allow secret-in-layer`` turns the failure into a warning. The
cache records that lead to such a layer are removed, so a later build cannot
take the leaked layer from the cache without a new scan.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from minikit.errors import SecretLeakError
from minikit.progress import Warning as ProgressWarning

if TYPE_CHECKING:
    from minikit.worker.build import Worker
    from minikit.worker.request import BuildRequest

# Shorter values match by chance in any binary, so they are not searched for.
MIN_SECRET_LENGTH = 4
# Bytes read per step when searching a file.
_CHUNK = 1 << 20
ALLOW_FLAG = "secret-in-layer"


def _needles(values: list[bytes]) -> list[bytes]:
    needles = set()
    for value in values:
        for candidate in (value, value.strip()):
            if len(candidate) >= MIN_SECRET_LENGTH:
                needles.add(candidate)
    return sorted(needles, key=len, reverse=True)


def _files(root: Path) -> Iterator[Path]:
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_size > 0:
                yield path
            elif stat.S_ISLNK(info.st_mode):
                yield path


def _contains(path: Path, needles: list[bytes]) -> bool:
    if path.is_symlink():
        target = os.fsencode(os.readlink(path))
        return any(needle in target for needle in needles)
    overlap = max(len(needle) for needle in needles) - 1
    tail = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            window = tail + chunk
            if any(needle in window for needle in needles):
                return True
            tail = window[-overlap:] if overlap else b""
    return False


def find_leaks(layer_dir: Path, values: list[bytes]) -> list[str]:
    """Return the paths (inside the layer) of files that hold one of ``values``."""
    needles = _needles(values)
    if not needles:
        return []
    found = []
    for path in _files(layer_dir):
        if _contains(path, needles):
            found.append("/" + os.path.relpath(path, layer_dir))
    return sorted(found)


def check_layers_for_secrets(
    worker: "Worker", services: Any, chain: tuple[str, ...], request: "BuildRequest"
) -> None:
    """Fail (or warn) when a layer made by this build contains a secret value."""
    values = services.session.secrets.values()
    if not values:
        return
    store = services.store
    for layer_id in chain:
        if layer_id not in store.built_here:
            continue
        leaks = find_leaks(store.layer_path(layer_id), values)
        if not leaks:
            continue
        step = _step_of(store, layer_id)
        shown = ", ".join(leaks[:5]) + (
            f" and {len(leaks) - 5} more" if len(leaks) > 5 else ""
        )
        message = f"a secret given to this build was written into the image by {step}: {shown}"
        if ALLOW_FLAG in request.entitlements:
            worker.progress.emit(
                ProgressWarning(message + " (allowed by --allow secret-in-layer)")
            )
            continue
        _forget(store, layer_id)
        raise SecretLeakError(
            message,
            hint="read the secret from its mount inside the RUN instead of copying it, or "
            "pass --allow secret-in-layer if this is intended",
        )


def _step_of(store: Any, layer_id: str) -> str:
    pattern = f'%"{layer_id}"]'
    rows = store.query("SELECT description FROM records WHERE chain LIKE ?", (pattern,))
    return rows[0][0] if rows and rows[0][0] else "a build step"


def _forget(store: Any, layer_id: str) -> None:
    with store.transaction() as db:
        db.execute("DELETE FROM records WHERE chain LIKE ?", (f'%"{layer_id}"%',))
