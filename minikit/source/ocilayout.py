"""``oci-layout://PATH[:TAG|@DIGEST]`` sources: an image in an OCI layout folder.

As for registry images, the source is pinned first and fetched second. The
frontend resolves the reference to a manifest digest and reads the image
config (``resolve_layout``). The source op then names the layout by that
digest, ``oci-layout://PATH@sha256:...``, so the cache key follows the
content and not a tag. ``pull_layout`` unpacks the layers into the store,
sharing them by blob digest with registry pulls and imported caches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minikit.cache.remote import LayerImporter, LayerRef, LayoutBlobs
from minikit.cache.store import Store
from minikit.errors import CacheError, SolveError
from minikit.oci.spec import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    Descriptor,
    Platform,
)

OCI_LAYOUT_SCHEME = "oci-layout://"


@dataclass(frozen=True)
class LayoutRef:
    """A folder and the tag or digest that picks an image in its ``index.json``."""

    path: Path
    tag: str = ""
    digest: str = ""

    @classmethod
    def parse(cls, text: str) -> LayoutRef:
        """Parse ``[oci-layout://]PATH[:TAG|@DIGEST]``."""
        text = text.removeprefix(OCI_LAYOUT_SCHEME)
        if "@" in text:
            path, digest = text.rsplit("@", 1)
            return cls(Path(path), digest=digest)
        head, sep, tail = text.rpartition(":")
        if sep and head and "/" not in tail:
            return cls(Path(head), tag=tail)
        return cls(Path(text))

    def __str__(self) -> str:
        if self.digest:
            return f"{OCI_LAYOUT_SCHEME}{self.path}@{self.digest}"
        suffix = f":{self.tag}" if self.tag else ""
        return f"{OCI_LAYOUT_SCHEME}{self.path}{suffix}"


@dataclass(frozen=True)
class LayoutImage:
    """A resolved layout image: where it is, its manifest digest, config, layers."""

    ref: LayoutRef
    manifest_digest: str
    config: dict[str, Any]
    layers: tuple[Descriptor, ...]

    @property
    def pinned(self) -> LayoutRef:
        """Return the reference by manifest digest, the identity of the source."""
        return LayoutRef(self.ref.path, digest=self.manifest_digest)

    @property
    def diff_ids(self) -> tuple[str, ...]:
        """Return the config's diff ids, one per layer."""
        return tuple((self.config.get("rootfs") or {}).get("diff_ids") or ())


def resolve_layout(text: str, platform: Platform) -> LayoutImage:
    """Pin ``text`` (``PATH[:TAG|@DIGEST]``) to one image for ``platform``."""
    ref = LayoutRef.parse(text)
    blobs = LayoutBlobs(ref.path)
    try:
        digest = ref.digest or _digest_for_tag(ref)
        manifest = json.loads(blobs.read(digest))
        if "manifests" in manifest:
            from minikit.registry.manifest import select_platform

            digest = select_platform(manifest, platform, str(ref)).digest
            manifest = json.loads(blobs.read(digest))
        config = json.loads(blobs.read(manifest["config"]["digest"]))
        layers = tuple(Descriptor.from_json(d) for d in manifest.get("layers") or ())
    except (CacheError, ValueError, KeyError, TypeError) as exc:
        raise SolveError(
            f"failed to read the image {ref}: {exc}",
            hint="pass an OCI image layout folder (with index.json and blobs/)",
        ) from None
    return LayoutImage(ref, digest, config, layers)


def _digest_for_tag(ref: LayoutRef) -> str:
    try:
        index = json.loads((ref.path / "index.json").read_bytes())
    except OSError as exc:
        raise CacheError(
            f"cannot read {ref.path / 'index.json'}: {exc.strerror}"
        ) from None
    entries = index.get("manifests") or []
    if not ref.tag:
        if len(entries) == 1:
            return entries[0]["digest"]
        raise CacheError(
            f"the layout contains {len(entries)} images, so name one with :TAG or @DIGEST"
        )
    for entry in entries:
        annotations = entry.get("annotations") or {}
        names = (
            annotations.get(ANNOTATION_REF_NAME, ""),
            annotations.get(ANNOTATION_IMAGE_NAME, "").rpartition(":")[2],
        )
        if ref.tag in names:
            return entry["digest"]
    raise CacheError(f"no image tagged {ref.tag!r} in {ref.path / 'index.json'}")


def pull_layout(
    image: LayoutImage,
    store: Store,
    apply_layer: Callable[[Path, str, Path], None],
    on_status: Callable[[str, int, int | None, bool], None] | None = None,
) -> tuple[str, ...]:
    """Unpack the layers of ``image`` into the store; return the chain."""
    diff_ids = image.diff_ids
    refs = [
        LayerRef(layer, diff_ids[index] if index < len(diff_ids) else "")
        for index, layer in enumerate(image.layers)
    ]
    importer = LayerImporter(store, LayoutBlobs(image.ref.path), apply_layer, on_status)
    try:
        return importer.import_chain(refs)
    except CacheError as exc:
        raise SolveError(f"failed to load {image.pinned}: {exc}") from None
