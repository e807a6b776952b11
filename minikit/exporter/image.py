"""Image config and manifest assembly from finished layer blobs."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from minikit.errors import ExportError
from minikit.oci import spec
from minikit.oci.spec import Descriptor, Platform
from minikit.util.digest import canonical_json, sha256_digest

_OCI_TO_DOCKER_LAYER = {
    spec.OCI_LAYER_GZIP: spec.DOCKER_LAYER_GZIP,
    spec.OCI_LAYER: spec.DOCKER_LAYER,
    spec.OCI_LAYER_ZSTD: spec.DOCKER_LAYER_ZSTD,
    spec.OCI_LAYER_NONDIST_GZIP: spec.DOCKER_FOREIGN_LAYER_GZIP,
}
_DOCKER_TO_OCI_LAYER = {docker: oci for oci, docker in _OCI_TO_DOCKER_LAYER.items()}


@dataclass(frozen=True)
class LayerBlob:
    """A layer blob file in the content store, with its descriptor and diff id."""

    path: Path
    descriptor: Descriptor
    diff_id: str


@dataclass(frozen=True)
class BuiltImage:
    """A single-platform image: serialized config and manifest, plus its layer blobs."""

    config_bytes: bytes
    config: Descriptor
    manifest_bytes: bytes
    manifest: Descriptor
    layers: tuple[LayerBlob, ...]

    @property
    def oci_media_types(self) -> bool:
        """Whether the manifest uses OCI media types (False: Docker v2 types)."""
        return self.manifest.media_type == spec.OCI_MANIFEST


def build_image(
    config: dict[str, Any],
    layers: Sequence[LayerBlob],
    *,
    oci_media_types: bool = True,
) -> BuiltImage:
    """Serialize ``config`` and a manifest for ``layers``, bottom layer first.

    ``rootfs`` is replaced by the layers' diff ids. Both documents are canonical
    JSON (sorted keys, no whitespace), so equal input gives equal digests. Media
    types are OCI unless ``oci_media_types`` is False, which selects Docker's v2
    types as BuildKit's ``oci-mediatypes=false`` does. The history entries are
    taken as given: making them match the layers is the caller's job.
    """
    document = copy.deepcopy(config)
    document["rootfs"] = {
        "type": "layers",
        "diff_ids": [layer.diff_id for layer in layers],
    }
    try:
        config_bytes = canonical_json(document)
    except (TypeError, ValueError) as error:
        raise ExportError(f"invalid image config: {error}") from error
    return _assemble(config_bytes, _platform_of(document), layers, oci_media_types)


def with_media_types(image: BuiltImage, *, oci_media_types: bool) -> BuiltImage:
    """Return ``image`` with its manifest rewritten to OCI or Docker v2 media types.

    The config bytes, and so the image id, stay the same.
    """
    if image.oci_media_types == oci_media_types:
        return image
    platform = _platform_of(json.loads(image.config_bytes))
    return _assemble(image.config_bytes, platform, image.layers, oci_media_types)


def _assemble(
    config_bytes: bytes,
    platform: Platform | None,
    layers: Sequence[LayerBlob],
    oci_media_types: bool,
) -> BuiltImage:
    config_type = spec.OCI_CONFIG if oci_media_types else spec.DOCKER_CONFIG
    manifest_type = spec.OCI_MANIFEST if oci_media_types else spec.DOCKER_MANIFEST
    config = Descriptor(config_type, sha256_digest(config_bytes), len(config_bytes))
    converted = tuple(_convert_layer(layer, oci_media_types) for layer in layers)
    manifest_document = {
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": config.to_json(),
        "layers": [layer.descriptor.to_json() for layer in converted],
    }
    manifest_bytes = canonical_json(manifest_document)
    manifest = Descriptor(
        manifest_type,
        sha256_digest(manifest_bytes),
        len(manifest_bytes),
        platform=platform,
    )
    return BuiltImage(config_bytes, config, manifest_bytes, manifest, converted)


def _convert_layer(layer: LayerBlob, oci_media_types: bool) -> LayerBlob:
    table = _DOCKER_TO_OCI_LAYER if oci_media_types else _OCI_TO_DOCKER_LAYER
    media_type = table.get(layer.descriptor.media_type, layer.descriptor.media_type)
    # A layer's platform belongs to the manifest, never to its layer descriptors.
    descriptor = replace(layer.descriptor, media_type=media_type, platform=None)
    return replace(layer, descriptor=descriptor)


def _platform_of(config: dict[str, Any]) -> Platform | None:
    if not config.get("os") or not config.get("architecture"):
        return None
    return Platform.from_json(config)
