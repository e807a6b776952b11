"""The secret leak guard: no layer this build made may hold a secret's bytes.

Before anything is exported, every layer that this build produced, in any
stage and not only the final image, is searched for the value of every
secret given to the build: the bytes as given and without surrounding
blanks, their hex form, and their Base64 form at each of the three byte
alignments (so ``printf 'user:%s'`` piped to ``base64`` is found too), in
file contents, symbolic link targets and file names. A match fails the build
with the step, its Dockerfile line and the path of the file, never the value.
``--allow secret-in-layer`` turns the failure into a warning. On a failure
every leaked layer is deleted from ``--root`` with the cache records that
lead to it, so the value stays nowhere on disk and a later build (with
another secret, or none) cannot take such a layer from the cache.

NOTE: values shorter than ``MIN_SECRET_LENGTH`` bytes, and values stored
transformed in other ways (compressed, encrypted, reversed, split across
files, encoded twice), are not found.
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minikit.errors import SecretLeakError, SourceLocation
from minikit.progress import Warning as ProgressWarning

if TYPE_CHECKING:
    from minikit.worker.build import Worker
    from minikit.worker.request import BuildRequest

# Shorter values match by chance in any binary, so they are not searched for.
MIN_SECRET_LENGTH = 4
# Shorter Base64 fragments would match by chance too.
MIN_BASE64_CORE = 6
# Bytes read per step when searching a file.
_CHUNK = 1 << 20
ALLOW_FLAG = "secret-in-layer"


def _needles(values: list[bytes]) -> list[bytes]:
    """Return every form of every value that the search looks for, longest first."""
    needles: set[bytes] = set()
    for value in values:
        stripped = value.strip()
        if len(stripped) < MIN_SECRET_LENGTH:
            continue
        needles.update((value, stripped, stripped.hex().encode()))
        needles.update(_base64_cores(stripped))
    return sorted(needles, key=len, reverse=True)


def _base64_cores(value: bytes) -> list[bytes]:
    """Return the part of ``value``'s Base64 that is the same whatever surrounds it.

    In a longer Base64 text the value starts at one of three byte alignments.
    For each, the characters that also encode bytes before or after the value
    are cut off, leaving the characters fixed by the value alone.
    """
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + value)
        start = (4 * offset + 2) // 3
        end = len(encoded) if (offset + len(value)) % 3 == 0 else len(encoded) - 4
        core = encoded[start:end]
        if len(core) >= MIN_BASE64_CORE:
            cores.append(core)
    return cores


def _files(root: Path) -> Iterator[Path]:
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if (
                stat.S_ISREG(info.st_mode)
                and info.st_size > 0
                or stat.S_ISLNK(info.st_mode)
            ):
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
    """Return the paths (inside the layer) whose name or content holds one of ``values``."""
    needles = _needles(values)
    if not needles:
        return []
    raw = [needle for needle in needles if needle in _raw_forms(values)]
    found = set()
    for folder, dirs, names in os.walk(layer_dir):
        for name in dirs + names:
            if any(needle in os.fsencode(name) for needle in raw):
                found.add("/" + os.path.relpath(os.path.join(folder, name), layer_dir))
    for path in _files(layer_dir):
        if _contains(path, needles):
            found.add("/" + os.path.relpath(path, layer_dir))
    return sorted(found)


def _raw_forms(values: list[bytes]) -> set[bytes]:
    forms = set()
    for value in values:
        stripped = value.strip()
        if len(stripped) >= MIN_SECRET_LENGTH:
            forms.update((value, stripped))
    return forms


def check_layers_for_secrets(
    worker: Worker,
    services: Any,
    chain: tuple[str, ...],
    request: BuildRequest,
    solved: Any = None,
    converted: Any = None,
) -> None:
    """Fail (or warn) when any layer made by this build contains a secret value.

    Layers of the final ``chain`` are reported first. ``solved`` and
    ``converted`` let the error name the Dockerfile line of the step that
    wrote the layer; without them it names the step only.
    """
    values = services.session.secrets.values()
    if not values:
        return
    store = services.store
    built = sorted(store.built_here, key=lambda layer: (layer not in chain, layer))
    leaked = []
    for layer_id in built:
        if not store.layer_path(layer_id).is_dir():
            continue
        leaks = find_leaks(store.layer_path(layer_id), values)
        if leaks:
            leaked.append((layer_id, leaks))
    if not leaked:
        return
    if ALLOW_FLAG not in request.entitlements:
        for layer_id, _leaks in leaked[1:]:
            _forget(store, layer_id)
    for layer_id, leaks in leaked:
        _report(worker, store, layer_id, leaks, request, (solved, converted))


def _report(
    worker: Worker,
    store: Any,
    layer_id: str,
    leaks: list[str],
    request: BuildRequest,
    build: tuple[Any, Any],
) -> None:
    step = _step_of(store, layer_id)
    paths = ", ".join(leaks[:5])
    if len(leaks) > 5:
        paths += f" and {len(leaks) - 5} more"
    message = (
        f"a secret given to this build was written into a layer by {step}: {paths}"
    )
    location = _location_of(layer_id, *build)
    if ALLOW_FLAG in request.entitlements:
        warning = ProgressWarning(
            message + " (allowed by --allow secret-in-layer)",
            filename=location.filename if location else "",
            line=location.line if location else 0,
        )
        worker.progress.emit(warning)
        return
    _forget(store, layer_id)
    raise SecretLeakError(
        message,
        hint="read the secret from its mount inside the RUN instead of copying it, or "
        "pass --allow secret-in-layer if this is intended",
        location=location,
    )


def _location_of(layer_id: str, solved: Any, converted: Any) -> SourceLocation | None:
    """Return the Dockerfile range of the first vertex that made ``layer_id``."""
    if solved is None or converted is None or converted.output is None:
        return None
    metadata = _metadata_by_digest(converted.output.node)
    for vertex in solved.vertices:
        if not vertex.chain or vertex.chain[-1] != layer_id:
            continue
        meta = metadata.get(vertex.digest)
        if meta is not None and meta.locations:
            first = meta.locations[0]
            lines = tuple(getattr(converted, "lines", ()) or ())
            return SourceLocation(first.filename, first.start, first.end, lines=lines)
    return None


def _metadata_by_digest(head: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    pending = [head]
    while pending:
        node = pending.pop()
        if node.digest in found:
            continue
        found[node.digest] = node.metadata
        pending.extend(parent.node for parent in node.parents)
    return found


def _step_of(store: Any, layer_id: str) -> str:
    pattern = f'%"{layer_id}"]'
    rows = store.query("SELECT description FROM records WHERE chain LIKE ?", (pattern,))
    return rows[0][0] if rows and rows[0][0] else "a build step"


def _forget(store: Any, layer_id: str) -> None:
    """Delete the leaked layer and every cache record whose chain contains it."""
    from minikit.cache.store import remove_tree

    with store.transaction() as db:
        db.execute("DELETE FROM records WHERE chain LIKE ?", (f'%"{layer_id}"%',))
        db.execute("DELETE FROM layers WHERE id = ?", (layer_id,))
    remove_tree(store.layer_path(layer_id))
