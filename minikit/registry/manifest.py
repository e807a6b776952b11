"""Manifest parsing, digest checks and platform selection from an index."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from minikit.errors import ImageNotFound
from minikit.oci.spec import (
    DOCKER_MANIFEST_LIST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Platform,
)

# Every manifest and index type minikit can use, for the Accept header.
ACCEPTED_MANIFEST_TYPES = (*MANIFEST_TYPES, *INDEX_TYPES)
_DIGEST_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}


class PlatformNotFound(ImageNotFound):
    """An index that has no manifest for the requested platform."""


class InvalidManifest(ValueError):
    """Manifest bytes that are not a usable manifest or index; the text explains why."""


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    """Return ``algorithm:hex`` of ``data``."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def digest_algorithm(digest: str) -> str:
    """Return the algorithm of ``digest``; raise InvalidManifest if unsupported."""
    algorithm, _, encoded = digest.partition(":")
    expected_length = _DIGEST_ALGORITHMS.get(algorithm)
    if expected_length is None or len(encoded) != expected_length:
        raise InvalidManifest(f"unsupported digest {digest!r}")
    return algorithm


def matches_digest(data: bytes, digest: str) -> bool:
    """Tell whether ``data`` has the content digest ``digest``."""
    return compute_digest(data, digest_algorithm(digest)) == digest


def parse_manifest(data: bytes, content_type: str | None) -> tuple[dict[str, Any], str]:
    """Parse manifest JSON and return it with its media type.

    The media type comes from the Content-Type header when that names a
    manifest type, else from the document's ``mediaType`` field, else from
    its shape (``manifests`` means an index). Raise InvalidManifest for
    other documents, Docker's schema 1 among them.
    """
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidManifest(f"the manifest is not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise InvalidManifest("the manifest is not a JSON object")
    media_type = _media_type(document, content_type)
    if media_type not in ACCEPTED_MANIFEST_TYPES:
        raise InvalidManifest(f"unsupported manifest media type {media_type!r}")
    key = "manifests" if media_type in INDEX_TYPES else "layers"
    if not isinstance(document.get(key), list):
        raise InvalidManifest(f"the {media_type} document has no {key} list")
    if media_type in MANIFEST_TYPES and not isinstance(document.get("config"), dict):
        raise InvalidManifest("the manifest has no config descriptor")
    return document, media_type


def _media_type(document: dict[str, Any], content_type: str | None) -> str:
    header = (content_type or "").split(";", 1)[0].strip()
    if header in ACCEPTED_MANIFEST_TYPES:
        return header
    declared = document.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if document.get("schemaVersion") == 1:
        return "application/vnd.docker.distribution.manifest.v1+json"
    return OCI_INDEX if "manifests" in document else OCI_MANIFEST


def layer_descriptors(manifest: dict[str, Any]) -> tuple[Descriptor, ...]:
    """Return the layer descriptors of an image manifest, in order."""
    return tuple(Descriptor.from_json(layer) for layer in manifest["layers"])


def config_descriptor(manifest: dict[str, Any]) -> Descriptor:
    """Return the config descriptor of an image manifest."""
    return Descriptor.from_json(manifest["config"])


def index_platforms(index: dict[str, Any]) -> list[str]:
    """Return the platforms of an index's image entries, as ``os/arch[/variant]``."""
    found = []
    for entry in index["manifests"]:
        platform = entry.get("platform")
        if isinstance(platform, dict):
            found.append(str(Platform.from_json(platform)))
    return found


def select_platform(
    index: dict[str, Any], requested: Platform, subject: str
) -> Descriptor:
    """Return the index entry for ``requested``; raise PlatformNotFound if none fits.

    An entry whose variant equals the requested one wins over an entry that
    matches only because one side leaves the variant out. ``linux/arm64``
    thereby takes a ``v8`` entry or one without a variant.
    """
    requested = _normalized(requested)
    candidates: list[tuple[int, int, dict[str, Any]]] = []
    for entry in index["manifests"]:
        platform = entry.get("platform")
        media_type = entry.get("mediaType", "")
        if not isinstance(platform, dict) or media_type not in ACCEPTED_MANIFEST_TYPES:
            continue
        offered = _normalized(Platform.from_json(platform))
        if requested.matches(offered):
            exact = offered.variant == requested.variant
            candidates.append((0 if exact else 1, len(candidates), entry))
    if not candidates:
        available = ", ".join(index_platforms(index)) or "none"
        raise PlatformNotFound(
            f"{subject}: no match for platform {requested} "
            f"(the index has: {available})",
            hint="pick one of the listed platforms with --platform, or a "
            "single-platform tag",
        )
    return Descriptor.from_json(min(candidates, key=lambda c: c[:2])[2])


def _normalized(platform: Platform) -> Platform:
    # BuildKit and containerd treat arm64 without a variant as arm64/v8.
    if platform.architecture == "arm64" and platform.variant == "v8":
        return Platform(platform.os, platform.architecture, "")
    return platform


def is_index(media_type: str) -> bool:
    """Tell whether ``media_type`` is an OCI index or a Docker manifest list."""
    return media_type in (OCI_INDEX, DOCKER_MANIFEST_LIST)
