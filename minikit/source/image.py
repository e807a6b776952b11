"""Image sources: pin a reference to a manifest digest, then pull its layers.

Resolving happens while the Dockerfile is converted (the frontend needs the
image config); pulling happens only when a step actually needs the root
filesystem. Each layer blob is fetched once per store, verified, kept for
export, and unpacked into an overlay-format layer folder.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from minikit.cache.store import Store, remove_tree
from minikit.errors import RegistryError
from minikit.oci.reference import Reference
from minikit.oci.spec import Descriptor, Platform

log = logging.getLogger(__name__)

# Layers downloaded at once for one image.
PARALLEL_LAYERS = 4


@dataclass(frozen=True)
class ImageMeta:
    """A resolved image: the pinned reference, its config and layer descriptors."""

    reference: Reference
    pinned: Reference
    config: dict[str, Any]
    layers: tuple[Descriptor, ...]
    diff_ids: tuple[str, ...]


class ImagePuller:
    """Resolves references and pulls images into the store, once per layer."""

    def __init__(
        self, store: Store, registry: Any, apply_layer: Callable[..., None]
    ) -> None:
        self.store = store
        self.registry = registry
        self.apply_layer = apply_layer
        self._resolved: dict[tuple[str, str], ImageMeta] = {}
        self._lock = threading.Lock()
        self._layer_locks: dict[str, threading.Lock] = {}

    def resolve(self, reference: Reference, platform: Platform) -> ImageMeta:
        """Pin ``reference`` for ``platform``; each reference is resolved once per build."""
        key = (str(reference), str(platform))
        with self._lock:
            cached = self._resolved.get(key)
        if cached is not None:
            return cached
        resolved = self.registry.resolve(reference, platform)
        diff_ids = tuple(resolved.config.get("rootfs", {}).get("diff_ids", []))
        meta = ImageMeta(
            reference,
            resolved.pinned,
            resolved.config,
            tuple(resolved.layers),
            diff_ids,
        )
        with self._lock:
            self._resolved[key] = meta
            self._resolved[(str(resolved.pinned), str(platform))] = meta
        return meta

    def pin(self, reference: Reference, platform: Platform) -> Reference:
        """Return ``reference`` pinned for ``platform``, as ``resolve`` would pin it."""
        key = (str(reference), str(platform))
        with self._lock:
            cached = self._resolved.get(key)
        if cached is not None:
            return cached.pinned
        return self.registry.pin(reference, platform)

    def pull(
        self,
        reference: Reference,
        platform: Platform,
        on_status: Callable[[str, int, int | None, bool], None] | None = None,
    ) -> tuple[str, ...]:
        """Make every layer of the image available in the store; return the chain."""
        meta = self.resolve(reference, platform)
        if len(meta.diff_ids) not in (0, len(meta.layers)):
            raise RegistryError(
                f"image {meta.pinned} is inconsistent: {len(meta.layers)} layers "
                f"but {len(meta.diff_ids)} diff_ids in its config"
            )
        from concurrent import futures

        with futures.ThreadPoolExecutor(
            max_workers=PARALLEL_LAYERS, thread_name_prefix="pull"
        ) as pool:
            jobs = [
                pool.submit(self._layer, meta, index, descriptor, on_status)
                for index, descriptor in enumerate(meta.layers)
            ]
            return tuple(job.result() for job in jobs)

    def _layer(
        self,
        meta: ImageMeta,
        index: int,
        descriptor: Descriptor,
        on_status: Callable[[str, int, int | None, bool], None] | None,
    ) -> str:
        # The bottom layer is stored apart: its whiteouts are removed (see
        # strip_whiteouts), which would be wrong for the same blob higher up.
        origin = "pull:" + descriptor.digest + (":bottom" if index == 0 else "")
        with self._lock:
            lock = self._layer_locks.setdefault(descriptor.digest, threading.Lock())
        with lock:
            existing = self.store.find_layer_by_origin(origin)
            if existing is not None:
                return existing
            blob = self._blob(meta, descriptor, on_status)
            staged = self.store.make_temp_dir("layer-")
            try:
                target = staged / "diff"
                target.mkdir()
                self.apply_layer(blob, descriptor.media_type, target)
                if index == 0:
                    from minikit.snapshot.fsformat import strip_whiteouts

                    strip_whiteouts(target)
                layer_id = self.store.commit_layer(
                    target, origin=origin, size=descriptor.size
                )
            finally:
                remove_tree(staged)
            diff_id = meta.diff_ids[index] if meta.diff_ids else ""
            self.store.set_layer_blob(
                layer_id,
                diff_id=diff_id,
                blob_digest=descriptor.digest,
                blob_size=descriptor.size,
                media_type=descriptor.media_type,
            )
            return layer_id

    def _blob(
        self,
        meta: ImageMeta,
        descriptor: Descriptor,
        on_status: Callable[[str, int, int | None, bool], None] | None,
    ) -> Path:
        if self.store.has_blob(descriptor.digest):
            return self.store.blob_path(descriptor.digest)
        staged = self.store.tmp_dir / f"{_pid()}-pull-{descriptor.digest[7:19]}"

        def progress(done: int, total: int | None) -> None:
            if on_status is not None:
                on_status(descriptor.digest, done, total, False)

        self.registry.fetch_blob(meta.pinned, descriptor, staged, progress)
        if on_status is not None:
            on_status(descriptor.digest, descriptor.size, descriptor.size, True)
        return self.store.commit_blob(
            staged, descriptor.digest, descriptor.size, descriptor.media_type
        )


def _pid() -> int:
    import os

    return os.getpid()
