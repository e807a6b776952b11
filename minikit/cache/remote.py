"""Cache records shared between machines, in BuildKit's cache manifest format.

An exported cache is an OCI image manifest whose config blob has the media
type ``application/vnd.buildkit.cacheconfig.v0`` and whose layers are the
layer blobs the records need. The cache config lists:

``layers``   one entry per (blob, parent) pair: the blob digest, the index of
             the layer below it (-1 for none) and annotations (diff id,
             creation time);
``records``  one entry per cache key: ``digest`` is the key, ``layers``
             names the top layer of the result's chain, and ``inputs`` links
             to the records of the step's inputs.

Importing reads the records into a map from key to layer chain; a chain is
fetched and unpacked into the store only when the solver asks for its key.
The same config, base64-encoded, is what ``type=inline`` puts into the image
config under ``moby.buildkit.cache.v0``.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import os
import secrets as _random
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from minikit.cache.store import Store, remove_tree
from minikit.errors import CacheError, MinikitError
from minikit.oci.spec import ANNOTATION_REF_NAME, OCI_INDEX, OCI_MANIFEST, Descriptor
from minikit.util.digest import canonical_json, hex_of, sha256_digest

log = logging.getLogger(__name__)

CACHE_CONFIG_MEDIA_TYPE = "application/vnd.buildkit.cacheconfig.v0"
INLINE_CACHE_KEY = "moby.buildkit.cache.v0"
ANNOTATION_DIFF_ID = "containerd.io/uncompressed"
ANNOTATION_CREATED = "buildkit/createdat"
DEFAULT_TAG = "latest"
# Layer blobs fetched at once when a cache record is imported.
PARALLEL_FETCHES = 4

StatusCallback = Callable[[str, int, int | None, bool], None]


@dataclass(frozen=True)
class ExportRecord:
    """One cache key to export, the keys of its inputs, and its layer chain."""

    key: str
    input_keys: tuple[str, ...]
    chain: tuple[str, ...]


@dataclass(frozen=True)
class LayerBlob:
    """The blob of a stored layer, as the export needs it."""

    descriptor: Descriptor
    diff_id: str
    created: float
    path: Path


@dataclass(frozen=True)
class CacheManifest:
    """An exported cache: manifest and config bytes, and the blobs they name."""

    manifest: bytes
    config: bytes
    blobs: tuple[LayerBlob, ...]

    @property
    def digest(self) -> str:
        """Return the digest of the manifest."""
        return sha256_digest(self.manifest)

    @property
    def config_descriptor(self) -> Descriptor:
        """Return the descriptor of the cache config blob."""
        return Descriptor(
            CACHE_CONFIG_MEDIA_TYPE, sha256_digest(self.config), len(self.config)
        )


class BlobFetcher(Protocol):
    """Where an imported cache's blobs come from (a folder or a registry)."""

    def fetch(
        self,
        descriptor: Descriptor,
        dest: Path,
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        """Write the blob to ``dest``; raise MinikitError unless its digest matches."""


# -- export ---------------------------------------------------------------------


def select_records(
    records: Sequence[ExportRecord], head_chain: tuple[str, ...], mode: str
) -> list[ExportRecord]:
    """Return the records a ``mode`` export holds, without duplicates.

    ``max`` keeps every record with layers. ``min`` keeps those whose chain
    is the start of the result's chain: the steps whose layers the image has.
    """
    chosen: dict[str, ExportRecord] = {}
    for record in records:
        if not record.chain or record.key in chosen:
            continue
        if mode == "max" or head_chain[: len(record.chain)] == record.chain:
            chosen[record.key] = record
    return list(chosen.values())


def cache_config(
    records: Sequence[ExportRecord], blobs: Mapping[str, LayerBlob]
) -> dict[str, Any]:
    """Return the cache config of ``records``; ``blobs`` maps layer id to blob."""
    layers: list[dict[str, Any]] = []
    indexes: dict[tuple[str, int], int] = {}

    def top_of(chain: tuple[str, ...]) -> int:
        parent = -1
        for layer_id in chain:
            blob = blobs[layer_id]
            slot = (blob.descriptor.digest, parent)
            if slot not in indexes:
                indexes[slot] = len(layers)
                layers.append(_layer_entry(blob, parent))
            parent = indexes[slot]
        return parent

    positions = {record.key: number for number, record in enumerate(records)}
    entries = []
    for record in records:
        created = _rfc3339(blobs[record.chain[-1]].created)
        entry: dict[str, Any] = {
            "digest": record.key,
            "layers": [{"layer": top_of(record.chain), "createdAt": created}],
        }
        inputs = [
            [{"selector": "", "link": positions[key]}] if key in positions else []
            for key in record.input_keys
        ]
        if any(inputs):
            entry["inputs"] = inputs
        entries.append(entry)
    return {"layers": layers, "records": entries}


def _layer_entry(blob: LayerBlob, parent: int) -> dict[str, Any]:
    annotations = {
        "createdAt": _rfc3339(blob.created),
        "mediaType": blob.descriptor.media_type,
    }
    if blob.diff_id:
        annotations["diffID"] = blob.diff_id
    annotations["size"] = blob.descriptor.size
    return {
        "blob": blob.descriptor.digest,
        "parent": parent,
        "annotations": annotations,
    }


def _rfc3339(moment: float) -> str:
    stamp = datetime.datetime.fromtimestamp(moment, tz=datetime.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cache_manifest(
    records: Sequence[ExportRecord], blobs: Mapping[str, LayerBlob]
) -> CacheManifest:
    """Return the OCI image manifest of an export of ``records``."""
    config = canonical_json(cache_config(records, blobs))
    used: dict[str, LayerBlob] = {}
    for record in records:
        for layer_id in record.chain:
            used.setdefault(blobs[layer_id].descriptor.digest, blobs[layer_id])
    layers = [_manifest_layer(blob) for blob in used.values()]
    config_descriptor = Descriptor(
        CACHE_CONFIG_MEDIA_TYPE, sha256_digest(config), len(config)
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_descriptor.to_json(),
        "layers": layers,
    }
    return CacheManifest(canonical_json(manifest), config, tuple(used.values()))


def _manifest_layer(blob: LayerBlob) -> dict[str, Any]:
    annotations = {ANNOTATION_CREATED: _rfc3339(blob.created)}
    if blob.diff_id:
        annotations[ANNOTATION_DIFF_ID] = blob.diff_id
    out = blob.descriptor.to_json()
    out["annotations"] = annotations
    return out


def inline_cache_value(
    records: Sequence[ExportRecord], blobs: Mapping[str, LayerBlob]
) -> str:
    """Return the ``moby.buildkit.cache.v0`` value for an image config."""
    config = canonical_json(cache_config(records, blobs))
    return base64.b64encode(config).decode("ascii")


def write_cache_layout(
    dest: Path, cache: CacheManifest, tag: str = DEFAULT_TAG
) -> None:
    """Write ``cache`` into the OCI layout folder ``dest`` under ``tag``.

    Blobs already in the folder are kept. Every file is written under a
    temporary name and renamed into place, and ``index.json`` goes last, so
    a reader never sees a manifest whose blobs are missing.
    """
    blobs_dir = dest / "blobs" / "sha256"
    blobs_dir.mkdir(parents=True, exist_ok=True)
    for blob in cache.blobs:
        _place(
            blobs_dir / hex_of(blob.descriptor.digest),
            lambda out, b=blob: _copy_into(b.path, out),
        )
    for data in (cache.config, cache.manifest):
        _place(
            blobs_dir / hex_of(sha256_digest(data)), lambda out, d=data: out.write(d)
        )
    _place(
        dest / "oci-layout",
        lambda out: out.write(b'{"imageLayoutVersion":"1.0.0"}'),
        replace=True,
    )
    index = _updated_index(dest / "index.json", cache, tag)
    _place(
        dest / "index.json", lambda out: out.write(canonical_json(index)), replace=True
    )


def _updated_index(path: Path, cache: CacheManifest, tag: str) -> dict[str, Any]:
    try:
        index = json.loads(path.read_bytes())
    except (OSError, ValueError):
        index = {}
    kept = [
        entry
        for entry in index.get("manifests") or []
        if (entry.get("annotations") or {}).get(ANNOTATION_REF_NAME) != tag
    ]
    entry = Descriptor(OCI_MANIFEST, cache.digest, len(cache.manifest)).to_json()
    entry["annotations"] = {ANNOTATION_REF_NAME: tag}
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [*kept, entry]}


def _place(final: Path, write: Callable[[Any], Any], replace: bool = False) -> None:
    if final.exists() and not replace:
        return
    staged = final.with_name(f".{final.name}.{os.getpid()}-{_random.token_hex(4)}")
    try:
        with open(staged, "wb") as out:
            write(out)
        os.replace(staged, final)
    finally:
        if staged.exists():
            staged.unlink()


def _copy_into(source: Path, out: Any) -> None:
    with open(source, "rb") as handle:
        shutil.copyfileobj(handle, out, 1 << 20)


# -- import ---------------------------------------------------------------------


@dataclass(frozen=True)
class LayerRef:
    """A layer of an imported chain: its blob descriptor and diff id."""

    descriptor: Descriptor
    diff_id: str = ""


def parse_cache_config(
    config: Mapping[str, Any], descriptors: Mapping[str, Descriptor]
) -> dict[str, tuple[LayerRef, ...]]:
    """Return key -> layer chain (bottom first) for every usable record.

    ``descriptors`` maps blob digests to the descriptors the manifest gives.
    Records without layers, or naming blobs the manifest lacks, are left out.
    """
    layers = config.get("layers") or []
    chains: dict[str, tuple[LayerRef, ...]] = {}
    for record in config.get("records") or []:
        results = record.get("layers") or []
        key = record.get("digest")
        if not results or not isinstance(key, str):
            continue
        chain = _chain_of(layers, results[0].get("layer", -1), descriptors)
        if chain:
            chains[key] = chain
    return chains


def _chain_of(
    layers: list[dict[str, Any]], top: int, descriptors: Mapping[str, Descriptor]
) -> tuple[LayerRef, ...]:
    refs: list[LayerRef] = []
    index = top
    while 0 <= index < len(layers) and len(refs) <= len(layers):
        entry = layers[index]
        descriptor = descriptors.get(entry.get("blob", ""))
        if descriptor is None:
            return ()
        diff_id = (entry.get("annotations") or {}).get("diffID", "")
        refs.append(LayerRef(descriptor, diff_id))
        index = entry.get("parent", 0)
        if index == -1:
            return tuple(reversed(refs))
    return ()


def parse_inline_cache(
    image_config: Mapping[str, Any], layers: Sequence[Descriptor]
) -> dict[str, tuple[LayerRef, ...]]:
    """Return the records of an image config's inline cache (empty without one)."""
    value = image_config.get(INLINE_CACHE_KEY)
    if not isinstance(value, str):
        return {}
    try:
        config = json.loads(base64.b64decode(value))
    except ValueError:
        log.warning("ignoring an inline cache that is not valid base64 JSON")
        return {}
    return parse_cache_config(config, {layer.digest: layer for layer in layers})


class LayoutBlobs:
    """Blobs of an OCI layout folder (``--cache-from type=local,src=DIR``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, digest: str) -> bytes:
        """Return a small blob (a manifest or config) of the layout."""
        path = self._path(digest)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CacheError(
                f"failed to read cache blob {digest} from {self.root}: {exc.strerror}",
                hint="export the cache again with --cache-to type=local,dest=DIR",
            ) from None
        if sha256_digest(data) != digest:
            raise CacheError(f"cache blob {digest} in {self.root} is corrupt")
        return data

    def fetch(
        self,
        descriptor: Descriptor,
        dest: Path,
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        """Copy a blob of the layout to ``dest``, checking its digest."""
        import hashlib

        hasher = hashlib.sha256()
        done = 0
        try:
            with (
                open(self._path(descriptor.digest), "rb") as src,
                open(dest, "wb") as out,
            ):
                while chunk := src.read(1 << 20):
                    hasher.update(chunk)
                    out.write(chunk)
                    done += len(chunk)
                    if on_progress is not None:
                        on_progress(done, descriptor.size)
        except OSError as exc:
            raise CacheError(
                f"failed to read cache blob {descriptor.digest} from {self.root}: "
                f"{exc.strerror}"
            ) from None
        if "sha256:" + hasher.hexdigest() != descriptor.digest:
            raise CacheError(
                f"cache blob {descriptor.digest} in {self.root} is corrupt"
            )

    def _path(self, digest: str) -> Path:
        try:
            return self.root / "blobs" / "sha256" / hex_of(digest)
        except ValueError as exc:
            raise CacheError(
                f"invalid blob digest in the cache at {self.root}: {exc}"
            ) from None


def read_layout_manifest(
    root: Path, tag: str = DEFAULT_TAG, digest: str = ""
) -> tuple[dict[str, Any], LayoutBlobs]:
    """Return the cache manifest of layout ``root`` (by ``digest``, else by ``tag``)."""
    blobs = LayoutBlobs(root)
    try:
        index = json.loads((root / "index.json").read_bytes())
    except (OSError, ValueError) as exc:
        raise CacheError(
            f"failed to read the cache index {root / 'index.json'}: {exc}",
            hint="pass a folder written by --cache-to type=local,dest=DIR",
        ) from None
    if not digest:
        for entry in index.get("manifests") or []:
            if (entry.get("annotations") or {}).get(ANNOTATION_REF_NAME) == tag:
                digest = entry.get("digest", "")
    if not digest:
        raise CacheError(
            f"the cache at {root} has no manifest tagged {tag!r}",
            hint="name the tag the cache was exported with: tag=NAME",
        )
    return json.loads(blobs.read(digest)), blobs


def records_of_manifest(
    manifest: Mapping[str, Any], read_blob: Callable[[Descriptor], bytes]
) -> dict[str, tuple[LayerRef, ...]]:
    """Return the records a cache manifest or cache index holds.

    Accepts an image manifest whose config is a cache config (BuildKit's
    default), an index listing the layers and the config (``image-manifest=
    false``), and an image with an inline cache in its config.
    """
    if "manifests" in manifest:
        entries = [Descriptor.from_json(e) for e in manifest.get("manifests") or []]
        config = next(
            (d for d in entries if d.media_type == CACHE_CONFIG_MEDIA_TYPE), None
        )
        layers = [d for d in entries if d.media_type != CACHE_CONFIG_MEDIA_TYPE]
    else:
        config = Descriptor.from_json(manifest["config"])
        layers = [Descriptor.from_json(e) for e in manifest.get("layers") or []]
    if config is None:
        return {}
    data = json.loads(read_blob(config))
    if config.media_type == CACHE_CONFIG_MEDIA_TYPE:
        return parse_cache_config(data, {layer.digest: layer for layer in layers})
    return parse_inline_cache(data, layers)


class LayerImporter:
    """Brings layer blobs from elsewhere into the store as layers.

    A layer is keyed by its blob digest (origin ``pull:<digest>``), so a blob
    that an image pull or an earlier import already unpacked is reused.
    """

    def __init__(
        self,
        store: Store,
        fetcher: BlobFetcher,
        apply_layer: Callable[[Path, str, Path], None],
        on_status: StatusCallback | None = None,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.apply_layer = apply_layer
        self.on_status = on_status
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def import_chain(self, refs: Sequence[LayerRef]) -> tuple[str, ...]:
        """Return the layer ids of ``refs``, fetching and unpacking what is missing."""
        with futures.ThreadPoolExecutor(max_workers=PARALLEL_FETCHES) as pool:
            return tuple(pool.map(self._layer, refs))

    def _layer(self, ref: LayerRef) -> str:
        digest = ref.descriptor.digest
        origin = "pull:" + digest
        with self._guard:
            lock = self._locks.setdefault(digest, threading.Lock())
        with lock:
            existing = self.store.find_layer_by_origin(origin)
            if existing is not None:
                return existing
            blob = self._blob(ref.descriptor)
            staged = self.store.make_temp_dir("import-layer-")
            try:
                target = staged / "diff"
                target.mkdir()
                self.apply_layer(blob, ref.descriptor.media_type, target)
                layer_id = self.store.commit_layer(
                    target, origin=origin, size=ref.descriptor.size
                )
            finally:
                remove_tree(staged)
            self.store.set_layer_blob(
                layer_id,
                diff_id=ref.diff_id,
                blob_digest=digest,
                blob_size=ref.descriptor.size,
                media_type=ref.descriptor.media_type,
            )
            return layer_id

    def _blob(self, descriptor: Descriptor) -> Path:
        if self.store.has_blob(descriptor.digest):
            return self.store.blob_path(descriptor.digest)
        staged = self.store.tmp_dir / f"{os.getpid()}-import-{_random.token_hex(6)}"

        def progress(done: int, total: int | None) -> None:
            if self.on_status is not None:
                self.on_status(descriptor.digest, done, total, False)

        try:
            self.fetcher.fetch(descriptor, staged, progress)
        except BaseException:
            if staged.exists():
                staged.unlink()
            raise
        if self.on_status is not None:
            self.on_status(descriptor.digest, descriptor.size, descriptor.size, True)
        return self.store.commit_blob(
            staged, descriptor.digest, descriptor.size, descriptor.media_type
        )


class RemoteCache:
    """An imported cache that the solver asks on a miss (a ``CacheImporter``).

    ``load`` fetches the chain's blobs that the store lacks, unpacks them as
    layers and returns the chain. A blob that cannot be fetched makes the key
    a miss, with a warning.
    """

    def __init__(
        self,
        name: str,
        store: Store,
        records: Mapping[str, tuple[LayerRef, ...]],
        fetcher: BlobFetcher,
        apply_layer: Callable[[Path, str, Path], None],
        *,
        on_status: StatusCallback | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.records = dict(records)
        self.importer = LayerImporter(store, fetcher, apply_layer, on_status)
        self.on_warning = on_warning

    def load(self, cache_key: str) -> tuple[str, ...] | None:
        """Return the chain of ``cache_key`` with every layer in the store."""
        refs = self.records.get(cache_key)
        if refs is None:
            return None
        try:
            return self.importer.import_chain(refs)
        except (MinikitError, OSError) as exc:
            message = f"failed to import a cache record from {self.name}: {exc}"
            log.warning("%s", message)
            if self.on_warning is not None:
                self.on_warning(message)
            return None
