"""What the store holds (``du``) and freeing space (``prune``).

Pruning never removes a layer leased by a live build process: each build
leases the layers it pulls, builds or takes from the cache, and leases of
processes that no longer exist are dropped first.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from minikit.cache.store import Store, remove_tree


@dataclass(frozen=True)
class UsageRow:
    """One stored item."""

    id: str
    kind: str
    size: int
    last_used: float
    description: str = ""


@dataclass
class Usage:
    """Everything the store holds, with totals per kind."""

    rows: list[UsageRow] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, tuple[int, int]]:
        """Return (count, bytes) per kind."""
        out: dict[str, tuple[int, int]] = {}
        for row in self.rows:
            count, size = out.get(row.kind, (0, 0))
            out[row.kind] = (count + 1, size + row.size)
        return out

    @property
    def total(self) -> int:
        """Return the bytes of everything."""
        return sum(row.size for row in self.rows)


def tree_size(path: Path) -> int:
    """Return the bytes used by the files below ``path`` (links and folders count 0)."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                info = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            total += info.st_blocks * 512 if info.st_blocks else info.st_size
    return total


def disk_usage(root: Path) -> Usage:
    """Return what the store under ``root`` holds."""
    store = Store(root)
    try:
        usage = Usage()
        for layer_id, origin, last_used in store.query(
            "SELECT id, origin, last_used FROM layers"
        ):
            kind = "base layer" if origin.startswith("pull:") else "build layer"
            size = tree_size(store.layer_path(layer_id))
            usage.rows.append(UsageRow(layer_id, kind, size, last_used, origin))
        for digest, size, last_used in store.query(
            "SELECT digest, size, last_used FROM blobs"
        ):
            if store.has_blob(digest):
                usage.rows.append(
                    UsageRow(digest[7:19], "blob", size, last_used, digest)
                )
        for mount_id, name, last_used in store.query(
            "SELECT id, name, last_used FROM mounts"
        ):
            size = tree_size(store.mounts_dir / mount_id)
            usage.rows.append(
                UsageRow(mount_id[:12], "cache mount", size, last_used, name)
            )
        return usage
    finally:
        store.close()


def prune(
    root: Path,
    *,
    all_entries: bool = False,
    keep_bytes: int | None = None,
    older_than: float | None = None,
) -> int:
    """Remove cache entries and return the bytes freed.

    Without ``all_entries``, layers pulled from registries are kept (only
    build results, cache mounts and unreferenced blobs go). ``older_than``
    limits removal to items unused for that many seconds; ``keep_bytes``
    removes the least recently used items until the rest fits.
    """
    store = Store(root)
    try:
        store.sweep()
        before = disk_usage_total(store)
        leased = {
            row[0]
            for row in store.query(
                "SELECT layer_id FROM leases WHERE pid != ?", (os.getpid(),)
            )
        }
        cutoff = time.time() - older_than if older_than is not None else None
        _prune_records(store, leased, cutoff, keep_bytes)
        if all_entries:
            with store.transaction() as db:
                db.execute("DELETE FROM memos")
        _prune_layers(store, leased, cutoff, all_entries, keep_bytes)
        _prune_mounts(store, cutoff)
        _prune_blobs(store, cutoff)
        with store.transaction() as db:
            db.execute(
                "DELETE FROM links WHERE cache_key NOT IN "
                "(SELECT cache_key FROM records)"
            )
        return max(0, before - disk_usage_total(store))
    finally:
        store.close()


def disk_usage_total(store: Store) -> int:
    """Return the bytes under the store's folders."""
    return sum(
        tree_size(folder)
        for folder in (store.layers_dir, store.blobs_dir, store.mounts_dir)
    )


def _prune_records(
    store: Store, leased: set[str], cutoff: float | None, keep_bytes: int | None
) -> None:
    rows = store.query(
        "SELECT cache_key, chain, last_used FROM records ORDER BY last_used"
    )
    with store.transaction() as db:
        for cache_key, chain_text, last_used in rows:
            chain = json.loads(chain_text)
            if cutoff is not None and last_used > cutoff:
                continue
            if keep_bytes is not None:
                continue
            if any(layer in leased for layer in chain):
                continue
            db.execute("DELETE FROM records WHERE cache_key = ?", (cache_key,))


def _referenced_layers(store: Store) -> set[str]:
    referenced: set[str] = set()
    for (chain_text,) in store.query("SELECT chain FROM records"):
        referenced.update(json.loads(chain_text))
    return referenced


def _prune_layers(
    store: Store,
    leased: set[str],
    cutoff: float | None,
    all_entries: bool,
    keep_bytes: int | None,
) -> None:
    referenced = _referenced_layers(store)
    rows = store.query("SELECT id, origin, last_used FROM layers ORDER BY last_used")
    total = disk_usage_total(store) if keep_bytes is not None else 0
    for layer_id, origin, last_used in rows:
        if layer_id in leased:
            continue
        if keep_bytes is not None:
            if total <= keep_bytes:
                break
        else:
            if layer_id in referenced and origin == "build":
                continue
            if origin != "build" and not all_entries:
                continue
            if cutoff is not None and last_used > cutoff:
                continue
        size = tree_size(store.layer_path(layer_id))
        _remove_layer(store, layer_id)
        total -= size


def _remove_layer(store: Store, layer_id: str) -> None:
    with store.transaction() as db:
        db.execute("DELETE FROM layers WHERE id = ?", (layer_id,))
        db.execute("DELETE FROM records WHERE chain LIKE ?", (f'%"{layer_id}"%',))
    remove_tree(store.layer_path(layer_id))


def _prune_mounts(store: Store, cutoff: float | None) -> None:
    for mount_id, last_used in store.query("SELECT id, last_used FROM mounts"):
        if cutoff is not None and last_used > cutoff:
            continue
        folder = store.mounts_dir / mount_id
        lock = folder / ".lock"
        if lock.exists() and _locked(lock):
            continue
        with store.transaction() as db:
            db.execute("DELETE FROM mounts WHERE id = ?", (mount_id,))
        remove_tree(folder)


def _locked(lock: Path) -> bool:
    import fcntl

    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _prune_blobs(store: Store, cutoff: float | None) -> None:
    kept = {
        row[0]
        for row in store.query(
            "SELECT blob_digest FROM layers WHERE blob_digest IS NOT NULL"
        )
    }
    for digest, last_used in store.query("SELECT digest, last_used FROM blobs"):
        if digest in kept:
            continue
        if cutoff is not None and last_used > cutoff:
            continue
        with store.transaction() as db:
            db.execute("DELETE FROM blobs WHERE digest = ?", (digest,))
        path = store.blob_path(digest)
        if path.exists():
            path.unlink()
