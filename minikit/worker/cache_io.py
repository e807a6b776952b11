"""``--cache-from`` and ``--cache-to``: sharing cache records between machines.

Three backends, as in BuildKit:

``local``     an OCI layout folder (``dest=DIR`` / ``src=DIR``, ``tag=``)
``registry``  a manifest in a registry (``ref=REF``)
``inline``    records inside the image config, read back with
              ``--cache-from type=registry,ref=IMAGE``

The format lives in ``minikit.cache.remote``; this module wires it to the
store, the registry client and progress.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets as _random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minikit.cache.remote import (
    DEFAULT_TAG,
    INLINE_CACHE_KEY,
    CacheManifest,
    ExportRecord,
    LayerBlob,
    RemoteCache,
    cache_manifest,
    inline_cache_value,
    read_layout_manifest,
    records_of_manifest,
    select_records,
    write_cache_layout,
)
from minikit.errors import CacheError, MinikitError, UsageError
from minikit.oci.reference import Reference
from minikit.oci.spec import OCI_MANIFEST, Descriptor, Platform
from minikit.progress import VertexStatus
from minikit.progress import Warning as ProgressWarning
from minikit.worker.build import internal_step
from minikit.worker.request import BuildRequest, CacheSpec

if TYPE_CHECKING:
    from minikit.worker.build import Worker

log = logging.getLogger(__name__)

MODES = ("min", "max")


# -- import ---------------------------------------------------------------------


def make_importers(
    worker: Worker, request: BuildRequest, services: Any
) -> list[RemoteCache]:
    """Read the manifest of every ``--cache-from``; return one importer each.

    A cache that cannot be read is skipped with a warning, as BuildKit does,
    so the first build of a pipeline works before any cache exists.
    """
    importers = []
    for spec in request.cache_from:
        name = _describe(spec)
        try:
            with internal_step(
                worker.progress, f"importing cache manifest from {name}"
            ):
                importers.append(_importer(worker, request, services, spec))
        except MinikitError as exc:
            if isinstance(exc, UsageError):
                raise
            _warn(worker, f"failed to import the cache from {name}: {exc}")
    return importers


def _importer(
    worker: Worker, request: BuildRequest, services: Any, spec: CacheSpec
) -> RemoteCache:
    if spec.type == "local":
        records, fetcher = _local_records(spec)
    elif spec.type == "registry":
        records, fetcher = _registry_records(request, spec, services.platform)
    else:
        raise UsageError(
            f"--cache-from type={spec.type} is not a cache source",
            hint="read an inline cache with --cache-from type=registry,ref=IMAGE",
        )

    return _ReportedCache(
        worker,
        _describe(spec),
        services.store,
        records,
        fetcher,
        services.images.apply_layer,
        on_warning=lambda message: _warn(worker, message),
    )


class _ReportedCache(RemoteCache):
    """A RemoteCache whose imports show as a progress step with their transfers."""

    def __init__(self, worker: Worker, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress = worker.progress
        self.vertex = ""
        self.importer.on_status = self._status

    def load(self, cache_key: str) -> tuple[str, ...] | None:
        """Import the chain of ``cache_key`` inside an ``importing cache`` step."""
        if cache_key not in self.records:
            return None
        with internal_step(
            self.progress, f"importing cache from {self.name}"
        ) as vertex:
            self.vertex = vertex
            return super().load(cache_key)

    def _status(self, item: str, done: int, total: int | None, completed: bool) -> None:
        self.progress.emit(VertexStatus(self.vertex, item, done, total, completed))


def _local_records(spec: CacheSpec) -> tuple[dict, Any]:
    src = spec.attrs.get("src", "")
    if not src:
        raise UsageError(
            "--cache-from type=local needs src=DIR",
            hint="write --cache-from type=local,src=DIR",
        )
    manifest, blobs = read_layout_manifest(
        Path(src), spec.attrs.get("tag", DEFAULT_TAG), spec.attrs.get("digest", "")
    )
    return records_of_manifest(manifest, lambda d: blobs.read(d.digest)), blobs


class RegistryBlobs:
    """Blobs of one repository, fetched through the registry client."""

    def __init__(self, client: Any, reference: Reference, tmp_dir: Path) -> None:
        self.client = client
        self.reference = reference
        self.tmp_dir = tmp_dir

    def fetch(
        self,
        descriptor: Descriptor,
        dest: Path,
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        """Download a verified blob to ``dest``."""
        self.client.fetch_blob(self.reference, descriptor, dest, on_progress)

    def read(self, descriptor: Descriptor) -> bytes:
        """Return a small blob (a config) of the repository."""
        path = self.tmp_dir / f"{os.getpid()}-cachecfg-{_random.token_hex(6)}"
        try:
            self.fetch(descriptor, path)
            return path.read_bytes()
        finally:
            if path.exists():
                path.unlink()


def _registry_records(
    request: BuildRequest, spec: CacheSpec, platform: Platform
) -> tuple[dict, Any]:
    from minikit.registry import RegistryClient, load_config
    from minikit.registry.manifest import is_index, select_platform

    reference = _reference(spec)
    client = RegistryClient(load_config(request.config_path))
    data, media_type = client.get_manifest(reference)
    manifest = json.loads(data)
    if is_index(media_type) and not _is_cache_index(manifest):
        chosen = select_platform(manifest, platform, str(reference))
        data, media_type = client.get_manifest(reference.with_digest(chosen.digest))
        manifest = json.loads(data)
    assert request.root is not None
    blobs = RegistryBlobs(client, reference, request.root / "tmp")
    return records_of_manifest(manifest, blobs.read), blobs


def _is_cache_index(manifest: dict[str, Any]) -> bool:
    from minikit.cache.remote import CACHE_CONFIG_MEDIA_TYPE

    return any(
        entry.get("mediaType") == CACHE_CONFIG_MEDIA_TYPE
        for entry in manifest.get("manifests") or []
    )


# -- export ---------------------------------------------------------------------


def export_caches(
    worker: Worker, request: BuildRequest, services: Any, solved: Any
) -> None:
    """Write every ``--cache-to`` except ``inline`` (which the image carries)."""
    for spec in request.cache_to:
        if spec.type == "inline":
            continue
        try:
            _export_one(worker, request, services, solved, spec)
        except MinikitError as exc:
            if spec.attrs.get("ignore-error", "false").lower() != "true":
                raise
            _warn(worker, f"failed to export the cache to {_describe(spec)}: {exc}")


def _export_one(
    worker: Worker, request: BuildRequest, services: Any, solved: Any, spec: CacheSpec
) -> None:
    with internal_step(worker.progress, f"exporting cache to {_describe(spec)}"):
        cache = _build_manifest(worker, services, solved, _mode(spec))
        if spec.type == "local":
            _write_local(
                Path(_attr(spec, "dest")), cache, spec.attrs.get("tag", DEFAULT_TAG)
            )
        else:
            _push_cache(request, spec, cache)


def inline_cache(
    worker: Worker, request: BuildRequest, solved: Any, layers: list[Any]
) -> dict[str, str]:
    """Return the config entry of ``--cache-to type=inline`` (empty without it)."""
    if not any(spec.type == "inline" for spec in request.cache_to):
        return {}
    store = worker.store
    assert store is not None
    chain = tuple(getattr(solved.result, "chain", ()))
    blobs = {
        layer_id: LayerBlob(
            blob.descriptor, blob.diff_id, store.layer(layer_id).created, blob.path
        )
        for layer_id, blob in zip(chain, layers)
    }
    records = select_records(_records(store, solved), chain, "min")
    return {INLINE_CACHE_KEY: inline_cache_value(records, blobs)}


def _records(store: Any, solved: Any) -> list[ExportRecord]:
    records = []
    for vertex in solved.vertices:
        chain = vertex.chain
        if chain is None:
            chain = store.peek_record(vertex.cache_key)
        if chain:
            records.append(ExportRecord(vertex.cache_key, vertex.input_keys, chain))
        if chain and vertex.link:
            records.append(ExportRecord(vertex.link, vertex.input_keys, chain))
    return records


def _build_manifest(
    worker: Worker, services: Any, solved: Any, mode: str
) -> CacheManifest:
    from minikit.worker.export import _layer_blob

    store = worker.store
    assert store is not None
    head = tuple(getattr(solved.result, "chain", ()))
    records = select_records(_records(store, solved), head, mode)
    blobs: dict[str, LayerBlob] = {}
    for record in records:
        for index, layer_id in enumerate(record.chain):
            if layer_id not in blobs:
                blob = _layer_blob(services, record.chain, index, None)
                created = store.layer(layer_id).created
                blobs[layer_id] = LayerBlob(
                    blob.descriptor, blob.diff_id, created, blob.path
                )
    return cache_manifest(records, blobs)


def _write_local(dest: Path, cache: CacheManifest, tag: str) -> None:
    try:
        write_cache_layout(dest, cache, tag)
    except OSError as exc:
        raise CacheError(
            f"failed to write the cache to {dest}: {exc.strerror}",
            hint="pass a writable folder as --cache-to type=local,dest=DIR",
        ) from None


def _push_cache(request: BuildRequest, spec: CacheSpec, cache: CacheManifest) -> None:
    from minikit.registry import RegistryClient, load_config

    reference = _reference(spec)
    client = RegistryClient(load_config(request.config_path))
    for blob in cache.blobs:
        digest = blob.descriptor.digest
        if not client.blob_exists(reference, digest):
            client.upload_blob(
                reference,
                digest,
                blob.descriptor.size,
                lambda p=blob.path: open(p, "rb"),
            )
    config = cache.config_descriptor
    if not client.blob_exists(reference, config.digest):
        data = cache.config
        client.upload_blob(
            reference, config.digest, config.size, lambda: io.BytesIO(data)
        )
    client.put_manifest(reference, cache.manifest, OCI_MANIFEST)


# -- flags ----------------------------------------------------------------------


def check_cache_specs(request: BuildRequest) -> None:
    """Reject cache flags that cannot work before the build starts."""
    for spec in request.cache_to:
        _mode(spec)
        if spec.type == "local":
            _attr(spec, "dest")
        elif spec.type == "registry":
            _reference(spec)
    for spec in request.cache_from:
        if spec.type == "registry":
            _reference(spec)
        elif spec.type == "local":
            _attr(spec, "src")


def _mode(spec: CacheSpec) -> str:
    mode = spec.attrs.get("mode", "min")
    if mode not in MODES:
        raise UsageError(
            f"invalid cache mode {mode!r} in --cache-to type={spec.type}",
            hint="use mode=min (the result's layers) or mode=max (every step)",
        )
    if spec.type == "inline" and mode != "min":
        raise UsageError(
            "--cache-to type=inline supports only mode=min",
            hint="use type=registry or type=local for mode=max",
        )
    return mode


def _attr(spec: CacheSpec, key: str) -> str:
    value = spec.attrs.get(key, "")
    if not value:
        flag = "--cache-to" if key == "dest" else "--cache-from"
        raise UsageError(
            f"{flag} type={spec.type} needs {key}=...",
            hint=f"write {flag} type={spec.type},{key}=DIR",
        )
    return value


def _reference(spec: CacheSpec) -> Reference:
    text = spec.attrs.get("ref", "")
    if not text:
        raise UsageError(
            f"cache type={spec.type} needs ref=REF",
            hint="write type=registry,ref=registry.example/app:buildcache",
        )
    return Reference.parse(text)


def _describe(spec: CacheSpec) -> str:
    if spec.type == "local":
        return spec.attrs.get("src") or spec.attrs.get("dest") or "local"
    return spec.attrs.get("ref", spec.type)


def _warn(worker: Worker, message: str) -> None:
    worker.progress.emit(ProgressWarning(message))
