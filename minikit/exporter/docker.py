"""The ``docker`` exporter: a tar that ``docker load`` accepts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from minikit.exporter.image import BuiltImage, with_media_types
from minikit.exporter.layout import (
    OCI_LAYOUT_BYTES,
    OCI_LAYOUT_FILE,
    blob_name,
    index_bytes,
    parse_names,
    write_layout,
)
from minikit.exporter.output import TarSink, open_output
from minikit.oci.reference import Reference
from minikit.util.digest import canonical_json, hex_of

logger = logging.getLogger(__name__)


def export_docker_archive(
    image: BuiltImage, dest: Path | BinaryIO, *, names: Sequence[str] = ()
) -> None:
    """Write ``image`` as a ``docker load`` tar to ``dest`` (a path or a stream).

    The tar contains ``manifest.json`` (``Config``, ``RepoTags``, ``Layers``) for every
    Docker version and, as ``docker save`` writes since Docker 25, an OCI layout
    (``index.json``, ``oci-layout``, ``blobs/sha256/``) whose manifest uses Docker
    v2 media types. ``repositories`` is added for old loaders when a name has a
    tag. A name given only by digest cannot be a Docker tag and is left out of
    ``RepoTags``. Raises ExportError.
    """
    image = with_media_types(image, oci_media_types=False)
    references = parse_names(names)
    files = {
        "index.json": index_bytes(image, references),
        "manifest.json": _manifest_json(image, references),
        OCI_LAYOUT_FILE: OCI_LAYOUT_BYTES,
    }
    repositories = _repositories(image, references)
    if repositories is not None:
        files["repositories"] = repositories
    with open_output(dest) as out:
        sink = TarSink(out)
        write_layout(sink, image, files)
        sink.close()


def _repo_tags(references: Sequence[Reference]) -> list[tuple[str, str]]:
    """Return ``(familiar repository, tag)`` for each tagged name, in order."""
    tags = []
    for reference in references:
        if reference.tag is None:
            logger.info("leaving %s out of RepoTags: it has no tag", reference)
            continue
        untagged = Reference(reference.domain, reference.path)
        tags.append((untagged.familiar(), reference.tag))
    return tags


def _manifest_json(image: BuiltImage, references: Sequence[Reference]) -> bytes:
    entry = {
        "Config": blob_name(image.config.digest),
        "RepoTags": [f"{repo}:{tag}" for repo, tag in _repo_tags(references)],
        "Layers": [blob_name(layer.descriptor.digest) for layer in image.layers],
    }
    return canonical_json([entry])


def _repositories(image: BuiltImage, references: Sequence[Reference]) -> bytes | None:
    tags = _repo_tags(references)
    if not tags or not image.layers:
        return None
    # NOTE: legacy loaders expect a v1 layer folder named by this id, but
    # minikit writes none, so they cannot load the image. Current loaders read
    # manifest.json and ignore this file.
    top_layer = hex_of(image.layers[-1].descriptor.digest)
    document: dict[str, dict[str, str]] = {}
    for repo, tag in tags:
        document.setdefault(repo, {})[tag] = top_layer
    return canonical_json(document)
